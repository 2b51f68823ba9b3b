// Package storetest gives tests of store users (the signer pipeline, the
// daemon) real bbolt stores on temporary directories: MustOpenStore with a
// consistency check at cleanup, an in-memory Ed25519 identity, a settable
// clock, and in-memory and file-backed anchor stores. It holds private keys
// in process memory and is for tests only.
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store"
)

// Ed25519Signer is an in-memory sigkey.Signer (tests only).
type Ed25519Signer struct{ priv ed25519.PrivateKey }

var _ sigkey.Signer = (*Ed25519Signer)(nil)

// NewEd25519Signer derives a key deterministically from seed text.
func NewEd25519Signer(seed string) *Ed25519Signer {
	s := sha256.Sum256([]byte("icebox/storetest/" + seed))
	return &Ed25519Signer{priv: ed25519.NewKeyFromSeed(s[:])}
}

// Public returns the public key.
func (e *Ed25519Signer) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: []byte(e.priv.Public().(ed25519.PublicKey))}
}

// Sign signs msg.
func (e *Ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(e.priv, msg), nil }

// Clock is a settable clock. Its zero value reads the zero time; use NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the current reading.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set sets the reading.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Advance moves the reading by d (negative moves it back).
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// MemAnchor is an in-memory hsm.AnchorStore.
type MemAnchor struct {
	mu sync.Mutex
	m  map[string][]byte
	// Writes counts WriteAnchor calls.
	Writes int
}

var _ hsm.AnchorStore = (*MemAnchor)(nil)

// ReadAnchor returns the value or hsm.ErrKeyNotFound.
func (a *MemAnchor) ReadAnchor(_ context.Context, name string) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.m[name]
	if !ok {
		return nil, fmt.Errorf("%w: anchor %q", hsm.ErrKeyNotFound, name)
	}
	return append([]byte(nil), v...), nil
}

// WriteAnchor stores a copy of value.
func (a *MemAnchor) WriteAnchor(_ context.Context, name string, value []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string][]byte{}
	}
	a.m[name] = append([]byte(nil), value...)
	a.Writes++
	return nil
}

// FileAnchor is an hsm.AnchorStore in a directory, so that several
// processes of one test share it (crash tests).
type FileAnchor struct{ Dir string }

var _ hsm.AnchorStore = FileAnchor{}

// ReadAnchor returns the value or hsm.ErrKeyNotFound.
func (a FileAnchor) ReadAnchor(_ context.Context, name string) ([]byte, error) {
	v, err := os.ReadFile(filepath.Join(a.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: anchor %q", hsm.ErrKeyNotFound, name)
	}
	return v, err
}

// WriteAnchor replaces the value atomically.
func (a FileAnchor) WriteAnchor(_ context.Context, name string, value []byte) error {
	tmp := filepath.Join(a.Dir, name+".tmp")
	if err := os.WriteFile(tmp, value, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(a.Dir, name))
}

// Env is everything needed to open (and re-open) one test store.
type Env struct {
	Dir      string
	Path     string
	Clock    *Clock
	Identity *Ed25519Signer
	Anchor   hsm.AnchorStore
	// Tolerance and CheckpointEvery go into Options.
	Tolerance       time.Duration
	CheckpointEvery int
}

// Start is the clock's initial reading in NewEnv.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// NewEnv returns an Env on a fresh t.TempDir() with an in-memory anchor, a
// clock at Start, a 2-minute tolerance and a checkpoint every 8 records.
func NewEnv(t testing.TB) *Env {
	dir := t.TempDir()
	return &Env{
		Dir: dir, Path: filepath.Join(dir, "state", "icebox.db"),
		Clock: NewClock(Start), Identity: NewEd25519Signer("identity"),
		Anchor: &MemAnchor{}, Tolerance: 2 * time.Minute, CheckpointEvery: 8,
	}
}

// Options returns store options for this Env.
func (e *Env) Options() store.Options {
	return store.Options{Clock: e.Clock.Now, ClockTolerance: e.Tolerance, CheckpointEvery: e.CheckpointEvery,
		Identity: e.Identity, Anchor: e.Anchor}
}

// Open opens the store without registering any cleanup.
func (e *Env) Open() (*store.Store, error) { return store.Open(e.Path, e.Options()) }

// MustOpen opens the store, failing the test on error, and registers a
// cleanup that checks the store (chain verifies with the identity key, the
// ledger is consistent) and closes it. If the test closed the store, the
// cleanup re-opens it to check.
func (e *Env) MustOpen(t testing.TB) *store.Store {
	t.Helper()
	s, err := e.Open()
	if err != nil {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { e.check(t, s) })
	return s
}

func (e *Env) check(t testing.TB, s *store.Store) {
	t.Helper()
	if err := s.CheckConsistency(); err != nil {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("cleanup: %v", err)
			_ = s.Close()
			return
		}
		// Closed by the test: re-open to check.
		s2, err := e.Open()
		if err != nil && !errors.Is(err, store.ErrRolledBack) {
			t.Errorf("cleanup: re-open: %v", err)
			return
		}
		defer s2.Close()
		if cerr := s2.CheckConsistency(); cerr != nil {
			t.Errorf("cleanup: %v", cerr)
		}
		if err == nil {
			if _, verr := s2.VerifyAudit(); verr != nil {
				t.Errorf("cleanup: %v", verr)
			}
		}
		return
	}
	defer s.Close()
	if _, err := s.VerifyAudit(); err != nil && !errors.Is(err, store.ErrRolledBack) {
		t.Errorf("cleanup: %v", err)
	}
}

// MustOpenStore opens a store on a fresh temp dir (see NewEnv, MustOpen).
func MustOpenStore(t testing.TB) *store.Store {
	t.Helper()
	return NewEnv(t).MustOpen(t)
}
