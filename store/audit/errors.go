package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Verify wraps one of them in a *VerifyError.
var (
	// ErrMalformed: a line is not a canonical export line (bad JSON, unknown
	// or duplicate field, bad hex, bad time, non-canonical bytes).
	ErrMalformed = errors.New("malformed audit export line")
	// ErrTooLarge: a line exceeds MaxLineBytes or a record exceeds MaxRecordBytes.
	ErrTooLarge = errors.New("audit line too large")
	// ErrTampered: the hash chain is broken: a record was edited, deleted,
	// inserted or reordered.
	ErrTampered = errors.New("audit chain broken")
	// ErrBadCheckpoint: a checkpoint's signature does not verify or it does
	// not match the chain at its sequence number.
	ErrBadCheckpoint = errors.New("audit checkpoint invalid")
	// ErrTruncated: the export ends early (a cut line, no end line, or an
	// end line that names records or checkpoints that are not there).
	ErrTruncated = errors.New("audit export truncated")
	// ErrWrongSigner: the export header names a different signer key than
	// the one the verifier trusts.
	ErrWrongSigner = errors.New("audit export signed by a different key")
	// ErrInvalidRecord: a record built by the caller is not valid (unknown
	// kind, bad UTF-8, too large).
	ErrInvalidRecord = errors.New("invalid audit record")
)

// VerifyError names where verification failed. Line is 1-based; Seq is the
// record sequence number the failure concerns (0 when none applies).
type VerifyError struct {
	Line int
	Seq  uint64
	Err  error
}

func (e *VerifyError) Error() string {
	if e.Seq != 0 {
		return fmt.Sprintf("line %d (record seq %d): %v", e.Line, e.Seq, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

// Unwrap returns the wrapped sentinel chain.
func (e *VerifyError) Unwrap() error { return e.Err }
