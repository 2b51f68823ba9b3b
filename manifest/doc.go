// Package manifest owns the watch-only key manifest: the list of the
// signer's HSM keys (label, CKA_ID, compressed public key, chain family,
// network, address) signed by the signer's identity key, which the hot
// wallet imports to know which addresses belong to the cold signer.
//
// Encoding (the only one; see Encode): a JSON object with a fixed field
// order and no insignificant whitespace, followed by one "\n":
//
//	{"version":1,"signer":"<alg>:<hex>","signer_fingerprint":"<fp>",
//	 "created":"<RFC 3339 UTC, seconds>","entries":[{"label":..,"key_id":..,
//	 "public_key":..,"chain":..,"network":..,"address":..},...],
//	 "signature":"<hex>"}
//
// Entries are sorted by network, then label, then key_id; strings are
// escaped as encoding/json escapes them. The signature is made by the
// identity key over Digest = SHA-256("icebox/manifest/v1" || 0x00 || body),
// where body is the same encoding without the "signature" member and
// without the trailing newline.
//
// Parse is for outside input: it caps the size before parsing, refuses
// unknown fields, trailing bytes and anything that is not byte-for-byte the
// canonical encoding (which also refuses duplicate keys), and validates
// every field. Verify additionally checks the signer's fingerprint against
// the one the caller pinned and the signature.
//
// This package is pure: it derives no addresses (that needs btcd /
// go-ethereum, see chain/btc and chain/eth). Callers pass addresses in when
// building, and CheckAddresses re-derives them with a caller-supplied
// function when verifying.
package manifest
