// Package module keeps the process-wide registry of loaded PKCS#11 modules.
//
// A PKCS#11 library may be loaded and initialised only once per process:
// a second C_Initialize fails, and login state belongs to the application,
// not to a session. Acquire loads a module on first use (by its resolved
// path, so two spellings of one file share one load), initialises it when
// it has no users, and Release finalizes it when the last user is gone. The
// library itself stays loaded for the life of the process.
//
// Tokens are claimed per module so that two HSM handles in one process never
// share a token: the second would inherit the first one's login and never
// present its own PIN.
package module

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/miekg/pkcs11"
)

// ErrLoad reports a module file that is missing or not a PKCS#11 library.
var ErrLoad = errors.New("cannot load PKCS#11 module")

// ErrTokenBusy reports a token already opened by another handle in this process.
var ErrTokenBusy = errors.New("token already open in this process")

type entry struct {
	ctx    *pkcs11.Ctx
	users  int
	tokens map[string]bool
}

var (
	mu      sync.Mutex
	modules = map[string]*entry{}
)

// Module is one user's reference to an initialised module.
type Module struct {
	Path string
	Ctx  *pkcs11.Ctx

	e        *entry
	released bool
}

// Resolve returns the absolute, symlink-free path of a module file, or an
// error wrapping ErrLoad when it does not exist.
func Resolve(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: no module path configured", ErrLoad)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrLoad, path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%w: %s: file not found", ErrLoad, path)
	}
	st, err := os.Stat(real)
	if err != nil || st.IsDir() {
		return "", fmt.Errorf("%w: %s: not a file", ErrLoad, path)
	}
	return real, nil
}

// Acquire returns an initialised module. The caller must call Release.
func Acquire(path string) (*Module, error) {
	real, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	e := modules[real]
	if e == nil {
		ctx := pkcs11.New(real)
		if ctx == nil {
			return nil, fmt.Errorf("%w: %s: dlopen failed or not a PKCS#11 library", ErrLoad, path)
		}
		e = &entry{ctx: ctx, tokens: map[string]bool{}}
		modules[real] = e
	}
	if e.users == 0 {
		if err := e.ctx.Initialize(); err != nil {
			return nil, fmt.Errorf("%w: %s: C_Initialize: %w", ErrLoad, path, err)
		}
	}
	e.users++
	return &Module{Path: real, Ctx: e.ctx, e: e}, nil
}

// Release drops this reference; the last one finalizes the module.
// Calling it twice is harmless.
func (m *Module) Release() error {
	mu.Lock()
	defer mu.Unlock()
	if m.released {
		return nil
	}
	m.released = true
	m.e.users--
	if m.e.users == 0 {
		if err := m.e.ctx.Finalize(); err != nil {
			return fmt.Errorf("C_Finalize %s: %w", m.Path, err)
		}
	}
	return nil
}

// ClaimToken marks the token with this serial as open by one handle. It
// fails with ErrTokenBusy when another handle already holds it.
func (m *Module) ClaimToken(serial string) error {
	mu.Lock()
	defer mu.Unlock()
	if m.e.tokens[serial] {
		return fmt.Errorf("%w: serial %s", ErrTokenBusy, serial)
	}
	m.e.tokens[serial] = true
	return nil
}

// UnclaimToken releases a token claimed with ClaimToken.
func (m *Module) UnclaimToken(serial string) {
	mu.Lock()
	defer mu.Unlock()
	delete(m.e.tokens, serial)
}
