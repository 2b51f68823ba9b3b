package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// h is shared by every test of the package: binaries built once, party
// keys generated once (scrypt is slow by design).
var h *Harness

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "icebox-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bins, err := Build(root, filepath.Join(dir, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if h, err = NewHarness(bins, keys, PartyIDs); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}
