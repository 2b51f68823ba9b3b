package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/internal/world"
)

// runIn runs a real binary in the world's environment and directory.
func runIn(t *testing.T, w *world.World, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = w.Env, w.Dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
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

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}

// TestRollbackAcknowledgement restores an old copy of the bbolt store under
// a real SoftHSM2 anchor and runs the operator path with the real binaries:
// every signing command refuses, bad acknowledgements are refused, a valid
// admin-quorum acknowledgement lets iceboxd sign again, the audit export
// verifies, and the same acknowledgement cannot be replayed later.
func TestRollbackAcknowledgement(t *testing.T) {
	w := newWorld(t, world.Options{UTXOsPerAddress: 2})
	icebox := filepath.Join(filepath.Dir(w.IceboxdBin), "icebox")
	D := func(args ...string) result {
		return runIn(t, w, w.IceboxdBin, append([]string{"--config", w.Config}, args...)...)
	}
	must := mustSub(t)
	writeReq := func(s *world.Submission) string {
		p := filepath.Join(w.Dir, s.ID+".icebox")
		if err := os.WriteFile(p, s.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	db := filepath.Join(w.Dir, "store", storeFileName)
	old := filepath.Join(w.Dir, "icebox.db.backup")
	copyFile(t, db, old)

	// Sign after the backup: the HSM anchor moves past the copy.
	req1 := writeReq(must(w.BTCSweep("rb-1", 0, 0)))
	if r := D("sign", req1, "-o", filepath.Join(w.Dir, "rb-1.response")); r.code != 0 {
		t.Fatalf("sign rb-1: %d %s", r.code, r.stderr)
	}
	copyFile(t, old, db) // the old disk is restored

	req2 := writeReq(must(w.BTCSweep("rb-2", 1, 0)))
	resp2 := filepath.Join(w.Dir, "rb-2.response")
	refusals := map[string][]string{
		"sign":         {"sign", req2, "-o", resp2},
		"serve":        {"serve", "--poll", "20ms"},
		"policy show":  {"policy", "show"},
		"audit export": {"audit", "export", "-o", filepath.Join(w.Dir, "never.jsonl")},
	}
	for name, args := range refusals {
		r := D(args...)
		if r.code != exitRolledBack || !strings.Contains(r.stderr, "older than the HSM audit anchor") ||
			!strings.Contains(r.stderr, "iceboxd rollback status") || !strings.Contains(r.stderr, "iceboxd rollback acknowledge") {
			t.Errorf("%s on a restored store: exit %d, stderr:\n%s", name, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(resp2); !os.IsNotExist(err) {
		t.Fatalf("a response was written from a quarantined store: %v", err)
	}

	st := D("rollback", "status")
	if st.code != exitRolledBack || !strings.Contains(st.stdout, "QUARANTINED") || !strings.Contains(st.stdout, "older copy was restored") {
		t.Fatalf("rollback status: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	m := regexp.MustCompile(`--store-seq (\d+) --store-head ([0-9a-f]{64}) --anchor-seq (\d+) --anchor-head ([0-9a-f]{64}) --roster-hash ([0-9a-f]{64})`).FindStringSubmatch(st.stdout)
	if m == nil {
		t.Fatalf("rollback status names no acknowledgement values:\n%s", st.stdout)
	}
	storeSeq, storeHead, anchorSeq, anchorHead, rosterHash := m[1], m[2], m[3], m[4], m[5]

	propose := func(name, storeSeq, storeHead string, signers ...string) string {
		t.Helper()
		p := filepath.Join(w.Dir, name)
		r := runIn(t, w, icebox, "admin", "propose-rollback-ack", "--store-seq", storeSeq, "--store-head", storeHead,
			"--anchor-seq", anchorSeq, "--anchor-head", anchorHead, "--roster-hash", rosterHash,
			"--reason", "disk replaced; continuing from the backup taken before rb-1", "-o", p)
		if r.code != 0 {
			t.Fatalf("propose-rollback-ack: %d %s", r.code, r.stderr)
		}
		for _, who := range signers {
			r := runIn(t, w, icebox, "admin", "sign", p, "--id", who, "--key", filepath.Join(w.Dir, who+".key"),
				"--passphrase-file", filepath.Join(w.Dir, "passphrase"), "--yes")
			if r.code != 0 {
				t.Fatalf("admin sign as %s: %d %s", who, r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "ROLLBACK ACKNOWLEDGEMENT") {
				t.Fatalf("admin sign does not say what is signed:\n%s", r.stdout)
			}
		}
		return p
	}
	otherHead := strings.Repeat("ab", 32)
	bad := []struct {
		name string
		ack  string
		want string
	}{
		{"one admin", propose("one.ack", storeSeq, storeHead, "alice"), "1 of 2 required admin signatures"},
		{"non-admin", propose("nonadmin.ack", storeSeq, storeHead, "alice", "hot-1"), "hot-1 does not have the admin role"},
		{"another head", propose("other.ack", storeSeq, otherHead, "alice", "bob"), "store_seq/store_head"},
		{"another seq", propose("seq.ack", "1", storeHead, "alice", "bob"), "store_seq/store_head"},
	}
	for _, c := range bad {
		r := D("rollback", "acknowledge", c.ack)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant a refusal containing %q", c.name, r.code, r.stderr, c.want)
		}
		if s := D("rollback", "status"); s.code != exitRolledBack {
			t.Fatalf("%s: the store left quarantine: %d %s", c.name, s.code, s.stdout)
		}
	}
	// A policy change bundle is not an acknowledgement.
	if r := D("rollback", "acknowledge", filepath.Join(w.Dir, "policy.change")); r.code == 0 || !strings.Contains(r.stderr, "want rollback-ack") {
		t.Errorf("policy change as acknowledgement: %d %s", r.code, r.stderr)
	}

	good := propose("good.ack", storeSeq, storeHead, "alice", "bob")
	goodData, _ := os.ReadFile(good)
	r := D("rollback", "acknowledge", good)
	if r.code != 0 || !strings.Contains(r.stdout, "rollback acknowledged by alice, bob") {
		t.Fatalf("valid acknowledgement: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := D("rollback", "status"); r.code != 0 || !strings.Contains(r.stdout, "nothing to acknowledge") {
		t.Fatalf("status after acknowledgement: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := D("rollback", "acknowledge", good); r.code == 0 || !strings.Contains(r.stderr, "no rollback to acknowledge") {
		t.Fatalf("second acknowledgement: %d %s", r.code, r.stderr)
	}
	if r := D("sign", req2, "-o", resp2); r.code != 0 {
		t.Fatalf("sign after acknowledgement: %d %s", r.code, r.stderr)
	}

	export := filepath.Join(w.Dir, "audit.jsonl")
	if r := D("audit", "export", "-o", export); r.code != 0 {
		t.Fatalf("audit export: %d %s", r.code, r.stderr)
	}
	if r := runIn(t, w, icebox, "audit", "verify", export, "--manifest", filepath.Join(w.Dir, "manifest.json")); r.code != 0 {
		t.Fatalf("icebox audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	exported, _ := os.ReadFile(export)
	if !bytes.Contains(exported, []byte(`"rollback-acknowledged"`)) || !bytes.Contains(exported, []byte("approved by alice, bob")) {
		t.Fatalf("audit export lacks the acknowledgement record")
	}

	// The same old copy restored again: the anchor has moved on, so the old
	// acknowledgement no longer matches and the store stays refused.
	copyFile(t, old, db)
	if r := D("rollback", "acknowledge", good); r.code == 0 || !strings.Contains(r.stderr, "anchor_seq/anchor_head") {
		t.Fatalf("replayed acknowledgement: %d %s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(good); !bytes.Equal(again, goodData) {
		t.Fatal("acknowledge modified the acknowledgement file")
	}
	if r := D("sign", req2, "-o", filepath.Join(w.Dir, "rb-2.again")); r.code != exitRolledBack {
		t.Fatalf("sign on the re-restored store: %d %s", r.code, r.stderr)
	}
}
