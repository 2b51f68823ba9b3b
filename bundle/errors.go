package bundle

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (or a sigkey error) inside a *FieldError naming the offending field, so
// callers match with errors.Is and show err.Error() to a person.
var (
	// ErrTooLarge reports input or a field over its Limits cap. It is
	// returned before any byte is parsed when the whole input is too big.
	ErrTooLarge = errors.New("too large")
	// ErrWrongType reports input that does not start with the tag of the
	// expected bundle type (a response where a request was expected, or not
	// an Icebox bundle at all).
	ErrWrongType = errors.New("wrong bundle type")
	// ErrVersion reports a format version other than Version.
	ErrVersion = errors.New("unsupported version")
	// ErrMalformed reports CBOR that is not well formed or does not match
	// the schema: unknown fields, duplicate map keys, trailing bytes, wrong
	// types, indefinite lengths, tags inside the body.
	ErrMalformed = errors.New("malformed")
	// ErrNonCanonical reports well-formed input that is not the one
	// deterministic encoding of its value (non-shortest integers or
	// lengths, unsorted map keys, empty optional fields present, ...).
	ErrNonCanonical = errors.New("not canonical")
	// ErrInvalid reports a value that breaks a field rule (empty, bad
	// characters, expiry before creation, unknown kind, ...).
	ErrInvalid = errors.New("invalid")
	// ErrMissingSignature reports a bundle that carries no signature where
	// one is required.
	ErrMissingSignature = errors.New("missing signature")
	// ErrSignerMismatch reports a signature made by, or claiming, another
	// party or algorithm than the one expected.
	ErrSignerMismatch = errors.New("signer mismatch")
)

// FieldError locates an error: Field is a path such as
// "request.transactions[3].network".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }
