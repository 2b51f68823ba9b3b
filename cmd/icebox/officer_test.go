package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/officer"
)

// TestOfficerKeygenCLI runs the real binary.
func TestOfficerKeygenCLI(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "icebox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pp := filepath.Join(dir, "pp")
	os.WriteFile(pp, []byte("correct horse battery staple\n"), 0o600)
	key := filepath.Join(dir, "alice.key")

	cmd := exec.Command(bin, "officer", "keygen", "-o", key, "--passphrase-file", pp)
	cmd.Env = append(os.Environ(), officer.PassphraseEnv+"=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`public key:\s+(ed25519:[0-9a-f]{64})\nfingerprint: ([0-9a-f:]+)\n`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("output lacks roster line and fingerprint:\n%s", out)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	s, err := officer.Load(key, []byte("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Public().String() != m[1] || s.Public().Fingerprint() != m[2] {
		t.Fatalf("printed %s / %s, file holds %s", m[1], m[2], s.Public())
	}
	if _, err := officer.Load(key, []byte("another passphrase")); err == nil {
		t.Fatal("wrong passphrase opened the key")
	}

	// Never overwrites; the env variable is a passphrase source too.
	before, _ := os.ReadFile(key)
	cmd = exec.Command(bin, "officer", "keygen", "-o", key)
	cmd.Env = append(os.Environ(), officer.PassphraseEnv+"=correct horse battery staple")
	out, err = cmd.CombinedOutput()
	after, _ := os.ReadFile(key)
	if err == nil || !strings.Contains(string(out), "already exists") || string(before) != string(after) {
		t.Fatalf("overwrite: %v %s", err, out)
	}
	key2 := filepath.Join(dir, "bob.key")
	cmd = exec.Command(bin, "officer", "keygen", "-o", key2)
	cmd.Env = append(os.Environ(), officer.PassphraseEnv+"=correct horse battery staple")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("env passphrase: %v %s", err, out)
	}
	// Too short a passphrase, and no passphrase source at all (stdin is no terminal).
	cmd = exec.Command(bin, "officer", "keygen", "-o", filepath.Join(dir, "c.key"))
	cmd.Env = append(os.Environ(), officer.PassphraseEnv+"=short")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "passphrase too short") {
		t.Fatalf("short passphrase: %v %s", err, out)
	}
	cmd = exec.Command(bin, "officer", "keygen", "-o", filepath.Join(dir, "d.key"))
	cmd.Env = append(os.Environ(), officer.PassphraseEnv+"=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no passphrase") {
		t.Fatalf("no passphrase: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "d.key")); err == nil {
		t.Fatal("a key file was written without a passphrase")
	}
}
