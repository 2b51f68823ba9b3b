package officer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// PassphraseEnv is the environment variable a passphrase may come from
// (meant for tests and demos; a prompt is the normal way).
const PassphraseEnv = "ICEBOX_OFFICER_PASSPHRASE"

// ErrNoPassphrase reports that no passphrase source was available.
var ErrNoPassphrase = errors.New("no passphrase: use a terminal, --passphrase-file or " + PassphraseEnv)

// PassphraseSource says where a command gets the passphrase, in order:
// File when set, then the environment variable, then Prompt.
type PassphraseSource struct {
	File   string
	Getenv func(string) string // os.Getenv when nil
	// Prompt asks a person (e.g. x/term.ReadPassword on a terminal); nil
	// when there is no terminal.
	Prompt func(label string) ([]byte, error)
	// Confirm asks twice and requires both answers to match (keygen).
	Confirm bool
}

// Read returns the passphrase. A file's trailing newline is removed.
func (s PassphraseSource) Read() ([]byte, error) {
	if s.File != "" {
		f, err := os.Open(s.File)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4097))
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		if len(b) > 4096 {
			return nil, fmt.Errorf("passphrase file %s: longer than 4096 bytes", s.File)
		}
		b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
		if len(b) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", s.File)
		}
		return b, nil
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(PassphraseEnv); v != "" {
		return []byte(v), nil
	}
	if s.Prompt == nil {
		return nil, ErrNoPassphrase
	}
	p, err := s.Prompt("Officer key passphrase: ")
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if s.Confirm {
		again, err := s.Prompt("Repeat passphrase: ")
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		if !bytes.Equal(p, again) {
			return nil, errors.New("the two passphrases differ")
		}
	}
	return p, nil
}
