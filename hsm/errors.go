package hsm

import "errors"

// Sentinel errors an operator must be able to tell apart. Implementations wrap
// them with %w and the identifying context (module path, token label, key
// reference) — never a PIN or key bytes.
var (
	// ErrModuleLoad: the PKCS#11 module file is missing or is not a PKCS#11 library.
	ErrModuleLoad = errors.New("cannot load PKCS#11 module")
	// ErrTokenNotPresent: no initialised token with the configured label or serial.
	ErrTokenNotPresent = errors.New("token not present")
	// ErrPINIncorrect: the user PIN was refused (CKR_PIN_INCORRECT).
	ErrPINIncorrect = errors.New("PIN incorrect")
	// ErrPINLocked: the token locked the PIN (CKR_PIN_LOCKED), or Icebox's own
	// failure counter reached its limit.
	ErrPINLocked = errors.New("PIN locked")
	// ErrPINMissing: no PIN source was configured or the source was empty.
	ErrPINMissing = errors.New("no PIN available")
	// ErrKeyNotFound: no object matches the key reference.
	ErrKeyNotFound = errors.New("key not found")
	// ErrAmbiguousToken: several tokens carry the configured label.
	ErrAmbiguousToken = errors.New("several tokens match")
	// ErrLabelInUse: a new key would reuse the label of an existing key.
	ErrLabelInUse = errors.New("key label already in use")
	// ErrAmbiguousKey: a label matches more than one object.
	ErrAmbiguousKey = errors.New("key reference matches several objects")
	// ErrMechanismUnsupported: the module lacks a required mechanism or curve.
	ErrMechanismUnsupported = errors.New("mechanism not supported by the token")
	// ErrSessionFailed: the token went away or a session became invalid mid-operation.
	ErrSessionFailed = errors.New("HSM session failed")
	// ErrBadSignature: the HSM returned bytes that are not a valid signature.
	ErrBadSignature = errors.New("HSM returned an invalid signature")
)

// Sentinel errors of the backup ceremony (hsm.KeyWrapper, hsm.KeyUnwrapper).
var (
	// ErrNotWrappable: a key cannot leave the token, not even wrapped (it was
	// generated non-extractable, or the module cannot wrap its key type).
	ErrNotWrappable = errors.New("key cannot be wrapped for backup")
	// ErrTokenNotEmpty: a restore target already holds keys.
	ErrTokenNotEmpty = errors.New("token is not empty")
	// ErrSOPINIncorrect: the security officer PIN was refused.
	ErrSOPINIncorrect = errors.New("security officer PIN incorrect")
)
