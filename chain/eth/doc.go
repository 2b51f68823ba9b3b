// Package eth is the Ethereum adapter and the only package that imports
// go-ethereum. It parses untrusted unsigned transactions (EIP-155 legacy,
// EIP-2930, EIP-1559), decodes ERC-20 calldata into token movements, lists
// the signing hash for our HSM key, finds the recovery id and verifies the
// sender before returning a signed transaction. It also derives addresses.
package eth
