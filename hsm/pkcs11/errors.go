package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
)

// ckrCode returns the PKCS#11 return value inside err, if any.
func ckrCode(err error) (uint, bool) {
	var pe p11.Error
	if errors.As(err, &pe) {
		return uint(pe), true
	}
	return 0, false
}

// sessionBroken reports whether err means the session (or the token behind
// it) is gone, so the session must not go back to the pool.
func sessionBroken(err error) bool {
	code, ok := ckrCode(err)
	if !ok {
		return false
	}
	switch code {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED,
		p11.CKR_DEVICE_REMOVED, p11.CKR_DEVICE_ERROR, p11.CKR_TOKEN_NOT_PRESENT,
		p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_CRYPTOKI_NOT_INITIALIZED,
		p11.CKR_GENERAL_ERROR:
		return true
	}
	return false
}

// handleInvalid reports whether a cached object handle went stale.
func handleInvalid(err error) bool {
	code, ok := ckrCode(err)
	return ok && (code == p11.CKR_KEY_HANDLE_INVALID || code == p11.CKR_OBJECT_HANDLE_INVALID)
}

// wrap maps a PKCS#11 error to the hsm sentinel an operator understands and
// keeps the pkcs11.Error for errors.As. what names the operation and object.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	code, ok := ckrCode(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	var sentinel error
	switch code {
	case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE:
		sentinel = hsm.ErrPINIncorrect
	case p11.CKR_PIN_LOCKED, p11.CKR_PIN_EXPIRED:
		sentinel = hsm.ErrPINLocked
	case p11.CKR_MECHANISM_INVALID, p11.CKR_MECHANISM_PARAM_INVALID,
		p11.CKR_CURVE_NOT_SUPPORTED, p11.CKR_DOMAIN_PARAMS_INVALID,
		p11.CKR_KEY_TYPE_INCONSISTENT, p11.CKR_KEY_FUNCTION_NOT_PERMITTED:
		sentinel = hsm.ErrMechanismUnsupported
	case p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_RECOGNIZED, p11.CKR_SLOT_ID_INVALID:
		return fmt.Errorf("%s: %w: %w: %w", what, hsm.ErrSessionFailed, hsm.ErrTokenNotPresent, err)
	case p11.CKR_KEY_HANDLE_INVALID, p11.CKR_OBJECT_HANDLE_INVALID:
		sentinel = hsm.ErrKeyNotFound
	default:
		if sessionBroken(err) {
			sentinel = hsm.ErrSessionFailed
		}
	}
	if sentinel == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, sentinel, err)
}
