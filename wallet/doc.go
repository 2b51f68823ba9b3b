// Package wallet is the hot wallet's side of Icebox: it reads what the
// online wallet knows (UTXO lists, account nonces and balances — from JSON
// files or a node's RPC), builds unsigned transactions for sweeps and
// withdrawals from the signer's watch-only manifest, and wraps them in a
// request bundle. It trusts its own inputs more than the signer does, but
// everything it builds is parsed again, strictly, by the signer.
package wallet
