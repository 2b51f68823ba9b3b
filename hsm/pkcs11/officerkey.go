package pkcs11

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/sigkey"
)

// OfficerPINEnv is consulted for an officer token's user PIN when the URI
// has no pin-source.
const OfficerPINEnv = "ICEBOX_OFFICER_PIN"

// OfficerKeyConfig says which officer key to open and how to log in.
type OfficerKeyConfig struct {
	// URI addresses the token and the key (see ParseURI).
	URI URI
	// ModulePath is used when URI has no module-path.
	ModulePath string
	// PINFailureFile persists Icebox's failed-login counter for the token
	// (see the package comment). Required.
	PINFailureFile string
	// MaxPINFailures: 0 means DefaultMaxPINFailures.
	MaxPINFailures int
	// PINPrompt allows asking for the PIN on PromptIn/PromptOut (nil:
	// os.Stdin, os.Stderr) when the URI names no PIN file and
	// $ICEBOX_OFFICER_PIN is unset.
	PINPrompt bool
	PromptIn  *os.File
	PromptOut io.Writer
	// Logger: nil means slog.Default().
	Logger *slog.Logger
}

// OfficerKey is an officer's P-256 or Ed25519 signing key on a PKCS#11
// token (a PIV card, a YubiKey, a second SoftHSM token). It signs like the
// identity key: CKM_ECDSA over SHA-256(msg) giving raw r||s, or CKM_EDDSA
// over msg, and verifies every signature before returning it. It holds the
// token open (one session, logged in) until Close.
type OfficerKey struct {
	h   *HSM
	key *identity
}

var _ sigkey.Signer = (*OfficerKey)(nil)

// OpenOfficerKey loads the module (once per process), opens the token of
// cfg.URI, logs in and finds exactly one private key matching the URI's
// object and id, with its public key object. The PIN comes from the URI's
// pin-source file, else $ICEBOX_OFFICER_PIN, else the prompt. Like Open, a
// token can be open only once per process. On failure nothing stays open.
func OpenOfficerKey(cfg OfficerKeyConfig) (_ *OfficerKey, err error) {
	u := cfg.URI
	if u.Token == "" && u.Serial == "" || u.Object == "" && len(u.ID) == 0 {
		return nil, &URIError{Reason: "names no token or no key"}
	}
	mod := u.ModulePath
	if mod == "" {
		mod = cfg.ModulePath
	}
	if mod == "" {
		return nil, fmt.Errorf("officer key %s: no module-path in the URI and no default module", u)
	}
	hc := Config{
		ModulePath: mod, PINFile: u.PINFile, PINPrompt: cfg.PINPrompt,
		Sessions: 1, MaxPINFailures: cfg.MaxPINFailures, PINFailureFile: cfg.PINFailureFile,
		Logger: cfg.Logger, PromptIn: cfg.PromptIn, PromptOut: cfg.PromptOut,
		pinEnv: OfficerPINEnv,
	}
	if u.Serial != "" {
		hc.TokenSerial = u.Serial
	} else {
		hc.TokenLabel = u.Token
	}
	h, err := Open(hc)
	if err != nil {
		return nil, fmt.Errorf("officer key %s: %w", u, err)
	}
	defer func() {
		if err != nil {
			_ = h.Close()
		}
	}()
	if u.Token != "" && h.label != u.Token {
		return nil, fmt.Errorf("officer key %s: token with serial %q is labelled %q, not %q", u, u.Serial, h.label, u.Token)
	}
	var match []*p11.Attribute
	if u.Object != "" {
		match = append(match, p11.NewAttribute(p11.CKA_LABEL, u.Object))
	}
	if len(u.ID) > 0 {
		match = append(match, p11.NewAttribute(p11.CKA_ID, u.ID))
	}
	var key *identity
	err = h.withSession(context.Background(), func(sh p11.SessionHandle) error {
		var err error
		key, err = h.findKeyPair(sh, match, "officer key "+u.String())
		return err
	})
	if err != nil {
		return nil, wrap("find officer key", err)
	}
	return &OfficerKey{h: h, key: key}, nil
}

// Public returns the key's public half (P-256 compressed, or Ed25519).
func (k *OfficerKey) Public() sigkey.PublicKey { return k.key.pub }

// Sign signs msg on the token; the result verifies with Public().Verify.
func (k *OfficerKey) Sign(msg []byte) ([]byte, error) { return k.key.Sign(msg) }

// Close logs out and releases the token and (when last) the module.
func (k *OfficerKey) Close() error { return k.h.Close() }
