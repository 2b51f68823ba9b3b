package policy

import "errors"

var (
	// ErrBadPolicy is wrapped by every policy parse or validation error.
	ErrBadPolicy = errors.New("invalid policy")
	// ErrBadInput reports an evaluation input that cannot be evaluated.
	ErrBadInput = errors.New("invalid evaluation input")
	// ErrUsage wraps a failure of the Usage store during evaluation.
	ErrUsage = errors.New("usage store failed")
)
