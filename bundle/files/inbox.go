package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/icebox-custody/icebox/bundle"
)

// DefaultInterval is the poll interval when Inbox.Interval is zero.
const DefaultInterval = time.Second

// Inbox watches Dir for complete "*.icebox" files. The zero values of
// Interval and MaxBytes mean DefaultInterval and the largest bundle cap in
// bundle.DefaultLimits. An Inbox must not be copied after first use; its
// methods are safe for concurrent use.
type Inbox struct {
	Dir      string        // watched directory
	Archive  string        // processed inputs are moved here (same filesystem as Dir)
	Interval time.Duration // time between polls
	MaxBytes int64         // larger files are returned with ErrTooLarge, unread

	mu      sync.Mutex
	seen    map[string]observation // last poll's view of each candidate
	pending map[string]bool        // returned by Next, not yet Done
	// afterScan, if set, runs after every poll (tests use it to write
	// while the inbox polls).
	afterScan func()
}

type observation struct {
	size  int64
	mtime time.Time
}

// Item is one inbox file. When Err is nil, Data holds the whole file as it
// was when it had been stable for two polls. When Err is set (ErrTooLarge,
// ErrNotRegular, a read error), Data is nil; the caller refuses the input
// and still calls Done so it leaves the inbox.
type Item struct {
	Name    string // base name inside Inbox.Dir
	Path    string
	Data    []byte
	Size    int64
	ModTime time.Time
	Err     error
}

func (in *Inbox) interval() time.Duration {
	if in.Interval > 0 {
		return in.Interval
	}
	return DefaultInterval
}

func (in *Inbox) maxBytes() int64 {
	if in.MaxBytes > 0 {
		return in.MaxBytes
	}
	l := bundle.DefaultLimits()
	return int64(max(l.MaxRequestBytes, l.MaxResponseBytes, l.MaxApprovalBytes))
}

// Next blocks until a complete file is available and returns it, oldest
// modification time first (then by name). A file is returned once; after
// processing it, call Done. Next returns an error only when ctx ends or Dir
// cannot be read; per-file problems are reported in Item.Err.
func (in *Inbox) Next(ctx context.Context) (Item, error) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return Item{}, ctx.Err()
		case <-t.C:
		}
		it, ok, err := in.poll()
		if err != nil {
			return Item{}, err
		}
		if ok {
			return it, nil
		}
		t.Reset(in.interval())
	}
}

// Ignored reports whether the inbox never reads a file with this name:
// hidden files, temp names (*.tmp, *.part) and anything not ending in
// ".icebox".
func Ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") ||
		strings.HasSuffix(name, ".part") || !strings.HasSuffix(name, Ext) || name == Ext
}

type candidate struct {
	name string
	info fs.FileInfo
}

// poll scans Dir once and returns the first file that is ready.
func (in *Inbox) poll() (Item, bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.afterScan != nil {
		defer in.afterScan()
	}
	if in.seen == nil {
		in.seen = map[string]observation{}
		in.pending = map[string]bool{}
	}
	entries, err := os.ReadDir(in.Dir)
	if err != nil {
		return Item{}, false, fmt.Errorf("inbox %s: %w", in.Dir, err)
	}
	var cands []candidate
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if Ignored(name) || in.pending[name] {
			continue
		}
		info, err := os.Lstat(filepath.Join(in.Dir, name))
		if err != nil {
			continue // vanished since ReadDir
		}
		present[name] = true
		cands = append(cands, candidate{name, info})
	}
	for name := range in.seen {
		if !present[name] {
			delete(in.seen, name)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].info.ModTime(), cands[j].info.ModTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return cands[i].name < cands[j].name
	})
	for _, c := range cands {
		path := filepath.Join(in.Dir, c.name)
		it := Item{Name: c.name, Path: path, Size: c.info.Size(), ModTime: c.info.ModTime()}
		if c.info.IsDir() {
			continue
		}
		if !c.info.Mode().IsRegular() {
			it.Err = fmt.Errorf("inbox %s: %w (%s)", c.name, ErrNotRegular, c.info.Mode().Type())
			in.pending[c.name] = true
			return it, true, nil
		}
		obs := observation{size: c.info.Size(), mtime: c.info.ModTime()}
		prev, seen := in.seen[c.name]
		in.seen[c.name] = obs
		if !seen || prev != obs {
			continue // new or still changing: wait for another poll
		}
		if obs.size > in.maxBytes() {
			it.Err = fmt.Errorf("inbox %s: %w: %d bytes, limit %d", c.name, ErrTooLarge, obs.size, in.maxBytes())
			in.pending[c.name] = true
			return it, true, nil
		}
		data, err := readStable(path, c.info, in.maxBytes())
		if errors.Is(err, errChanged) {
			delete(in.seen, c.name) // start over
			continue
		}
		if err != nil {
			it.Err = fmt.Errorf("inbox %s: %w", c.name, err)
		} else {
			it.Data = data
		}
		in.pending[c.name] = true
		return it, true, nil
	}
	return Item{}, false, nil
}

var errChanged = errors.New("file changed while being read")

// readStable reads path, which Lstat described as info, and fails with
// errChanged if the file is not that same file or changed during the read.
func readStable(path string, info fs.FileInfo, maxBytes int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errChanged
		}
		return nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(info, before) || before.Size() != info.Size() || !before.ModTime().Equal(info.ModTime()) {
		return nil, errChanged
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != info.Size() || after.Size() != info.Size() || !after.ModTime().Equal(info.ModTime()) {
		return nil, errChanged
	}
	return data, nil
}

// Done moves a processed item from Dir into Archive (created 0700 if
// missing) and returns its new path. An existing archive file is never
// replaced: the name gets a UTC timestamp and a counter instead. The move is
// a hard link plus unlink where the filesystem supports links (so the file
// is never missing from both places) and a rename otherwise; both
// directories are fsync'd.
func (in *Inbox) Done(it Item) (string, error) {
	if err := checkName(it.Name); err != nil {
		return "", err
	}
	if err := os.MkdirAll(in.Archive, 0o700); err != nil {
		return "", fmt.Errorf("archive %s: %w", it.Name, err)
	}
	src := filepath.Join(in.Dir, it.Name)
	stamp := time.Now().UTC().Format("20060102T150405Z")
	var dst string
	for n := 0; ; n++ {
		name := it.Name
		if n > 0 {
			name = fmt.Sprintf("%s.%s-%d%s", strings.TrimSuffix(it.Name, Ext), stamp, n, Ext)
		}
		dst = filepath.Join(in.Archive, name)
		err := moveNoReplace(src, dst)
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrExist) && n < 1000 {
			continue
		}
		return "", fmt.Errorf("archive %s: %w", it.Name, err)
	}
	if err := syncDir(in.Archive); err != nil {
		return "", err
	}
	if err := syncDir(in.Dir); err != nil {
		return "", err
	}
	in.mu.Lock()
	delete(in.pending, it.Name)
	delete(in.seen, it.Name)
	in.mu.Unlock()
	return dst, nil
}

// moveNoReplace moves src to dst and fails with fs.ErrExist if dst exists.
func moveNoReplace(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil {
		return os.Remove(src)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links here (e.g. FAT on a USB stick): check, then rename.
	// Only this process writes to the archive, so the check cannot race.
	if _, statErr := os.Lstat(dst); statErr == nil {
		return fs.ErrExist
	}
	return os.Rename(src, dst)
}
