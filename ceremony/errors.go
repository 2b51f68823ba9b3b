package ceremony

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error wraps one of them with the file, field or
// officer it is about — never a share value or key byte.
var (
	// ErrInvalid: a caller-supplied value is out of range (M, N, officer ids, passphrase).
	ErrInvalid = errors.New("invalid ceremony parameters")
	// ErrMalformed: a backup or share file is not in the documented format.
	ErrMalformed = errors.New("malformed ceremony file")
	// ErrShares: the shares given cannot open this backup (too few, duplicate,
	// of another backup, corrupted).
	ErrShares = errors.New("shares do not open the backup")
	// ErrSharePassphrase: an encrypted share did not open.
	ErrSharePassphrase = errors.New("share passphrase")
	// ErrIntegrity: the backup file fails its authentication (tampered, or not
	// made with the wrapping key these shares rebuild).
	ErrIntegrity = errors.New("backup integrity check failed")
	// ErrManifest: the embedded manifest does not match the backed-up keys.
	ErrManifest = errors.New("backup manifest mismatch")
)

// FieldError names the field of a ceremony file that is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrMalformed, e.Field, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *FieldError) Unwrap() error { return ErrMalformed }

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
