// Package store owns Icebox's durable state in one bbolt file: the
// hash-chained audit log (format in store/audit), its signed checkpoints and
// the HSM rollback anchor, the replay ledger (request ids, Bitcoin outpoints,
// Ethereum (address, nonce) pairs), the velocity counters and the time floor.
//
// Contracts:
//   - One writer: Open takes an exclusive flock on the file and fails at once
//     with ErrLocked when another process (or another Store in this process)
//     holds it. Files are created 0600 in a 0700 directory; an existing file
//     readable by others is refused.
//   - Every mutation is one bbolt Update, fsync'd before the method returns.
//     Reserve records the request, its consumes, its velocity charges and the
//     audit intent in one transaction BEFORE any signature exists; Complete
//     or Abort record the outcome in a second one. A crash between them
//     leaves the request "reserved"; the next Open marks it "interrupted"
//     (an audit record) and keeps everything it reserved: only the identical
//     request (same id and digest) may reserve it again.
//   - Rollback: every checkpoint (sequence + head hash, signed by the
//     identity key) is also written to the HSM (hsm.AnchorStore). Open
//     compares the store with the anchor; an older or diverged store is
//     quarantined with ErrRolledBack until AcknowledgeRollback records an
//     admin-quorum acknowledgement (verified by the caller).
//   - Time floor: Reserve refuses with ErrClockBehind when the clock reads
//     earlier than the latest recorded time minus Options.ClockTolerance.
//   - On any error nothing was written (the bbolt transaction rolled back),
//     except where a method says otherwise.
//
// *Store satisfies the policy package's Usage method set (Spent,
// LastCharge) without importing it.
package store
