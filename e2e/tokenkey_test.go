package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/sigkey"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// TestApproveWithTokenKey enrols an officer whose P-256 key lives on a
// SECOND SoftHSM2 token (as on a YubiKey/PIV card): the key is generated on
// the token with pkcs11-tool, its roster line comes from "icebox officer
// pubkey --key pkcs11:...", and the real "icebox approve --key pkcs11:..."
// approval counts toward the 2-of-N quorum with which iceboxd signs.
func TestApproveWithTokenKey(t *testing.T) {
	module, err := softhsmtest.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	const pin = "31415926"
	env := cleanEnv("SOFTHSM2_CONF="+conf, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	MustRun(t, env, "softhsm2-util", "--init-token", "--free", "--label", "officer-erin", "--so-pin", soPIN, "--pin", pin)
	MustRun(t, env, "pkcs11-tool", "--module", module, "--token-label", "officer-erin", "--login", "--pin", pin,
		"--keypairgen", "--key-type", "EC:prime256v1", "--label", "erin-approval", "--id", "e1")
	pinFile := filepath.Join(dir, "erin.pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "pkcs11:token=officer-erin;object=erin-approval?module-path=" + module + "&pin-source=file:" + pinFile

	pk := MustRun(t, env, h.Bins.Icebox, "officer", "pubkey", "--key", uri)
	m := regexp.MustCompile(`public key:\s+(p256:[0-9a-f]{66})\nfingerprint: ([0-9a-f:]+)\n`).FindStringSubmatch(pk.Stdout)
	if m == nil {
		t.Fatalf("officer pubkey printed no p256 roster line:\n%s", pk)
	}
	erin, err := sigkey.ParsePublicKey(m[1])
	if err != nil || erin.Fingerprint() != m[2] {
		t.Fatalf("roster line %s / %s: %v", m[1], m[2], err)
	}

	s := h.NewSigner(t, SignerOptions{
		Roster: func(h *Harness) string {
			return DefaultRoster(h) + fmt.Sprintf("  - id: erin\n    key: %s\n    roles: [officer]\n", erin)
		},
		Policy: func(d Destinations) string {
			p := DefaultPolicy(d)
			out := strings.Replace(p, "treasury: [alice, bob, carol, dave]", "treasury: [alice, bob, carol, dave, erin]", 1)
			if out == p {
				t.Fatal("default policy has no treasury group to extend")
			}
			return out
		},
	})
	req := s.SweepBTC(t, "token-approval", "--max-inputs", "5", "--fee-rate", "5")
	approve := func(key string) Result {
		args := append([]string{"approve", req, "--id", "erin", "--policy", s.PolicyFile, "--roster", s.RosterFile, "--yes", "--key", key}, s.ManifestFlags()...)
		return Run(t, env, h.Bins.Icebox, args...)
	}

	// A URI carrying the PIN is refused before any token is touched.
	if r := approve("pkcs11:token=officer-erin;object=erin-approval?module-path=" + module + "&pin-value=" + pin); r.Code == 0 ||
		!strings.Contains(r.Stderr, "pin-value") || strings.Contains(r.Stderr, pin) {
		t.Fatalf("pin-value URI: %s", r)
	}
	// erin approves with the token key; with alice's key file that makes 2.
	if r := approve(uri); r.Code != 0 || !strings.Contains(r.Stdout, "approved by erin") {
		t.Fatalf("approve with token key: %s", r)
	}
	rq := ReadRequest(t, req)
	if len(rq.Approvals) != 1 || rq.Approvals[0].Officer != "erin" {
		t.Fatalf("approvals %+v", rq.Approvals)
	}
	s.Approve(t, req, "alice")
	s.ExpectSigned(t, s.Sign(t, req), "token-approval", 3)
	rec := s.Audit(t)
	last := rec[len(rec)-1]
	if !strings.Contains(fmt.Sprint(last.Approvers), "erin") {
		t.Fatalf("audit approvers %v do not include the token officer", last.Approvers)
	}
}
