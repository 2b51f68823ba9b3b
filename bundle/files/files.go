package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/icebox-custody/icebox/bundle"
)

// Ext is the file extension of every bundle file.
const Ext = ".icebox"

// FileMode is the permission of files written by WriteAtomic. Bundles hold
// no secrets (they are signed, not encrypted), so they are world-readable
// for the officers and tools that inspect them.
const FileMode fs.FileMode = 0o644

var (
	// ErrBadName reports a file name that is not a plain, visible base name.
	ErrBadName = errors.New("not a plain file name")
	// ErrTooLarge reports an inbox file over Inbox.MaxBytes.
	ErrTooLarge = errors.New("file too large")
	// ErrNotRegular reports an inbox entry that is a symlink, device or
	// other non-regular file; it is never opened.
	ErrNotRegular = errors.New("not a regular file")
)

// WriteAtomic writes data to dir/name so that a reader sees either no file
// or the whole file: it writes a hidden temp file in dir, fsyncs it, renames
// it over dir/name (replacing an existing file) and fsyncs dir. name must be
// a plain base name that does not start with "." (see SafeName). On error
// no temp file is left behind and dir/name is unchanged.
func WriteAtomic(dir, name string, data []byte) error {
	return WriteAtomicMode(dir, name, data, FileMode)
}

// WriteAtomicMode is WriteAtomic with the file mode given (0600 for a file
// only its owner may read).
func WriteAtomicMode(dir, name string, data []byte, mode fs.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmpName, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..", strings.HasPrefix(name, "."),
		strings.ContainsAny(name, "/\\\x00"), filepath.Base(name) != name, len(name) > 255:
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}

// maxSafeLen bounds the sanitised part of a name so that the full file name
// (plus suffixes) stays well under common 255-byte limits.
const maxSafeLen = 100

// SafeName turns an untrusted id into a file name stem: letters, digits,
// '-', '_' and '.' are kept, anything else becomes '_', a leading '.'
// becomes '_', and the stem is cut to 100 bytes. Whenever that changed the
// id (or it was empty), "-" and 16 hex digits of SHA-256(id) are appended,
// so distinct ids never share a name. The result never contains a path
// separator, never starts with '.', and is never "." or "..".
func SafeName(id string) string {
	var b strings.Builder
	changed := id == ""
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if c == '.' && i == 0 {
			ok = false
		}
		if !ok {
			c = '_'
			changed = true
		}
		if b.Len() < maxSafeLen {
			b.WriteByte(c)
		} else {
			changed = true
		}
	}
	if !changed {
		return b.String()
	}
	sum := sha256.Sum256([]byte(id))
	if b.Len() == 0 {
		b.WriteString("id")
	}
	return b.String() + "-" + hex.EncodeToString(sum[:8])
}

// Name returns the file name for a bundle of type t about request id:
// SafeName(id) + "." + t + ".icebox", e.g. "wd-1.response.icebox".
func Name(id string, t bundle.Type) string {
	return SafeName(id) + "." + t.String() + Ext
}

// WriteResponse writes a response bundle for requestID atomically into dir
// under Name(requestID, bundle.TypeResponse), replacing an earlier response
// for the same id, and returns its path.
func WriteResponse(dir, requestID string, data []byte) (string, error) {
	name := Name(requestID, bundle.TypeResponse)
	if err := WriteAtomic(dir, name, data); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// WriteFileAtomic is WriteAtomicMode for a path: its directory ("." when it
// has none) and base name.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return WriteAtomicMode(dir, name, data, mode)
}

// ReadCapped reads the whole file at path, refusing it with ErrTooLarge —
// before reading past limit bytes — when it is larger than limit. Every file
// an Icebox command reads from outside goes through it.
func ReadCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}
