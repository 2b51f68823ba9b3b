package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
)

// TestServe: two requests dropped atomically into the inbox are answered in
// the outbox and archived; a partially written file is never read; SIGTERM
// stops the daemon promptly with exit 0.
func TestServe(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{})
	btcReq := s.Request(t, "sweep", "served-btc", "hot-1", "--utxos", s.utxoSubset(t, 0, 1, 2), "--to", s.Dest.VaultBTC)
	ethReq := s.SweepETH(t, "served-eth")
	partial := s.Request(t, "sweep", "served-partial", "hot-1", "--utxos", s.utxoSubset(t, 3), "--to", s.Dest.VaultBTC)
	for _, p := range []string{btcReq, ethReq, partial} {
		s.Approve(t, p, "alice", "bob")
	}
	for _, dir := range []string{s.Inbox, s.Outbox, s.Archive} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A copy still in progress: a .part name that is never renamed, and a
	// temp name.
	pdata, err := os.ReadFile(partial)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"served-partial.icebox.part", "served-partial.icebox.tmp"} {
		if err := os.WriteFile(filepath.Join(s.Inbox, name), pdata[:len(pdata)/2], 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var stderr bytes.Buffer
	cmd := exec.Command(h.Bins.Iceboxd, "--config", s.Config, "serve", "--poll", "100ms")
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	for _, p := range []string{btcReq, ethReq} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := files.WriteAtomic(s.Inbox, filepath.Base(p), data); err != nil {
			t.Fatal(err)
		}
	}

	// An oversize file is refused unread, with the reason.
	if err := files.WriteAtomic(s.Inbox, "huge.icebox", make([]byte, bundle.DefaultLimits().MaxRequestBytes+1)); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"served-btc": 1, "served-eth": 6, "": 0}
	got := map[string]*bundle.Response{}
	deadline := time.Now().Add(90 * time.Second)
	for len(got) < len(want) {
		select {
		case err := <-exited:
			t.Fatalf("iceboxd serve exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("responses after 90 s: %v\n%s", keys(got), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
		ents, err := os.ReadDir(s.Outbox)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), files.Ext) {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(s.Outbox, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			resp := s.VerifyResponse(t, raw)
			got[resp.RequestID] = resp
		}
	}
	for id, n := range want {
		r := got[id]
		if id == "" {
			if r.Status != bundle.StatusRefused || r.Refusal.Stage != "decode" || !strings.Contains(r.Refusal.Reason, "too large") {
				t.Errorf("oversize file: %s %+v, want a decode refusal saying it is too large", r.Status, r.Refusal)
			}
			continue
		}
		if r == nil || r.Status != bundle.StatusSigned || len(r.Signed) != n {
			t.Errorf("response for %s: %+v, want %d signed transactions", id, r, n)
		}
	}

	// Let the inbox be polled a few more times: the partial files stay
	// unread and unanswered.
	time.Sleep(500 * time.Millisecond)
	if _, ok := got["served-partial"]; ok {
		t.Error("a partially written file was answered")
	}
	if names := dirNames(t, s.Archive); strings.Join(names, ",") != "huge.icebox,served-btc.icebox,served-eth.icebox" {
		t.Errorf("archive holds %v, want the three inputs", names)
	}
	if names := dirNames(t, s.Inbox); strings.Join(names, ",") != "served-partial.icebox.part,served-partial.icebox.tmp" {
		t.Errorf("inbox holds %v, want only the partial files", names)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("iceboxd serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("iceboxd serve still running 10 s after SIGTERM\n%s", stderr.String())
	}
	t.Logf("serve stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("serve logged errors:\n%s", stderr.String())
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
