package signer

// Stage names the pipeline stage that refused a request. Its string form
// is what a refusal bundle and the audit log carry.
type Stage string

// Pipeline stages, in order.
const (
	StageDecode    Stage = "decode"
	StageReplay    Stage = "replay"
	StageClock     Stage = "clock"
	StageRequest   Stage = "request"
	StageRequester Stage = "requester"
	StageParse     Stage = "parse"
	StagePolicy    Stage = "policy"
	StageQuorum    Stage = "quorum"
	StageReserve   Stage = "reserve"
	StageSign      Stage = "sign"
)

// Refusal codes: short machine-readable reasons carried in bundle.Refusal.Code.
const (
	CodeMalformed       = "malformed"
	CodeRequestIDReused = "request-id-reused"
	CodeClockBehind     = "clock-behind"
	CodeExpired         = "expired"
	CodeNotYetValid     = "created-in-future"
	CodeBadRequester    = "bad-requester"
	CodeNetwork         = "network-not-configured"
	CodeBadTransaction  = "bad-transaction"
	CodePolicyDenied    = "policy-denied"
	CodeNoQuorum        = "no-quorum"
	CodeConflict        = "conflict"
	// CodeFeeBump: a fee bump the policy allows failed the signer's own
	// checks (earlier holder not signed here, fee or fee rate not higher).
	CodeFeeBump          = "fee-bump-refused"
	CodeHSM              = "hsm-failure"
	CodeSelfVerifyFailed = "self-verify-failed"
)
