// Package quorum owns who may do what: the roster of officers, requesters
// and admins with their public keys, roles, validity periods and revocation
// flags; the approval requirement a policy rule asks for (groups with
// thresholds combined with AND/OR, named required approvers); verification
// of officer approvals and requester signatures against the roster; and the
// governance of changes to the policy and the roster (a change proposal
// approved by the admin quorum of the current roster); and the rollback
// acknowledgement (a change bundle of kind rollback-ack, see rollback.go)
// that lets a signer continue from a store older than its HSM anchor.
//
// Contracts:
//   - Identity comes from the roster, never from inside an approval: the
//     officer id in an approval only selects the roster key that must have
//     signed it.
//   - Verify never fails open. It returns an error only for malformed
//     inputs (the caller refuses); a requirement that is not met is a
//     Result with Satisfied false listing every reason and what is missing.
//   - Results do not depend on the order of approvals; an officer counts
//     once however many approvals carry their id.
//   - The package is pure: no I/O, the clock is an input.
//
// The roster hash is SHA-256("icebox/roster/v1" || 0x00 || file bytes), over
// the exact bytes of the roster file.
package quorum
