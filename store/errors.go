package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/icebox-custody/icebox/store/audit"
)

// Sentinel errors. Methods wrap them with %w and identifying context.
var (
	// ErrLocked: another process (or Store) holds the store file.
	ErrLocked = errors.New("store is locked by another process")
	// ErrRolledBack: the store is older than (or diverged from) the HSM
	// anchor. See *RollbackError.
	ErrRolledBack = errors.New("store is older than the HSM anchor (restored from an old copy?)")
	// ErrAnchorInvalid: the anchor read from the HSM is malformed or its
	// signature does not verify with the identity key.
	ErrAnchorInvalid = errors.New("HSM audit anchor invalid")
	// ErrClockBehind: the clock reads earlier than the time floor minus the tolerance.
	ErrClockBehind = errors.New("clock is behind the recorded time floor")
	// ErrRequestConflict: the request id is known with a different digest.
	ErrRequestConflict = errors.New("request id already used for different content")
	// ErrConsumeConflict: an outpoint or (address, nonce) is already used by
	// a different transaction.
	ErrConsumeConflict = errors.New("outpoint or nonce already used by a different transaction")
	// ErrAlreadyCompleted: the identical request was already completed; use
	// LookupRequest to return the stored response.
	ErrAlreadyCompleted = errors.New("request already completed")
	// ErrInProgress: the identical request is reserved right now.
	ErrInProgress = errors.New("request is being processed")
	// ErrRequestNotFound: LookupRequest found no such request id.
	ErrRequestNotFound = errors.New("request id not found")
	// ErrBadReservation: Complete or Abort got a reservation that is not the
	// current reservation of its request.
	ErrBadReservation = errors.New("reservation is not current")
	// ErrInvalid: an argument is malformed (empty id, bad counter name, ...).
	ErrInvalid = errors.New("invalid store argument")
	// ErrCorrupt: the store file contradicts itself (chain head, ledger).
	ErrCorrupt = errors.New("store is corrupt")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("store is closed")
)

// RollbackError says how the store compares with the anchor.
type RollbackError struct {
	Path string
	// Anchor is the checkpoint read from the HSM.
	Anchor audit.Checkpoint
	// StoreSeq and StoreHead are the store's own chain head.
	StoreSeq  uint64
	StoreHead audit.Digest
	// Diverged: the store has the anchored seq but a different hash there.
	Diverged bool
}

func (e *RollbackError) Error() string {
	if e.Diverged {
		return fmt.Sprintf("%v: %s: record seq %d differs from the one anchored in the HSM (anchor head %s); the store was replaced or altered — an admin quorum must acknowledge before signing resumes",
			ErrRolledBack, e.Path, e.Anchor.Seq, e.Anchor.Head)
	}
	return fmt.Sprintf("%v: %s: store ends at record seq %d but the HSM anchor is at seq %d (written %s); an admin quorum must acknowledge before signing resumes",
		ErrRolledBack, e.Path, e.StoreSeq, e.Anchor.Seq, audit.FormatTime(e.Anchor.Time))
}

// Unwrap returns ErrRolledBack.
func (e *RollbackError) Unwrap() error { return ErrRolledBack }

// ClockBehindError reports a clock reading below the time floor.
type ClockBehindError struct {
	Now       time.Time
	Floor     time.Time
	Tolerance time.Duration
}

func (e *ClockBehindError) Error() string {
	return fmt.Sprintf("%v: clock reads %s, last recorded time is %s (tolerance %s); fix the clock",
		ErrClockBehind, audit.FormatTime(e.Now), audit.FormatTime(e.Floor), e.Tolerance)
}

// Unwrap returns ErrClockBehind.
func (e *ClockBehindError) Unwrap() error { return ErrClockBehind }

// ConflictError names what conflicts with an earlier request.
type ConflictError struct {
	// What is "request id" or "consume".
	What string
	// Key is the request id or the consume key.
	Key string
	// ExistingRequest is the request id that holds Key.
	ExistingRequest string
	// Err is ErrRequestConflict or ErrConsumeConflict.
	Err error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: %s %q is held by request %q", e.Err, e.What, e.Key, e.ExistingRequest)
}

// Unwrap returns ErrRequestConflict or ErrConsumeConflict.
func (e *ConflictError) Unwrap() error { return e.Err }
