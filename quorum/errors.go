package quorum

import "errors"

var (
	// ErrBadRoster is wrapped by every roster parse or validation error.
	ErrBadRoster = errors.New("invalid roster")
	// ErrBadRequirement reports a requirement that cannot be evaluated.
	ErrBadRequirement = errors.New("invalid approval requirement")
	// ErrBadInput reports a malformed verification input (zero digest …).
	ErrBadInput = errors.New("invalid verification input")
	// ErrRequester reports a requester signature that is not acceptable.
	ErrRequester = errors.New("requester signature not accepted")
	// ErrBadChange reports a change proposal that is malformed.
	ErrBadChange = errors.New("invalid change proposal")
	// ErrChangeNotApproved reports a change proposal without the admin quorum.
	ErrChangeNotApproved = errors.New("change proposal not approved by the admin quorum")
)
