package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/internal/world"
)

// newWorld builds iceboxd, icebox and demofund and sets up a complete signer
// environment (SoftHSM2 token, keys, manifest, governance) with them.
func newWorld(t *testing.T, opts world.Options) *world.World {
	t.Helper()
	bin := t.TempDir()
	for name, pkg := range map[string]string{"iceboxd": ".", "icebox": "../icebox", "demofund": "../../internal/demofund"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	opts.Dir, opts.Bin = t.TempDir(), bin
	w, err := world.Setup(opts)
	if err != nil {
		t.Fatalf("world setup: %v", err)
	}
	return w
}

// drop puts a request into the inbox the way a careful transfer does.
func drop(t *testing.T, w *world.World, s *world.Submission) string {
	t.Helper()
	if err := os.MkdirAll(w.Inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	name := s.ID + ".icebox"
	tmp := filepath.Join(w.Inbox, "."+name+".part")
	if err := os.WriteFile(tmp, s.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(w.Inbox, name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// daemon is a running `iceboxd serve`.
type daemonProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	errb bytes.Buffer
	done chan error
}

func (d *daemonProc) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errb.String()
}

type lockedWriter struct{ d *daemonProc }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	return l.d.errb.Write(p)
}

func startServe(t *testing.T, w *world.World, wrap ...string) *daemonProc {
	t.Helper()
	args := append(wrap, w.IceboxdBin, "--config", w.Config, "serve", "--poll", "20ms")
	d := &daemonProc{cmd: exec.Command(args[0], args[1:]...), done: make(chan error, 1)}
	d.cmd.Env = w.Env
	d.cmd.Stdout, d.cmd.Stderr = lockedWriter{d}, lockedWriter{d}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		d.done <- nil
	})
	return d
}

// exitCode waits for the daemon to exit by itself within timeout.
func (d *daemonProc) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-d.done:
		d.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("iceboxd serve still running after %s; stderr:\n%s", timeout, d.stderr())
		return -1
	}
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM; stderr:\n%s", code, d.stderr())
	}
}

// waitResponse waits for the response to s in the outbox and checks it:
// it decodes, verifies with the manifest's signer and answers s.
func waitResponse(t *testing.T, w *world.World, d *daemonProc, s *world.Submission, timeout time.Duration) *bundle.Response {
	t.Helper()
	path := filepath.Join(w.Outbox, s.ID+".response.icebox")
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			resp, err := bundle.DecodeResponse(data, bundle.Limits{})
			if err != nil {
				t.Fatalf("response %s: %v", path, err)
			}
			if err := bundle.VerifyResponse(resp, w.Manifest.Signer); err != nil {
				t.Fatalf("response %s: %v", path, err)
			}
			if resp.RequestID != s.ID || resp.RequestDigest != s.Digest {
				t.Fatalf("response answers %q %s, want %q %s", resp.RequestID, resp.RequestDigest, s.ID, s.Digest)
			}
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no response to %s after %s; serve stderr:\n%s", s.ID, timeout, d.stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noOutput asserts that the outbox holds no response to request id and no
// temporary file, and that the request is still in the inbox.
func noOutput(t *testing.T, w *world.World, inboxName, id string) {
	t.Helper()
	ents, _ := os.ReadDir(w.Outbox)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), id+".") {
			t.Errorf("outbox holds %s; want no output for %s", e.Name(), id)
		}
	}
	if _, err := os.Stat(filepath.Join(w.Inbox, inboxName)); err != nil {
		t.Errorf("request %s left the inbox: %v", inboxName, err)
	}
}

