// Package eth is the Ethereum adapter and the only package that imports
// go-ethereum; its exported API uses plain Go types only.
//
// Intake (Adapter.Parse): an untrusted payload — the binary envelope
// RLP [from (20 bytes), unsignedTx] or the JSON form, both specified in
// docs/eth-tx-json.md — is size-capped before decoding, then decoded strictly:
// EIP-155 legacy, EIP-2930 and EIP-1559 only (pre-EIP-155 legacy, blob and
// set-code transactions refused), canonical RLP, no trailing bytes, chain id
// equal to the configured network, a recipient (no contract creation), and a
// sender that is the address of one of Config.Keys. ERC-20 transfer,
// transferFrom and approve calldata is decoded into token movements; other
// calldata is a contract call for the policy to judge.
//
// Signing: Tx.SigningItems has exactly one item (our key, the signing hash).
// Tx.Attach normalises the HSM signature to low-S, finds v by trial recovery
// against the sender (the recovery is the verification: one or two curve
// operations per signature, no more), builds the signed transaction, checks
// a strict re-decode carries the same signing hash and (v, r, s), and
// returns the raw signed bytes.
// Nothing is returned, and the Tx is unchanged, on any failure.
//
// Online side: EncodeUnsigned, ParseJSON, EncodeJSON, Adapter.BuildTransfer,
// Adapter.BuildTokenTransfer build payloads; Adapter.DecodeSigned decodes a
// signed transaction for the final double check before broadcast.
//
// Errors: every refusal is a *FieldError naming the field and wrapping one
// sentinel from errors.go (errors.Is / errors.As).
package eth
