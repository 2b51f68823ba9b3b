package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/store"
)

// Exit codes of iceboxd.
const (
	exitFailure    = 1 // anything else
	exitConfig     = 2 // configuration missing or invalid
	exitHSMAccess  = 3 // wrong PIN, PIN locked, PIN missing
	exitHSMDevice  = 4 // module, token or session problem
	exitRefused    = 5 // the request was refused; a signed refusal was written
	exitRolledBack = 6 // the store is older than the HSM anchor (quarantined)
)

// exitWith prints err for an operator and returns the process exit code.
// It is the one place that decides what the operator sees: a first line
// saying what is wrong and what to do, then the wrapped detail.
func exitWith(w io.Writer, err error) int {
	hint, code := explain(err)
	if hint != "" {
		fmt.Fprintf(w, "iceboxd: %s\n  detail: %v\n", hint, err)
	} else {
		fmt.Fprintf(w, "iceboxd: %v\n", err)
	}
	return code
}

func explain(err error) (string, int) {
	switch {
	case errors.Is(err, errRefused):
		return "", exitRefused
	case errors.Is(err, errConfig):
		return "", exitConfig
	case errors.Is(err, store.ErrRolledBack):
		return "the store is older than the HSM audit anchor (an old copy restored?); nothing is signed until an admin quorum acknowledges it: see `iceboxd rollback status`, then `iceboxd rollback acknowledge ACK`", exitRolledBack
	case errors.Is(err, hsm.ErrPINLocked):
		return "the HSM user PIN is locked (too many wrong PINs); an administrator must investigate before it is reset", exitHSMAccess
	case errors.Is(err, hsm.ErrPINIncorrect):
		return "wrong HSM user PIN (failed attempts are counted and lock the signer at the limit)", exitHSMAccess
	case errors.Is(err, hsm.ErrPINMissing):
		return "no HSM user PIN available: set hsm.pin_file, $ICEBOX_HSM_PIN or hsm.pin_prompt", exitHSMAccess
	case errors.Is(err, hsm.ErrModuleLoad):
		return "cannot load the PKCS#11 module: check hsm.module (the path of the vendor's .so)", exitHSMDevice
	case errors.Is(err, hsm.ErrTokenNotPresent):
		return "HSM token not found: check hsm.token_label / hsm.token_serial and that the token is connected", exitHSMDevice
	case errors.Is(err, hsm.ErrAmbiguousToken):
		return "several HSM tokens carry that label: select the token by hsm.token_serial", exitHSMDevice
	case errors.Is(err, hsm.ErrSessionFailed):
		return "the HSM session failed (token removed or device error); nothing was signed", exitHSMDevice
	case errors.Is(err, hsm.ErrMechanismUnsupported):
		return "the HSM does not support a required mechanism or curve (secp256k1 ECDSA)", exitHSMDevice
	case errors.Is(err, hsm.ErrAmbiguousKey):
		return "a key reference matches several keys in the HSM: use label and key id", exitFailure
	case errors.Is(err, hsm.ErrKeyNotFound):
		return "key not found in the HSM", exitFailure
	case errors.Is(err, hsm.ErrLabelInUse):
		return "a key with that label already exists in the HSM", exitFailure
	}
	return "", exitFailure
}
