// Package audit owns the audit log's data format and its offline
// verification: the Record and Checkpoint types, their one deterministic
// encoding, the record hash chain, the checkpoint signature message, and the
// JSON Lines export that an external auditor checks with Verify.
//
// It is pure: no bbolt, no HSM, no clock. The store package (bbolt) builds
// records with it; the online CLI (`icebox audit verify`) verifies exports
// with nothing but this package and the signer's public key.
//
// Contracts:
//   - Record.Encoding is the canonical body encoding; Record.ComputeHash is
//     SHA-256("icebox/audit/v1" || PrevHash || Encoding()). The first record
//     (seq 1) has an all-zero PrevHash.
//   - Checkpoint.Message is what the signer identity key signs:
//     "icebox/audit/checkpoint/v1" || uint64be(seq) || head || int64be(unix ns).
//   - Verify reads an export strictly (size-capped lines, unknown fields,
//     duplicate keys and any non-canonical byte are refused), never panics,
//     and on failure returns a *VerifyError naming the first bad line and,
//     when known, the record's sequence number. A nil error means every
//     record is chained, every checkpoint is signed by the given key and
//     matches the chain; records after the last checkpoint are reported as
//     Report.Unanchored (an attacker could have dropped such a tail).
//
// The full format is documented in docs/audit.md.
package audit
