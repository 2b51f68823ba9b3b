package ceremony

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"

	"github.com/hashicorp/vault/shamir"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/icebox-custody/icebox/hsm"
)

// Limits of a split.
const (
	// MinThreshold is the smallest M: one share alone never opens a backup.
	MinThreshold = 2
	// MaxShares caps N.
	MaxShares = 32
	// MaxShareFile caps a share file before it is parsed.
	MaxShareFile = 4096
	// ShareFormat names the share file format.
	ShareFormat = "icebox/key-share/v1"
	// scrypt cost of encrypted shares (same as officer key files).
	shareScryptN = 1 << 15
	// MinSharePassphrase is the minimum passphrase length for encrypted shares.
	MinSharePassphrase = 12
)

var officerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// ValidOfficer reports whether name can label a share holder (the roster's
// officer ids: 1-32 of a-z 0-9 _ . -).
func ValidOfficer(name string) bool { return officerRE.MatchString(name) }

// Share is one officer's Shamir share of a backup's wrapping key.
type Share struct {
	BackupID  BackupID
	Officer   string
	Index     int // 1..Total, the officer's position in the backup's list
	Threshold int
	Total     int
	// Value is the share itself (hashicorp/vault shamir: 32 bytes + the
	// x coordinate). It is secret.
	Value []byte
}

// String never prints the share value.
func (s Share) String() string {
	return fmt.Sprintf("share %d/%d of backup %s held by %s", s.Index, s.Total, s.BackupID, s.Officer)
}

