// Package btc is the Bitcoin adapter and the only package that imports btcd.
// It parses untrusted PSBTs (v0 and v2), decodes them into chain.Summary,
// lists the sighashes our HSM keys must sign, attaches and verifies
// signatures with btcd's script engine, and derives addresses.
package btc
