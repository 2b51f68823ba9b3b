package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store/audit"
)

type edTestSigner struct{ priv ed25519.PrivateKey }

func (e edTestSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: []byte(e.priv.Public().(ed25519.PublicKey))}
}
func (e edTestSigner) Sign(m []byte) ([]byte, error) { return ed25519.Sign(e.priv, m), nil }

func edSignerFromSeed(seed string) edTestSigner {
	s := sha256.Sum256([]byte(seed))
	return edTestSigner{ed25519.NewKeyFromSeed(s[:])}
}

// The fixtures in store/audit/testdata are signed by this key.
func auditFixtureKey() sigkey.PublicKey { return edSignerFromSeed("audit fixture identity").Public() }

// writeManifest writes a manifest (no entries) signed by seed's key.
func writeManifest(t *testing.T, seed string) string {
	t.Helper()
	s := edSignerFromSeed(seed)
	m := &manifest.Manifest{Signer: s.Public(), Created: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	b, err := manifest.Sign(m, s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runIcebox(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs(args)
	err := rootCmd.Execute()
	// Reset flags between runs (cobra keeps values).
	auditVerifyCmd.Flags().VisitAll(func(f *pflag.Flag) {
		_ = f.Value.Set(f.DefValue)
		f.Changed = false
	})
	return out.String(), err
}

func TestAuditVerifyCommand(t *testing.T) {
	td := filepath.Join("..", "..", "store", "audit", "testdata")
	key := auditFixtureKey()
	goodManifest := writeManifest(t, "audit fixture identity")
	otherManifest := writeManifest(t, "someone else")
	tests := []struct {
		name    string
		args    []string
		wantErr error
		wantOut string
	}{
		{"ok with key", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--signer-key", key.String()}, nil, "12 records"},
		{"ok with fingerprint", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--signer", strings.ToUpper(key.Fingerprint())}, nil, "4 unanchored"},
		{"ok with manifest", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--manifest", goodManifest}, nil, "not pinned"},
		{"ok with pinned manifest", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--manifest", goodManifest, "--signer", key.Fingerprint()}, nil, "12 records"},
		{"manifest of another signer", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--manifest", otherManifest}, audit.ErrWrongSigner, ""},
		{"manifest pinned to another fingerprint", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--manifest", goodManifest, "--signer", edSignerFromSeed("x").Public().Fingerprint()}, manifest.ErrWrongSigner, ""},
		{"edited", []string{"audit", "verify", filepath.Join(td, "expfail_edited.jsonl"), "--signer-key", key.String()}, audit.ErrTampered, ""},
		{"truncated", []string{"audit", "verify", filepath.Join(td, "expfail_truncated.jsonl"), "--signer-key", key.String()}, audit.ErrTruncated, ""},
		{"wrong fingerprint", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--signer", "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"}, audit.ErrWrongSigner, ""},
		{"no trust source", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl")}, errAuditTrust, ""},
		{"bad key", []string{"audit", "verify", filepath.Join(td, "ok_export.jsonl"), "--signer-key", "ed25519:00"}, errAuditTrust, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runIcebox(t, tc.args...)
			if tc.wantErr == nil {
				if err != nil || !strings.Contains(out, tc.wantOut) {
					t.Fatalf("err %v, output %q; want %q", err, out, tc.wantOut)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
	// The operator sees the failing line and record.
	_, err := runIcebox(t, "audit", "verify", filepath.Join(td, "expfail_edited.jsonl"), "--signer-key", key.String())
	var buf bytes.Buffer
	if code := exitWith(&buf, err); code == 0 || !strings.Contains(buf.String(), "line 10 (record seq 7)") {
		t.Errorf("exit %d, message %q", code, buf.String())
	}
	if _, err := os.Stat(filepath.Join(td, "ok_export.jsonl")); err != nil {
		t.Fatal(err)
	}
}
