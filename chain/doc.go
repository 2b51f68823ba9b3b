// Package chain owns the chain-neutral view of a transaction that the policy
// engine, the officer review and the audit log read: networks, assets,
// inputs, outputs, fees, nonces and token movements, all in integer base
// units. It also defines the Adapter seam that chain/btc and chain/eth
// implement, and SignBatch, which fans the signing of a whole batch out over
// an hsm.Signer and returns all signed transactions or none.
//
// Everything in a Summary is decoded from the transaction bytes by an
// adapter; nothing comes from what a request claims. Ownership of an input
// or output ("ours", "change") is decided by comparing scripts/addresses
// derived from the keys in the signer's manifest, never from PSBT hints.
package chain
