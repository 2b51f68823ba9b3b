package pkcs11

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
)

// PINEnv is the environment variable consulted for the user PIN when no PIN
// file is configured.
const PINEnv = "ICEBOX_HSM_PIN"

// DefaultMaxPINFailures is used when Config.MaxPINFailures is zero.
const DefaultMaxPINFailures = 5

// Config says which module and token to open and where the PIN comes from.
// It never holds the PIN itself.
type Config struct {
	// ModulePath is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	ModulePath string
	// TokenLabel or TokenSerial selects the token (exactly one must be set).
	TokenLabel  string
	TokenSerial string
	// PINFile, when set, holds the user PIN (first line). It must not be
	// readable by group or others.
	PINFile string
	// PINPrompt allows asking for the PIN on the terminal (PromptIn/PromptOut)
	// when neither a PIN file nor $ICEBOX_HSM_PIN is available.
	PINPrompt bool
	// Sessions bounds the session pool; 0 means runtime.NumCPU().
	Sessions int
	// MaxPINFailures is how many consecutive wrong PINs lock Icebox's own
	// counter; 0 means DefaultMaxPINFailures.
	MaxPINFailures int
	// PINFailureFile persists the failure counter. Required.
	PINFailureFile string
	// Logger receives operational logs; nil means slog.Default().
	Logger *slog.Logger

	// PromptIn and PromptOut are the terminal for PINPrompt; nil means
	// os.Stdin and os.Stderr.
	PromptIn  *os.File
	PromptOut io.Writer
}

func (c *Config) validate() error {
	if c.ModulePath == "" {
		return fmt.Errorf("hsm config: module path is empty")
	}
	if (c.TokenLabel == "") == (c.TokenSerial == "") {
		return fmt.Errorf("hsm config: set exactly one of token label and token serial")
	}
	if c.Sessions < 0 || c.Sessions > 1024 {
		return fmt.Errorf("hsm config: sessions = %d, want 0..1024", c.Sessions)
	}
	if c.MaxPINFailures < 0 || c.MaxPINFailures > 100 {
		return fmt.Errorf("hsm config: max PIN failures = %d, want 0..100", c.MaxPINFailures)
	}
	if c.PINFailureFile == "" {
		return fmt.Errorf("hsm config: PIN failure counter file is empty")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Sessions == 0 {
		c.Sessions = runtime.NumCPU()
	}
	if c.MaxPINFailures == 0 {
		c.MaxPINFailures = DefaultMaxPINFailures
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PromptIn == nil {
		c.PromptIn = os.Stdin
	}
	if c.PromptOut == nil {
		c.PromptOut = os.Stderr
	}
	return c
}

func (c Config) tokenName() string {
	if c.TokenLabel != "" {
		return fmt.Sprintf("label %q", c.TokenLabel)
	}
	return fmt.Sprintf("serial %q", c.TokenSerial)
}