func mustSub(t *testing.T) func(*world.Submission, error) *world.Submission {
	return func(s *world.Submission, err error) *world.Submission {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestRealDaemon runs the real iceboxd binaries on one SoftHSM2 signer
// environment: the air-gap proof, then HSM faults, then disk faults.
func TestRealDaemon(t *testing.T) {
	w := newWorld(t, world.Options{MaxPINFailures: 3})
	t.Run("ServeStdin", func(t *testing.T) { testServeStdin(t, w) })
	t.Run("AirGap", func(t *testing.T) { testAirGap(t, w) })
	t.Run("HSMFaults", func(t *testing.T) { testHSMFaults(t, w) })
	// The HSM test ends with Icebox's PIN counter locked; the administrator's
	// reset is deleting the counter file.
	if err := os.Remove(filepath.Join(w.Dir, "store", pinFailureFileName)); err != nil {
		t.Fatalf("reset the PIN failure counter: %v", err)
	}
	t.Run("DiskFaults", func(t *testing.T) { testDiskFaults(t, w) })
}

// testHSMFaults runs the real iceboxd serve against a SoftHSM2 token and
// breaks the HSM: token missing at start, wrong PIN, token removed while
// serving, locked PIN. Each time: a clear message, nothing in the outbox
// for the affected request, the request stays retryable, and after the
// fault is cured it is answered.
func testHSMFaults(t *testing.T, w *world.World) {
	must := mustSub(t)
	r1 := must(w.ETHSweep("hsm-fault-1", 0, 100, 0))
	name1 := drop(t, w, r1)
	pinFile := filepath.Join(w.Dir, "user.pin")
	// The token is the one directory inside the SoftHSM2 token dir: moving
	// it away is unplugging the token.
	toks, err := filepath.Glob(filepath.Join(w.TokenDir, "*"))
	if err != nil || len(toks) != 1 {
		t.Fatalf("token directories: %v %v", toks, err)
	}
	token, away := toks[0], filepath.Join(w.Dir, "token.away")
	unplug := func() {
		t.Helper()
		if err := os.Rename(token, away); err != nil {
			t.Fatal(err)
		}
	}
	plug := func() {
		t.Helper()
		if err := os.Rename(away, token); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("token missing at start", func(t *testing.T) {
		unplug()
		d := startServe(t, w)
		code := d.exitCode(t, 30*time.Second)
		plug()
		if code != exitHSMDevice || !strings.Contains(d.stderr(), "HSM token not found") {
			t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and \"HSM token not found\"", code, d.stderr(), exitHSMDevice)
		}
		noOutput(t, w, name1, r1.ID)
	})

	t.Run("wrong PIN", func(t *testing.T) {
		if err := os.WriteFile(pinFile, []byte("99999999\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		d := startServe(t, w)
		code := d.exitCode(t, 30*time.Second)
		if err := os.WriteFile(pinFile, []byte(world.UserPIN+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code != exitHSMAccess || !strings.Contains(d.stderr(), "wrong HSM user PIN") || strings.Contains(d.stderr(), "99999999") {
			t.Fatalf("exit %d, stderr:\n%s\nwant exit %d, \"wrong HSM user PIN\" and never the PIN", code, d.stderr(), exitHSMAccess)
		}
		noOutput(t, w, name1, r1.ID)
	})

	t.Run("token removed while serving", func(t *testing.T) {
		d := startServe(t, w)
		// The request held back by the faults above is answered now.
		if resp := waitResponse(t, w, d, r1, 60*time.Second); resp.Status != bundle.StatusSigned {
			t.Fatalf("retried request: %s %+v", resp.Status, resp.Refusal)
		}
		r2 := must(w.ETHSweep("hsm-fault-2", 1, 100, 0))
		unplug()
		name2 := drop(t, w, r2)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(d.stderr(), "HSM failure") {
			if time.Now().After(deadline) {
				t.Fatalf("no HSM failure reported; stderr:\n%s", d.stderr())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("serve died on an HSM failure (%v); stderr:\n%s", err, d.stderr())
		default:
		}
		if _, err := os.Stat(filepath.Join(w.Outbox, r2.ID+".response.icebox")); err == nil {
			t.Fatalf("a response to %s was written while the token was gone", r2.ID)
		}
		if _, err := os.Stat(filepath.Join(w.Inbox, name2)); err != nil {
			t.Fatalf("%s left the inbox: %v", name2, err)
		}
		plug()
		if resp := waitResponse(t, w, d, r2, 90*time.Second); resp.Status != bundle.StatusSigned {
			t.Fatalf("request after the token came back: %s %+v\n%s", resp.Status, resp.Refusal, d.stderr())
		}
		if !strings.Contains(d.stderr(), "HSM reopened") {
			t.Errorf("no reopen logged:\n%s", d.stderr())
		}
		d.stop(t)
	})

	t.Run("locked PIN", func(t *testing.T) {
		r3 := must(w.ETHSweep("hsm-fault-3", 2, 100, 0))
		name3 := drop(t, w, r3)
		before, _ := os.ReadDir(w.Outbox)
		if err := os.WriteFile(pinFile, []byte("99999999\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if code := startServe(t, w).exitCode(t, 30*time.Second); code != exitHSMAccess {
				t.Fatalf("wrong PIN attempt %d: exit %d", i+1, code)
			}
		}
		// Icebox's own counter locks the signer even with the right PIN:
		// SoftHSM2 itself has no lockout.
		if err := os.WriteFile(pinFile, []byte(world.UserPIN+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		d := startServe(t, w)
		if code := d.exitCode(t, 30*time.Second); code != exitHSMAccess || !strings.Contains(d.stderr(), "PIN is locked") {
			t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and \"PIN is locked\"", code, d.stderr(), exitHSMAccess)
		}
		after, _ := os.ReadDir(w.Outbox)
		if len(after) != len(before) {
			t.Fatalf("outbox went from %d to %d files while locked", len(before), len(after))
		}
		if _, err := os.Stat(filepath.Join(w.Inbox, name3)); err != nil {
			t.Fatalf("%s left the inbox: %v", name3, err)
		}
	})
}
