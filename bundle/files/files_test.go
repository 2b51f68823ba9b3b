package files

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	if err := WriteAtomic(dir, "a.icebox", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(dir, "a.icebox", []byte("two")); err != nil { // replaces
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a.icebox"))
	if err != nil || string(got) != "two" {
		t.Fatalf("content %q, %v", got, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "a.icebox"))
	if fi.Mode().Perm() != FileMode {
		t.Fatalf("mode %v, want %v", fi.Mode().Perm(), FileMode)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	for _, bad := range []string{"", ".", "..", "../x.icebox", "a/b.icebox", ".hidden.icebox", "a\x00b", `a\b`} {
		if err := WriteAtomic(dir, bad, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", bad, err)
		}
	}
	// Missing directory: error, nothing created.
	if err := WriteAtomic(filepath.Join(dir, "nope"), "a.icebox", []byte("x")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestSafeName(t *testing.T) {
	cases := map[string]func(string) bool{
		"wd-2026-000042": func(s string) bool { return s == "wd-2026-000042" },
		"../../etc":      func(s string) bool { return strings.HasPrefix(s, "_._.._etc-") },
		"..":             func(s string) bool { return strings.HasPrefix(s, "_.-") },
		".":              func(s string) bool { return strings.HasPrefix(s, "_-") },
		"":               func(s string) bool { return strings.HasPrefix(s, "id-") },
		"a/b":            func(s string) bool { return strings.HasPrefix(s, "a_b-") },
		"a\\b\x00":       func(s string) bool { return strings.HasPrefix(s, "a_b_-") },
		strings.Repeat("x", 300): func(s string) bool {
			return len(s) == maxSafeLen+17 && strings.HasPrefix(s, strings.Repeat("x", maxSafeLen)+"-")
		},
	}
	for id, ok := range cases {
		s := SafeName(id)
		if !ok(s) {
			t.Errorf("SafeName(%q) = %q", id, s)
		}
		if err := checkName(s + ".response" + Ext); err != nil {
			t.Errorf("SafeName(%q) = %q is not a plain name: %v", id, s, err)
		}
	}
	// Distinct ids stay distinct even when they sanitise alike.
	if SafeName("a/b") == SafeName("a_b") || SafeName("a/b") == SafeName("a:b") {
		t.Fatal("sanitised names collide")
	}
	if got := Name("wd-1", bundle.TypeResponse); got != "wd-1.response.icebox" {
		t.Fatalf("Name = %q", got)
	}
}

func TestWriteResponseCannotEscape(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "outbox")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"../../etc/passwd", "../escape", "/abs/path", "..", ".hidden"} {
		path, err := WriteResponse(out, id, []byte("resp"))
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		if filepath.Dir(path) != out {
			t.Fatalf("%q written to %s, outside the outbox", id, path)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Fatalf("files escaped the outbox: %v", entries)
	}
	entries, _ = os.ReadDir(out)
	if len(entries) != 5 {
		t.Fatalf("want 5 responses, got %v", entries)
	}
}

func newInbox(t *testing.T) *Inbox {
	root := t.TempDir()
	in := &Inbox{Dir: filepath.Join(root, "inbox"), Archive: filepath.Join(root, "archive"), Interval: time.Millisecond}
	if err := os.Mkdir(in.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return in
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A file written a chunk per poll is not returned until it stops changing.
func TestInboxWaitsForSlowWriter(t *testing.T) {
	in := newInbox(t)
	path := filepath.Join(in.Dir, "req.icebox")
	chunks := [][]byte{[]byte("chunk-1;"), []byte("chunk-2;"), []byte("chunk-3;"), []byte("chunk-4;")}
	var want []byte
	for _, c := range chunks {
		want = append(want, c...)
	}
	appendFile(t, path, chunks[0])
	next := 1
	polls := 0
	in.afterScan = func() {
		polls++
		if next < len(chunks) {
			appendFile(t, path, chunks[next]) // the copy is still going on
			next++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := in.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.Err != nil {
		t.Fatal(it.Err)
	}
	if !bytes.Equal(it.Data, want) {
		t.Fatalf("read %q while the file was being written; want %q", it.Data, want)
	}
	if next != len(chunks) {
		t.Fatalf("returned after %d of %d chunks", next, len(chunks))
	}
	if polls < len(chunks)+1 {
		t.Fatalf("returned after %d polls; a stable file needs two polls after the last write", polls)
	}
}

// The same, step by step: changing mtime alone (same size) also counts.
func TestInboxStabilityRule(t *testing.T) {
	in := newInbox(t)
	path := filepath.Join(in.Dir, "a.icebox")
	if err := os.WriteFile(path, []byte("aaaa"), 0o644); err != nil {
		t.Fatal(err)
	}
	step := func(wantReady bool) Item {
		t.Helper()
		it, ok, err := in.poll()
		if err != nil {
			t.Fatal(err)
		}
		if ok != wantReady {
			t.Fatalf("ready = %v, want %v", ok, wantReady)
		}
		return it
	}
	step(false) // first sight
	// Rewrite with the same size but a new mtime.
	if err := os.WriteFile(path, []byte("bbbb"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	step(false) // mtime changed
	it := step(true)
	if string(it.Data) != "bbbb" {
		t.Fatalf("data %q", it.Data)
	}
	step(false) // returned once only, until Done
	if _, err := in.Done(it); err != nil {
		t.Fatal(err)
	}
	step(false)
}

func TestInboxIgnoresTempNames(t *testing.T) {
	in := newInbox(t)
	for _, name := range []string{".a.icebox", "a.icebox.tmp", "a.icebox.part", "b.tmp", "b.part", "notes.txt", ".icebox", ".a.icebox.123.tmp"} {
		if err := os.WriteFile(filepath.Join(in.Dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if !Ignored(name) {
			t.Errorf("Ignored(%q) = false", name)
		}
	}
	if err := os.Mkdir(filepath.Join(in.Dir, "dir.icebox"), 0o700); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if it, ok, err := in.poll(); ok || err != nil {
			t.Fatalf("picked up %+v, %v", it, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := in.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %v, want deadline", err)
	}
}

func TestInboxArchive(t *testing.T) {
	in := newInbox(t)
	ctx := context.Background()
	var archived []string
	for i, content := range []string{"first", "second", "third"} {
		if err := WriteAtomic(in.Dir, "same.icebox", []byte(content)); err != nil {
			t.Fatal(err)
		}
		it, err := in.Next(ctx)
		if err != nil || it.Err != nil {
			t.Fatal(err, it.Err)
		}
		if string(it.Data) != content {
			t.Fatalf("round %d read %q", i, it.Data)
		}
		dst, err := in.Done(it)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(dst) != in.Archive {
			t.Fatalf("archived to %s", dst)
		}
		archived = append(archived, dst)
		if _, err := os.Stat(it.Path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("input still in the inbox: %v", err)
		}
	}
	// No archived file was overwritten.
	for i, want := range []string{"first", "second", "third"} {
		got, err := os.ReadFile(archived[i])
		if err != nil || string(got) != want {
			t.Fatalf("archive %s = %q, %v; want %q", archived[i], got, err, want)
		}
	}
	if archived[0] != filepath.Join(in.Archive, "same.icebox") || archived[1] == archived[2] {
		t.Fatalf("archive names %v", archived)
	}
	for _, a := range archived {
		if Ignored(filepath.Base(a)) {
			t.Fatalf("archive name %s would be ignored as a bundle", a)
		}
	}
}

func TestInboxOversizeAndSymlink(t *testing.T) {
	in := newInbox(t)
	in.MaxBytes = 10
	if err := os.WriteFile(filepath.Join(in.Dir, "big.icebox"), bytes.Repeat([]byte("x"), 11), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	it, err := in.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(it.Err, ErrTooLarge) || it.Data != nil {
		t.Fatalf("item %+v", it)
	}
	if _, err := in.Done(it); err != nil {
		t.Fatal(err)
	}

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(in.Dir, "link.icebox")); err != nil {
		t.Fatal(err)
	}
	it, err = in.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(it.Err, ErrNotRegular) || it.Data != nil {
		t.Fatalf("symlink item %+v", it)
	}
	dst, err := in.Done(it)
	if err != nil {
		t.Fatal(err)
	}
	// The link itself moved; its target is untouched.
	if fi, err := os.Lstat(dst); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("archived %s: %v %v", dst, fi, err)
	}
	if got, _ := os.ReadFile(secret); string(got) != "key" {
		t.Fatal("symlink target changed")
	}
}

func TestInboxMissingDir(t *testing.T) {
	in := &Inbox{Dir: filepath.Join(t.TempDir(), "nope"), Interval: time.Millisecond}
	if _, err := in.Next(context.Background()); err == nil {
		t.Fatal("missing inbox directory not reported")
	}
}
