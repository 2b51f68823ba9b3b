package files

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadCapped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit   int64
		wantErr bool
	}{{10, false}, {11, false}, {9, true}, {0, true}} {
		data, err := ReadCapped(path, tc.limit)
		if tc.wantErr {
			if !errors.Is(err, ErrTooLarge) || data != nil {
				t.Errorf("limit %d: %q, %v; want ErrTooLarge and no data", tc.limit, data, err)
			}
			continue
		}
		if err != nil || string(data) != "0123456789" {
			t.Errorf("limit %d: %q, %v", tc.limit, data, err)
		}
	}
	if _, err := ReadCapped(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteFileAtomicMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := WriteFileAtomic(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries in dir; the temp file was left behind", len(ents))
	}
	if err := WriteFileAtomic(filepath.Join(dir, ".hidden"), []byte("x"), 0o600); !errors.Is(err, ErrBadName) {
		t.Errorf("hidden name: %v, want ErrBadName", err)
	}
}
