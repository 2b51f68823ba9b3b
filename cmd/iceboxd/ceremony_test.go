package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// ceremonyConfigFile writes an iceboxd config for tok with the given backup
// mode and an SO PIN file, in its own directory (own store).
func ceremonyConfigFile(t *testing.T, tok *softhsmtest.Token, backup string) string {
	t.Helper()
	dir := t.TempDir()
	so := filepath.Join(dir, "so.pin")
	if err := os.WriteFile(so, []byte(tok.SOPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`hsm:
  module: %s
  token_label: %s
  pin_file: %s
  so_pin_file: so.pin
  backup: %s
  sessions: 2
store:
  dir: store
networks:
  btc: btc-regtest
  eth: eth-1337
`, tok.ModulePath, tok.Label, tok.PINFile, backup)
	p := filepath.Join(dir, "iceboxd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenObjects lists the token's objects with an independent tool.
func tokenObjects(t *testing.T, tok *softhsmtest.Token) string {
	t.Helper()
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		t.Fatal("pkcs11-tool missing: sudo apt-get install -y opensc")
	}
	o, err := exec.Command(tool, "--module", tok.ModulePath, "--token-label", tok.Label,
		"--login", "--pin", tok.UserPIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, o)
	}
	return string(o)
}

func countKeyObjects(objs string) int {
	return strings.Count(objs, "Private Key Object") + strings.Count(objs, "Public Key Object") +
		strings.Count(objs, "Secret Key Object") + strings.Count(objs, "Data object")
}

func mustRun(t *testing.T, bin string, args ...string) result {
	t.Helper()
	r := run(t, bin, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s\n%s", filepath.Base(bin), strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestCLIRestoreDrill is the restore drill of docs/ceremony.md with the real
// binaries and two SoftHSM2 tokens: back up a signer, refuse every bad
// restore without creating anything on the target, restore with exactly M
// shares, and check that the restored token is the same signer and that
// both ceremonies are in the audit logs.
func TestCLIRestoreDrill(t *testing.T) {
	iceboxd, icebox := buildBinaries(t)
	src := softhsmtest.NewToken(t, softhsmtest.Options{Label: "drill-src"})
	dst := softhsmtest.NewToken(t, softhsmtest.Options{Label: "drill-dst"})
	srcCfg := ceremonyConfigFile(t, src, "wrap-with-trusted")
	dstCfg := ceremonyConfigFile(t, dst, "none")
	out := t.TempDir()

	r := mustRun(t, iceboxd, "--config", srcCfg, "init")
	fp := regexp.MustCompile(`signer fingerprint: (\S+)`).FindStringSubmatch(r.stdout)
	if fp == nil || !strings.Contains(r.stdout, "p256") {
		t.Fatalf("init in backup mode must make a P-256 identity:\n%s", r.stdout)
	}
	mustRun(t, iceboxd, "--config", srcCfg, "keys", "generate", "--chain", "btc", "--count", "2")
	mustRun(t, iceboxd, "--config", srcCfg, "keys", "generate", "--chain", "eth", "--count", "1")
	published := filepath.Join(out, "manifest.json")
	mustRun(t, iceboxd, "--config", srcCfg, "keys", "manifest", "-o", published)
	srcList := mustRun(t, iceboxd, "--config", srcCfg, "keys", "list", "--json").stdout

	bobPass := filepath.Join(out, "bob.pass")
	if err := os.WriteFile(bobPass, []byte("bob's long share passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(out, "backup.json")
	r = mustRun(t, iceboxd, "--config", srcCfg, "keys", "backup", "-o", backup,
		"--shares", "3", "--threshold", "2", "--officers", "alice,bob,carol", "--share-passphrase", "bob="+bobPass,
		"--manifest", published)
	for _, want := range []string{"KEY CEREMONY — BACKUP", "split 2 of 3", "alice", "passphrase-encrypted", "PLAIN", fp[1]} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("backup transcript lacks %q:\n%s", want, r.stdout)
		}
	}
	shares, _ := filepath.Glob(filepath.Join(out, "*.share.json"))
	if len(shares) != 3 {
		t.Fatalf("%d share files, want 3", len(shares))
	}
	share := func(officer string) string {
		for _, s := range shares {
			if strings.HasSuffix(s, "-"+officer+".share.json") {
				return s
			}
		}
		t.Fatalf("no share for %s", officer)
		return ""
	}
	if bytes.Contains(mustRead(t, backup), []byte(`"share"`)) {
		t.Fatal("the backup file must not contain shares")
	}

	// A second backup of the same signer: its shares must not open the first.
	other := filepath.Join(out, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	mustRun(t, iceboxd, "--config", srcCfg, "keys", "backup", "-o", filepath.Join(other, "backup.json"),
		"--shares", "2", "--threshold", "2", "--officers", "alice,bob")
	otherShares, _ := filepath.Glob(filepath.Join(other, "*-alice.share.json"))

	corrupted := filepath.Join(out, "corrupted-alice.share.json")
	writeMutated(t, share("alice"), corrupted, regexp.MustCompile(`"share": "([0-9a-f])`), flipLast)
	tampered := filepath.Join(out, "tampered-backup.json")
	writeMutated(t, backup, tampered, regexp.MustCompile(`"wrapped": "([0-9a-f])`), flipLast)
	wrongPass := filepath.Join(out, "wrong.pass")
	if err := os.WriteFile(wrongPass, []byte("not bob's passphrase at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		args []string
		say  string
	}{
		{"M-1 shares", []string{backup, "--share", share("alice")}, "needs 2 of 3"},
		{"corrupted share", []string{backup, "--share", corrupted, "--share", share("carol")}, "alice's share is corrupted"},
		{"share of another backup", []string{backup, "--share", otherShares[0], "--share", share("carol")}, "belongs to backup"},
		{"tampered backup file", []string{tampered, "--share", share("alice"), "--share", share("carol")}, "integrity check failed"},
		{"wrong share passphrase", []string{backup, "--share", share("alice"), "--share", share("bob"), "--share-passphrase", "bob=" + wrongPass}, "does not open"},
		{"encrypted share without passphrase", []string{backup, "--share", share("alice"), "--share", share("bob")}, "a passphrase is needed"},
		{"wrong published manifest", []string{backup, "--share", share("alice"), "--share", share("carol"), "--manifest", bobPass}, "not the manifest"},
		{"wrong signer", []string{backup, "--share", share("alice"), "--share", share("carol"), "--signer", "0000 1111"}, "not --signer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, iceboxd, append([]string{"--config", dstCfg, "keys", "restore"}, c.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, c.say) {
				t.Fatalf("exit %d, want failure saying %q:\n%s", r.code, c.say, r.stderr)
			}
			if objs := tokenObjects(t, dst); countKeyObjects(objs) != 0 {
				t.Fatalf("a refused restore left objects on the target:\n%s", objs)
			}
		})
	}

	// The drill: exactly M shares (one of them encrypted) on the empty token.
	transcript := filepath.Join(out, "restore-transcript.txt")
	r = mustRun(t, iceboxd, "--config", dstCfg, "keys", "restore", backup,
		"--share", share("carol"), "--share", share("bob"), "--share-passphrase", "bob="+bobPass,
		"--manifest", published, "--signer", fp[1], "--transcript", transcript)
	for _, want := range []string{"KEY CEREMONY — RESTORE", "Shares presented: 2 (the backup needs 2 of 3)", "carol", "bob", "target token:      drill-dst", "signer fingerprint: " + fp[1]} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("restore transcript lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, " challenge "); n != 4 {
		t.Fatalf("%d proofs in the transcript, want 4 (3 signing keys + identity):\n%s", n, r.stdout)
	}
	if !bytes.Equal(mustRead(t, transcript), []byte(r.stdout[:strings.Index(r.stdout, "\naudit record:")])) {
		t.Fatal("--transcript file differs from the printed transcript")
	}

	// The target is the same signer: same keys, same addresses, and a
	// manifest from the target verifies under the pinned fingerprint.
	if got := mustRun(t, iceboxd, "--config", dstCfg, "keys", "list", "--json").stdout; got != srcList {
		t.Fatalf("restored keys differ:\n%s\nwant\n%s", got, srcList)
	}
	var listed []keyView
	if err := json.Unmarshal([]byte(srcList), &listed); err != nil || len(listed) != 3 {
		t.Fatalf("keys list: %v %d", err, len(listed))
	}
	again := filepath.Join(out, "manifest-from-target.json")
	mustRun(t, iceboxd, "--config", dstCfg, "keys", "manifest", "-o", again)
	mustRun(t, icebox, "manifest", "verify", again, "--signer", fp[1])
	objs := tokenObjects(t, dst)
	if n := strings.Count(objs, "Private Key Object"); n != 4 || strings.Contains(objs, "Secret Key Object") {
		t.Fatalf("target objects: want 4 private keys and no wrapping key:\n%s", objs)
	}

	// Both ceremonies documented themselves in the audit logs.
	for _, c := range []struct {
		cfg, decision string
		want          []string
	}{
		{srcCfg, "backup", []string{"held by alice", "held by bob", "held by carol", "manifest_sha256="}},
		{dstCfg, "restore", []string{"presented by carol", "presented by bob", "manifest_sha256=", "target_token=drill-dst"}},
	} {
		exp := filepath.Join(out, c.decision+"-audit.jsonl")
		mustRun(t, iceboxd, "--config", c.cfg, "audit", "export", "-o", exp)
		log := string(mustRead(t, exp))
		if !strings.Contains(log, `"kind":"key-ceremony"`) || !strings.Contains(log, `"decision":"`+c.decision+`"`) {
			t.Fatalf("%s audit log lacks the key-ceremony %s record:\n%s", c.decision, c.decision, log)
		}
		for _, w := range c.want {
			if !strings.Contains(log, w) {
				t.Fatalf("%s audit record lacks %q:\n%s", c.decision, w, log)
			}
		}
		mustRun(t, iceboxd, "--config", c.cfg, "audit", "verify")
	}

	// The restored token was set up in the default mode: its keys are
	// non-extractable and a backup of it is refused.
	r = run(t, iceboxd, "--config", dstCfg, "keys", "backup", "-o", filepath.Join(out, "again.json"),
		"--shares", "2", "--threshold", "2", "--officers", "alice,bob")
	if r.code == 0 || !strings.Contains(r.stderr, "cannot be backed up") {
		t.Fatalf("backup in default mode: exit %d\n%s", r.code, r.stderr)
	}
}

// flipLast changes the last (hex) character of m.
func flipLast(m string) string {
	if m[len(m)-1] == '0' {
		return m[:len(m)-1] + "1"
	}
	return m[:len(m)-1] + "0"
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeMutated copies from to to with the first match of re replaced by fn.
func writeMutated(t *testing.T, from, to string, re *regexp.Regexp, fn func(string) string) {
	t.Helper()
	data := mustRead(t, from)
	loc := re.FindIndex(data)
	if loc == nil {
		t.Fatalf("%s: no match for %s", from, re)
	}
	mut := append(append(append([]byte(nil), data[:loc[0]]...), fn(string(data[loc[0]:loc[1]]))...), data[loc[1]:]...)
	if bytes.Equal(mut, data) {
		t.Fatal("mutation changed nothing")
	}
	if err := os.WriteFile(to, mut, 0o600); err != nil {
		t.Fatal(err)
	}
}
