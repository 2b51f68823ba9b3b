// Package sigkey owns the small signature vocabulary shared by every party
// that signs something Icebox verifies outside the HSM's secp256k1 world:
// requesters, custody officers, admins and the signer's own identity key.
//
// Two algorithms exist: Ed25519 (message signed as is) and ECDSA P-256 over
// SHA-256(message) with a raw 64-byte r||s signature (what a PKCS#11 token
// returns for CKM_ECDSA). Verification is pure Go and needs no HSM.
//
// A PublicKey's zero value is invalid: Verify on it always fails.
package sigkey
