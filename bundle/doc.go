// Package bundle owns what crosses the air gap: request, approval, response
// and refusal types, their one deterministic encoding, their domain-separated
// digests and the size caps enforced before any decoding. It imports only the
// standard library, sigkey and the CBOR codec (fxamacker/cbor).
//
// # Encoding
//
// A bundle is the CBOR data item tag(0x1CEB00+type) wrapping a map with small
// integer keys, encoded deterministically (RFC 8949 §4.2: shortest integers
// and lengths, map keys sorted bytewise, no indefinite lengths). The type
// byte is 1 request, 2 detached approval, 3 response, so the first five
// bytes of a file (da 00 1c eb 0T) say what it is (Sniff) and a request is
// never mistaken for a response. docs/bundle-format.md lists every field.
//
// # Building versus decoding
//
// Values this process builds are encoded with EncodeRequest, EncodeApproval
// and EncodeResponse, which Validate first. Bytes from outside go through
// DecodeRequest, DecodeApproval, DecodeResponse (or Decode, which sniffs):
// they check len(data) against Limits before reading a byte, then the tag,
// the version (only Version), a strict CBOR decode (unknown fields,
// duplicate keys, trailing bytes, tags inside the body refused), field rules,
// and finally that re-encoding the decoded value reproduces the input
// exactly, so only the canonical encoding is accepted. Every error is a
// *FieldError naming the field ("request.transactions[3].network") and
// wrapping one of the Err* sentinels. Decoding verifies no signature.
//
// # Digests and signatures
//
// RequestDigest is SHA-256("icebox/request/v1" || encoding without
// RequesterSig and Approvals); ResponseDigest is SHA-256("icebox/response/v1"
// || encoding without SignerSig). The requester signs the 32-byte request
// digest, the signer identity key the 32-byte response digest, officers the
// ApprovalMessage. Verify functions take the public key from the caller
// (roster or pinned identity), never from inside the bundle.
//
// Validate never modifies its receiver. Describe renders any bundle for a
// person without verifying anything.
package bundle