// Commitment binds a share to its backup: SHA-256 over a domain separator,
// the backup id, the officer, the index and the value. The backup file lists
// every share's commitment so that a corrupted share, or one of another
// backup, is named before any combination is tried.
func (s Share) Commitment() [32]byte {
	h := sha256.New()
	h.Write([]byte(ShareFormat + "/commitment\x00"))
	h.Write(s.BackupID[:])
	h.Write([]byte(s.Officer + "\x00"))
	h.Write([]byte{byte(s.Index)})
	h.Write(s.Value)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// checkSplit validates M-of-N and the officer list.
func checkSplit(officers []string, threshold int) error {
	n := len(officers)
	if n < MinThreshold || n > MaxShares {
		return fmt.Errorf("%w: officers: %d, want %d..%d", ErrInvalid, n, MinThreshold, MaxShares)
	}
	if threshold < MinThreshold || threshold > n {
		return fmt.Errorf("%w: threshold: %d, want %d..%d (number of officers)", ErrInvalid, threshold, MinThreshold, n)
	}
	seen := map[string]bool{}
	for i, o := range officers {
		if !ValidOfficer(o) {
			return fmt.Errorf("%w: officers[%d]: %q is not a valid officer id (1-32 of a-z 0-9 _ . -)", ErrInvalid, i, o)
		}
		if seen[o] {
			return fmt.Errorf("%w: officers[%d]: %q is listed twice: one share per officer", ErrInvalid, i, o)
		}
		seen[o] = true
	}
	return nil
}

// Split cuts key into one share per officer, any threshold of which
// recombine it (Shamir over GF(2^8), hashicorp/vault's shamir package).
func Split(key *hsm.WrappingKey, id BackupID, officers []string, threshold int) ([]Share, error) {
	if err := checkSplit(officers, threshold); err != nil {
		return nil, err
	}
	if key.IsZero() {
		return nil, fmt.Errorf("%w: wrapping key is all zeros", ErrInvalid)
	}
	parts, err := shamir.Split(key[:], len(officers), threshold)
	if err != nil {
		return nil, fmt.Errorf("split wrapping key %d-of-%d: %w", threshold, len(officers), err)
	}
	out := make([]Share, len(officers))
	for i, o := range officers {
		out[i] = Share{BackupID: id, Officer: o, Index: i + 1, Threshold: threshold, Total: len(officers), Value: parts[i]}
	}
	return out, nil
}

// combine recombines at least threshold shares that the caller has already
// checked against the backup's commitments.
func combine(shares []Share) (hsm.WrappingKey, error) {
	var key hsm.WrappingKey
	parts := make([][]byte, len(shares))
	for i, s := range shares {
		parts[i] = s.Value
	}
	secret, err := shamir.Combine(parts)
	if err != nil {
		return key, fmt.Errorf("%w: combine shares: %v", ErrShares, err)
	}
	defer wipe(secret)
	if len(secret) != hsm.WrappingKeySize {
		return key, fmt.Errorf("%w: combined secret has %d bytes, want %d", ErrShares, len(secret), hsm.WrappingKeySize)
	}
	copy(key[:], secret)
	return key, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// shareWire is the share file. Encryption "none" keeps the value in Share;
// "scrypt-xchacha20poly1305" keeps the ciphertext there and the parameters
// beside it. The AEAD's additional data is every other field.
type shareWire struct {
	Format     string     `json:"format"`
	BackupID   string     `json:"backup_id"`
	Officer    string     `json:"officer"`
	Index      int        `json:"index"`
	Threshold  int        `json:"threshold"`
	Total      int        `json:"total"`
	Encryption encryption `json:"encryption"`
	Share      string     `json:"share"`
}

type encryption struct {
	Name  string `json:"name"`
	N     int    `json:"n,omitempty"`
	R     int    `json:"r,omitempty"`
	P     int    `json:"p,omitempty"`
	Salt  string `json:"salt,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

const (
	encNone   = "none"
	encScrypt = "scrypt-xchacha20poly1305"
)

func (w shareWire) aad() []byte {
	c := w
	c.Share = ""
	b, _ := json.Marshal(c)
	return append([]byte(ShareFormat+"/aad\x00"), b...)
}

// EncodeShare writes s as a share file. With a passphrase (at least
// MinSharePassphrase bytes) the value is encrypted with XChaCha20-Poly1305
// under scrypt(passphrase) — the scheme of officer key files; with nil it is
// written in the clear and the file itself must be protected.
func EncodeShare(s Share, passphrase []byte, rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	w := shareWire{
		Format: ShareFormat, BackupID: s.BackupID.String(), Officer: s.Officer,
		Index: s.Index, Threshold: s.Threshold, Total: s.Total, Encryption: encryption{Name: encNone},
	}
	if passphrase == nil {
		w.Share = hex.EncodeToString(s.Value)
		return marshalIndent(w), nil
	}
	if len(passphrase) < MinSharePassphrase {
		return nil, fmt.Errorf("%w: passphrase for %s's share: %d bytes, want at least %d", ErrInvalid, s.Officer, len(passphrase), MinSharePassphrase)
	}
	salt := make([]byte, 16)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, fmt.Errorf("share salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, fmt.Errorf("share nonce: %w", err)
	}
	w.Encryption = encryption{Name: encScrypt, N: shareScryptN, R: 8, P: 1, Salt: hex.EncodeToString(salt), Nonce: hex.EncodeToString(nonce)}
	aead, err := shareAEAD(passphrase, salt, w.Encryption)
	if err != nil {
		return nil, err
	}
	w.Share = hex.EncodeToString(aead.Seal(nil, nonce, s.Value, w.aad()))
	return marshalIndent(w), nil
}

func shareAEAD(passphrase, salt []byte, e encryption) (interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}, error) {
	kek, err := scrypt.Key(passphrase, salt, e.N, e.R, e.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("share key derivation: %w", err)
	}
	defer wipe(kek)
	return chacha20poly1305.NewX(kek)
}

// ShareFile is a parsed share file; Open it to get the Share.
type ShareFile struct {
	w shareWire
}

// Officer returns the share holder named in the file.
func (f *ShareFile) Officer() string { return f.w.Officer }

// Encrypted reports whether Open needs a passphrase.
func (f *ShareFile) Encrypted() bool { return f.w.Encryption.Name == encScrypt }

// ParseShare decodes a share file strictly: size cap, no unknown fields, no
// trailing data, the canonical encoding EncodeShare writes, and valid values.
// It does not decrypt.
func ParseShare(data []byte) (*ShareFile, error) {
	if len(data) > MaxShareFile {
		return nil, fmt.Errorf("%w: share file: %d bytes, limit %d", ErrMalformed, len(data), MaxShareFile)
	}
	var w shareWire
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("share file: %w", err)
	}
	if !bytes.Equal(marshalIndent(w), data) {
		return nil, fieldErr("share file", "not in canonical form (edited by hand?)")
	}
	if w.Format != ShareFormat {
		return nil, fieldErr("format", fmt.Sprintf("%q, want %q", w.Format, ShareFormat))
	}
	if _, err := ParseBackupID(w.BackupID); err != nil {
		return nil, fieldErr("backup_id", err.Error())
	}
	if !ValidOfficer(w.Officer) {
		return nil, fieldErr("officer", fmt.Sprintf("%q is not a valid officer id", w.Officer))
	}
	if w.Total < MinThreshold || w.Total > MaxShares {
		return nil, fieldErr("total", fmt.Sprintf("%d, want %d..%d", w.Total, MinThreshold, MaxShares))
	}
	if w.Threshold < MinThreshold || w.Threshold > w.Total {
		return nil, fieldErr("threshold", fmt.Sprintf("%d, want %d..%d", w.Threshold, MinThreshold, w.Total))
	}
	if w.Index < 1 || w.Index > w.Total {
		return nil, fieldErr("index", fmt.Sprintf("%d, want 1..%d", w.Index, w.Total))
	}
	val, err := hex.DecodeString(w.Share)
	if err != nil || hex.EncodeToString(val) != w.Share {
		return nil, fieldErr("share", "not lower-case hex")
	}
	switch w.Encryption.Name {
	case encNone:
		if w.Encryption != (encryption{Name: encNone}) {
			return nil, fieldErr("encryption", "parameters given for an unencrypted share")
		}
		if len(val) != hsm.WrappingKeySize+1 {
			return nil, fieldErr("share", fmt.Sprintf("%d bytes, want %d", len(val), hsm.WrappingKeySize+1))
		}
	case encScrypt:
		e := w.Encryption
		if e.N != shareScryptN || e.R != 8 || e.P != 1 {
			return nil, fieldErr("encryption", fmt.Sprintf("scrypt n=%d r=%d p=%d, want n=%d r=8 p=1", e.N, e.R, e.P, shareScryptN))
		}
		if s, err := hex.DecodeString(e.Salt); err != nil || len(s) != 16 {
			return nil, fieldErr("encryption.salt", "want 32 hex characters")
		}
		if n, err := hex.DecodeString(e.Nonce); err != nil || len(n) != chacha20poly1305.NonceSizeX {
			return nil, fieldErr("encryption.nonce", "want 48 hex characters")
		}
		if len(val) != hsm.WrappingKeySize+1+chacha20poly1305.Overhead {
			return nil, fieldErr("share", fmt.Sprintf("%d bytes of ciphertext, want %d", len(val), hsm.WrappingKeySize+1+chacha20poly1305.Overhead))
		}
	default:
		return nil, fieldErr("encryption.name", fmt.Sprintf("%q, want %q or %q", w.Encryption.Name, encNone, encScrypt))
	}
	return &ShareFile{w: w}, nil
}

// Open returns the share, decrypting it with passphrase when the file is
// encrypted (ErrSharePassphrase when it does not open).
func (f *ShareFile) Open(passphrase []byte) (Share, error) {
	id, _ := ParseBackupID(f.w.BackupID)
	val, _ := hex.DecodeString(f.w.Share)
	s := Share{BackupID: id, Officer: f.w.Officer, Index: f.w.Index, Threshold: f.w.Threshold, Total: f.w.Total}
	if !f.Encrypted() {
		s.Value = val
		return s, nil
	}
	if len(passphrase) == 0 {
		return Share{}, fmt.Errorf("%w: %s's share is encrypted: a passphrase is needed", ErrSharePassphrase, f.w.Officer)
	}
	salt, _ := hex.DecodeString(f.w.Encryption.Salt)
	nonce, _ := hex.DecodeString(f.w.Encryption.Nonce)
	aead, err := shareAEAD(passphrase, salt, f.w.Encryption)
	if err != nil {
		return Share{}, err
	}
	plain, err := aead.Open(nil, nonce, val, f.w.aad())
	if err != nil {
		return Share{}, fmt.Errorf("%w: %s's share does not open (wrong passphrase or damaged file)", ErrSharePassphrase, f.w.Officer)
	}
	s.Value = plain
	return s, nil
}
