package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/internal/world"
)

// loopStore is the world's store on a small ext4 filesystem of its own, in
// a loop-mounted image (we run as root), mounted errors=remount-ro so that
// a filesystem error can turn it read-only under a running daemon.
type loopStore struct {
	img, mnt string
}

func newLoopStore(t *testing.T, w *world.World) *loopStore {
	t.Helper()
	dir := t.TempDir()
	l := &loopStore{img: filepath.Join(dir, "store.img"), mnt: filepath.Join(dir, "store-fs")}
	if err := os.MkdirAll(l.mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	sh(t, "truncate", "-s", "16M", l.img)
	sh(t, "mkfs.ext4", "-q", l.img)
	l.mount(t)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", l.mnt).Run() })
	if err := os.Chmod(l.mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	sh(t, "cp", "-a", filepath.Join(w.Dir, "store")+"/.", l.mnt)
	cfg, err := os.ReadFile(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	c := strings.Replace(string(cfg), "store:\n  dir: store\n", "store:\n  dir: "+l.mnt+"\n", 1)
	if c == string(cfg) {
		t.Fatalf("config has no store.dir to replace:\n%s", cfg)
	}
	if err := os.WriteFile(w.Config, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *loopStore) mount(t *testing.T) {
	t.Helper()
	sh(t, "mount", "-o", "loop,errors=remount-ro", l.img, l.mnt)
}

// readOnly makes ext4 record an error: the filesystem turns read-only at
// once, for files already open too.
func (l *loopStore) readOnly(t *testing.T) {
	t.Helper()
	dev := strings.TrimSpace(sh(t, "findmnt", "-n", "-o", "SOURCE", l.mnt))
	if err := os.WriteFile("/sys/fs/ext4/"+filepath.Base(dev)+"/trigger_fs_error", []byte("1"), 0o200); err != nil {
		t.Fatal(err)
	}
}

// repair unmounts, checks and remounts the filesystem read-write.
func (l *loopStore) repair(t *testing.T) {
	t.Helper()
	sh(t, "umount", l.mnt)
	if out, err := exec.Command("e2fsck", "-fy", l.img).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 { // 1: errors corrected
			t.Fatalf("e2fsck: %v\n%s", err, out)
		}
	}
	l.mount(t)
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s (the disk-fault tests need root)", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fill writes a filler file until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	return p
}

// auditKinds exports the audit log and counts the records of each kind for
// request id (all records when id is empty).
func auditKinds(t *testing.T, w *world.World, id string) map[string]int {
	t.Helper()
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, err := w.Iceboxd("audit", "export", "-o", out); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Iceboxd("audit", "verify"); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, l := range strings.Split(string(data), "\n") {
		if id != "" && !strings.Contains(l, `"request_id":"`+id+`"`) {
			continue
		}
		if i := strings.Index(l, `"kind":"`); i >= 0 {
			k := l[i+8:]
			kinds[k[:strings.IndexByte(k, '"')]]++
		}
	}
	return kinds
}

// testDiskFaults: the store's filesystem goes read-only, or fills up,
// while iceboxd serve runs. The decision cannot be recorded, so nothing is
// output and nothing is signed without its audit record; serve exits with
// the reason, the request stays in the inbox, and once the disk is fixed
// the same request is signed exactly once.
func testDiskFaults(t *testing.T, w *world.World) {
	must := mustSub(t)
	store := newLoopStore(t, w)

	t.Run("read-only during a batch", func(t *testing.T) {
		r := must(w.ETHSweep("disk-ro", 0, 300, 0))
		d := startServe(t, w)
		waitLog(t, d, "serving")
		store.readOnly(t)
		name := drop(t, w, r)
		code := d.exitCode(t, 30*time.Second)
		store.repair(t)
		if code == 0 || !strings.Contains(d.stderr(), "no response was produced") {
			t.Fatalf("exit %d, stderr:\n%s\nwant a failure saying no response was produced", code, d.stderr())
		}
		noOutput(t, w, name, r.ID)
		lines := strings.Split(strings.TrimSpace(d.stderr()), "\n")
		t.Logf("read-only: serve stopped with: %s", lines[len(lines)-1])
		if k := auditKinds(t, w, r.ID); k["signed"] != 0 || k["intent"] != 0 {
			t.Fatalf("audit records for %s while read-only: %v", r.ID, k)
		}
		d = startServe(t, w)
		if resp := waitResponse(t, w, d, r, 60*time.Second); resp.Status != bundle.StatusSigned {
			t.Fatalf("after the disk came back: %s %+v", resp.Status, resp.Refusal)
		}
		d.stop(t)
		if k := auditKinds(t, w, r.ID); k["signed"] != 1 || k["intent"] != 1 {
			t.Fatalf("audit records for %s: %v, want one intent and one signed", r.ID, k)
		}
	})

	t.Run("full during a batch", func(t *testing.T) {
		// Several requests, so that the store must grow while the disk is full.
		var subs []*world.Submission
		for i := 0; i < 6; i++ {
			subs = append(subs, must(w.ETHSweep("disk-full-"+string(rune('a'+i)), 1+i%2, uint64(400+10*i), 0)))
		}
		d := startServe(t, w)
		waitLog(t, d, "serving")
		filler := fill(t, store.mnt)
		for _, s := range subs {
			drop(t, w, s)
		}
		code := d.exitCode(t, 60*time.Second)
		if code == 0 || !strings.Contains(d.stderr(), "no response was produced") {
			t.Fatalf("exit %d, stderr:\n%s\nwant a failure saying no response was produced", code, d.stderr())
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		// Whatever was answered before the disk ran out has its audit
		// records; whatever was not has no response.
		answered := 0
		for _, s := range subs {
			_, err := os.Stat(filepath.Join(w.Outbox, s.ID+".response.icebox"))
			k := auditKinds(t, w, s.ID)
			if err == nil {
				answered++
				if k["signed"] != 1 {
					t.Fatalf("%s was answered but the audit log has %v", s.ID, k)
				}
			} else if k["signed"] != 0 && k["interrupted"] == 0 {
				t.Fatalf("%s: signed in the audit log but no response and no interruption: %v", s.ID, k)
			}
		}
		if answered == len(subs) {
			t.Fatalf("the full disk never stopped serve")
		}
		lines := strings.Split(strings.TrimSpace(d.stderr()), "\n")
		t.Logf("disk full: %d of %d answered before serve stopped with: %s", answered, len(subs), lines[len(lines)-1])
		d = startServe(t, w)
		for _, s := range subs {
			if resp := waitResponse(t, w, d, s, 60*time.Second); resp.Status != bundle.StatusSigned {
				t.Fatalf("%s after the disk was freed: %s %+v", s.ID, resp.Status, resp.Refusal)
			}
		}
		d.stop(t)
		for _, s := range subs {
			if k := auditKinds(t, w, s.ID); k["signed"] != 1 {
				t.Fatalf("%s: audit %v, want exactly one signed record", s.ID, k)
			}
		}
	})
}

// waitLog waits until serve's log contains s.
func waitLog(t *testing.T, d *daemonProc, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.stderr(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("serve never logged %q:\n%s", s, d.stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
