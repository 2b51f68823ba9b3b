package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// buildBinaries compiles the real iceboxd and icebox into dir.
func buildBinaries(t *testing.T) (iceboxd, icebox string) {
	t.Helper()
	dir := t.TempDir()
	iceboxd, icebox = filepath.Join(dir, "iceboxd"), filepath.Join(dir, "icebox")
	for bin, pkg := range map[string]string{iceboxd: ".", icebox: "../icebox"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return iceboxd, icebox
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Env = append(os.Environ(), "ICEBOX_HSM_PIN=")
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return result{o.String(), e.String(), code}
}

func writeConfig(t *testing.T, dir string, tok *softhsmtest.Token, extra string) string {
	t.Helper()
	body := fmt.Sprintf(`hsm:
  module: %s
  token_label: %s
  pin_file: %s
  sessions: 2
  max_pin_failures: 3
store:
  dir: store
networks:
  btc: btc-regtest
  eth: eth-1337
%s`, tok.ModulePath, tok.Label, tok.PINFile, extra)
	p := filepath.Join(dir, "iceboxd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIInitKeysManifest(t *testing.T) {
	iceboxd, icebox := buildBinaries(t)
	tok := softhsmtest.NewToken(t, softhsmtest.Options{Label: "cli"})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, tok, "")

	r := run(t, iceboxd, "--config", cfg, "init")
	if r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	fp := regexp.MustCompile(`signer fingerprint: ([0-9a-f:]{49})`).FindStringSubmatch(r.stdout)
	if fp == nil || !strings.Contains(r.stdout, "(new)") {
		t.Fatalf("init output: %s", r.stdout)
	}
	if r2 := run(t, iceboxd, "--config", cfg, "init"); r2.code != 0 || !strings.Contains(r2.stdout, fp[1]) || !strings.Contains(r2.stdout, "(existing)") {
		t.Fatalf("second init must keep the identity: %+v", r2)
	}

	r = run(t, iceboxd, "--config", cfg, "keys", "generate", "--chain", "btc", "--count", "2")
	if r.code != 0 || len(regexp.MustCompile(`btc-key-000[12]  btc-regtest  bcrt1q[0-9a-z]+`).FindAllString(r.stdout, -1)) != 2 {
		t.Fatalf("generate btc: %+v", r)
	}
	r = run(t, iceboxd, "--config", cfg, "keys", "generate", "--chain", "eth", "--label", "hot")
	if r.code != 0 || !regexp.MustCompile(`eth-hot-0001  eth-1337  0x[0-9a-fA-F]{40}`).MatchString(r.stdout) {
		t.Fatalf("generate eth: %+v", r)
	}
	r = run(t, iceboxd, "--config", cfg, "keys", "generate", "--chain", "btc")
	if r.code != 0 || !strings.Contains(r.stdout, "btc-key-0003") {
		t.Fatalf("numbering continues: %+v", r)
	}

	r = run(t, iceboxd, "--config", cfg, "keys", "list", "--json")
	var keys []keyView
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &keys) != nil || len(keys) != 4 {
		t.Fatalf("keys list --json: %+v", r)
	}

	out := filepath.Join(dir, "manifest.json")
	if r = run(t, iceboxd, "--config", cfg, "keys", "manifest", "-o", out); r.code != 0 {
		t.Fatalf("manifest: %+v", r)
	}
	r = run(t, icebox, "manifest", "verify", out, "--signer", fp[1])
	if r.code != 0 || !strings.Contains(r.stdout, "manifest OK") {
		t.Fatalf("verify: %+v", r)
	}
	for _, k := range keys {
		if !strings.Contains(r.stdout, k.Address) {
			t.Errorf("verify output lacks %s", k.Address)
		}
	}
	// Wrong pinned signer and a tampered file fail.
	if r = run(t, icebox, "manifest", "verify", out, "--signer", strings.Repeat("0", 40)); r.code == 0 {
		t.Fatalf("verify with another fingerprint succeeded")
	}
	data, _ := os.ReadFile(out)
	tampered := filepath.Join(dir, "tampered.json")
	_ = os.WriteFile(tampered, bytes.Replace(data, []byte(keys[0].Address), []byte(keys[1].Address), 1), 0o644)
	if r = run(t, icebox, "manifest", "verify", tampered, "--signer", fp[1]); r.code == 0 {
		t.Fatalf("tampered manifest verified")
	}

	// An independent PKCS#11 tool sees the keys as sensitive, never extractable.
	if tool, err := exec.LookPath("pkcs11-tool"); err == nil {
		cmd := exec.Command(tool, "--module", tok.ModulePath, "--token-label", tok.Label,
			"--login", "--pin", tok.UserPIN, "--list-objects", "--type", "privkey")
		o, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool: %v\n%s", err, o)
		}
		if n := strings.Count(string(o), "sensitive, always sensitive, never extractable"); n != 5 {
			t.Fatalf("pkcs11-tool shows %d sensitive never-extractable keys, want 5 (4 + identity):\n%s", n, o)
		}
	} else {
		t.Fatalf("pkcs11-tool missing: sudo apt-get install -y opensc")
	}
}

func TestCLIOperatorErrors(t *testing.T) {
	iceboxd, _ := buildBinaries(t)
	tok := softhsmtest.NewToken(t, softhsmtest.Options{Label: "errs"})
	dir := t.TempDir()
	wrongPIN := filepath.Join(dir, "wrong.pin")
	_ = os.WriteFile(wrongPIN, []byte("00000000\n"), 0o600)

	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	base := func(module, label, pin string) string {
		return fmt.Sprintf("hsm:\n  module: %s\n  token_label: %s\n  pin_file: %s\n  max_pin_failures: 3\nstore:\n  dir: store\nnetworks:\n  btc: btc-regtest\n", module, label, pin)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"wrong PIN", []string{"--config", write("a.yaml", base(tok.ModulePath, tok.Label, wrongPIN)), "init"}, exitHSMAccess, "wrong HSM user PIN"},
		{"missing module", []string{"--config", write("b.yaml", base("/nope/libp11.so", tok.Label, tok.PINFile)), "init"}, exitHSMDevice, "cannot load the PKCS#11 module"},
		{"missing token", []string{"--config", write("c.yaml", base(tok.ModulePath, "absent", tok.PINFile)), "init"}, exitHSMDevice, "HSM token not found"},
		{"unknown key", []string{"--config", write("d.yaml", base(tok.ModulePath, tok.Label, tok.PINFile)+"polcy_file: x\n"), "init"}, exitConfig, "polcy_file"},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml"), "init"}, exitConfig, "none.yaml"},
		{"no config flag", []string{"init"}, exitConfig, "--config FILE is required"},
		{"bad network", []string{"--config", write("e.yaml", strings.Replace(base(tok.ModulePath, tok.Label, tok.PINFile), "btc-regtest", "eth-1", 1)), "init"}, exitConfig, "networks.btc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, iceboxd, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d containing %q", r.code, r.stderr, c.code, c.stderr)
			}
			if strings.Contains(r.stderr, tok.UserPIN) || strings.Contains(r.stderr, "00000000") {
				t.Fatalf("PIN leaked: %s", r.stderr)
			}
		})
	}
	// The wrong-PIN counter locks after max_pin_failures (3): attempt 1 was above.
	a := filepath.Join(dir, "a.yaml")
	run(t, iceboxd, "--config", a, "init")
	r := run(t, iceboxd, "--config", a, "init")
	if r.code != exitHSMAccess || !strings.Contains(r.stderr, "PIN is locked") {
		t.Fatalf("third wrong PIN: %d %s", r.code, r.stderr)
	}
}
