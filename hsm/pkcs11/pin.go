package pkcs11

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/icebox-custody/icebox/hsm"
)

// readPIN returns the user PIN from the first configured source. The PIN
// never appears in an error.
func readPIN(c Config) (string, error) {
	env := PINEnv
	if c.pinEnv != "" {
		env = c.pinEnv
	}
	return readSecret(c, secretSource{what: "user PIN", file: c.PINFile, env: env, prompt: c.PINPrompt, promptText: "User PIN"})
}

// readSOPIN reads the security officer PIN (key ceremonies only): the SO
// PIN file, else $ICEBOX_HSM_SO_PIN, else a prompt when allowed.
func readSOPIN(c Config) (string, error) {
	return readSecret(c, secretSource{what: "security officer PIN", file: c.SOPINFile, env: SOPINEnv, prompt: c.SOPINPrompt, promptText: "Security officer (SO) PIN"})
}

type secretSource struct {
	what, file, env, promptText string
	prompt                      bool
}

func readSecret(c Config, src secretSource) (string, error) {
	if src.file != "" {
		st, err := os.Stat(src.file)
		if err != nil {
			return "", fmt.Errorf("%w: %s file %s: %v", hsm.ErrPINMissing, src.what, src.file, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%w: %s file %s has mode %v: it must not be readable by group or others (chmod 600)",
				hsm.ErrPINMissing, src.what, src.file, st.Mode().Perm())
		}
		raw, err := os.ReadFile(src.file)
		if err != nil {
			return "", fmt.Errorf("%w: %s file %s: %v", hsm.ErrPINMissing, src.what, src.file, err)
		}
		line, _, _ := bytes.Cut(raw, []byte("\n"))
		pin := strings.TrimRight(string(line), "\r")
		if pin == "" {
			return "", fmt.Errorf("%w: %s file %s is empty", hsm.ErrPINMissing, src.what, src.file)
		}
		return pin, nil
	}
	if pin := os.Getenv(src.env); pin != "" {
		return pin, nil
	}
	if src.prompt {
		fd := int(c.PromptIn.Fd())
		if !term.IsTerminal(fd) {
			return "", fmt.Errorf("%w: %s prompt needs a terminal (set a file or $%s)", hsm.ErrPINMissing, src.what, src.env)
		}
		fmt.Fprintf(c.PromptOut, "%s for token %s: ", src.promptText, c.tokenName())
		raw, err := term.ReadPassword(fd)
		fmt.Fprintln(c.PromptOut)
		if err != nil {
			return "", fmt.Errorf("%w: read %s from terminal: %v", hsm.ErrPINMissing, src.what, err)
		}
		if len(raw) == 0 {
			return "", fmt.Errorf("%w: empty %s entered", hsm.ErrPINMissing, src.what)
		}
		return string(raw), nil
	}
	return "", fmt.Errorf("%w: no %s: configure a file, set $%s, or enable the prompt", hsm.ErrPINMissing, src.what, src.env)
}

// failureCounter persists consecutive failed logins per token serial.
type failureCounter struct {
	path string
}

type counterFile struct {
	Version int            `json:"version"`
	Tokens  map[string]int `json:"failures_by_token_serial"`
}

var counterLocks sync.Map // path -> *sync.Mutex, shared by handles in one process

func newFailureCounter(path string) *failureCounter {
	return &failureCounter{path: path}
}

func (f *failureCounter) lock() func() {
	m, _ := counterLocks.LoadOrStore(f.path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (f *failureCounter) load() (counterFile, error) {
	cf := counterFile{Version: 1, Tokens: map[string]int{}}
	raw, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return cf, nil
	}
	if err != nil {
		return cf, fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	if len(raw) > 64<<10 {
		return cf, fmt.Errorf("PIN failure counter %s: file too large", f.path)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil || cf.Version != 1 {
		// Fail closed: a corrupt counter must not silently reset to zero.
		return cf, fmt.Errorf("PIN failure counter %s is corrupt (version %d, %v): check it and remove it to reset",
			f.path, cf.Version, err)
	}
	if cf.Tokens == nil {
		cf.Tokens = map[string]int{}
	}
	return cf, nil
}

func (f *failureCounter) store(cf counterFile) error {
	raw, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, ".pin-failures-*")
	if err != nil {
		return fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("PIN failure counter %s: %w", f.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// failures returns the current count for serial.
func (f *failureCounter) failures(serial string) (int, error) {
	unlock := f.lock()
	defer unlock()
	cf, err := f.load()
	if err != nil {
		return 0, err
	}
	return cf.Tokens[serial], nil
}

// record adds one failure (ok=false) or resets the count (ok=true) and
// returns the new count.
func (f *failureCounter) record(serial string, ok bool) (int, error) {
	unlock := f.lock()
	defer unlock()
	cf, err := f.load()
	if err != nil {
		return 0, err
	}
	if ok {
		if cf.Tokens[serial] == 0 {
			return 0, nil
		}
		delete(cf.Tokens, serial)
	} else {
		cf.Tokens[serial]++
	}
	return cf.Tokens[serial], f.store(cf)
}
