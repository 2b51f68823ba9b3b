package ceremony

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/hkdf"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/sigkey"
)

const (
	// BackupFormat names the backup file format.
	BackupFormat = "icebox/key-backup/v1"
	// Mechanism is the only wrapping mechanism written and accepted.
	Mechanism = "CKM_AES_KEY_WRAP_PAD"
	// MaxBackupFile caps a backup file before it is parsed.
	MaxBackupFile = 16 << 20
	// MaxKeys caps the number of wrapped keys in one backup.
	MaxKeys = manifest.MaxEntries + 1
	// maxWrapped caps one wrapped key.
	maxWrapped = 4096
	macInfo    = BackupFormat + "/mac"
	timeLayout = "2006-01-02T15:04:05Z"
)

// BackupID names one backup; every share carries it.
type BackupID [16]byte

// NewBackupID returns a random id.
func NewBackupID(rnd io.Reader) (BackupID, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var id BackupID
	_, err := io.ReadFull(rnd, id[:])
	return id, err
}

// String returns 32 lower-case hex characters.
func (id BackupID) String() string { return hex.EncodeToString(id[:]) }

// ParseBackupID parses 32 lower-case hex characters.
func ParseBackupID(s string) (BackupID, error) {
	var id BackupID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) || hex.EncodeToString(b) != s {
		return id, fmt.Errorf("want 32 lower-case hex characters")
	}
	copy(id[:], b)
	return id, nil
}

// Holder is one officer's place in the split.
type Holder struct {
	Officer    string
	Index      int
	Commitment [32]byte
	Encrypted  bool
}

// Backup is the content of a backup file.
type Backup struct {
	ID           BackupID
	Created      time.Time
	SourceToken  string
	SourceSerial string
	// Manifest is the signed watch-only manifest of the backed-up signing
	// keys, verbatim as iceboxd keys manifest writes it.
	Manifest  []byte
	Threshold int
	Holders   []Holder
	Keys      []hsm.WrappedKey
	mac       [32]byte
}

// ManifestHash is SHA-256 of the embedded manifest file bytes (compare it
// with sha256sum of the published manifest).
func (b *Backup) ManifestHash() [32]byte { return sha256.Sum256(b.Manifest) }

// Identity returns the identity key entry.
func (b *Backup) Identity() (hsm.WrappedKey, sigkey.PublicKey) {
	for _, k := range b.Keys {
		if k.Role == hsm.RoleIdentity {
			return k, identityPublic(k)
		}
	}
	return hsm.WrappedKey{}, sigkey.PublicKey{}
}

// SignerFingerprint is the fingerprint of the backed-up identity key.
func (b *Backup) SignerFingerprint() string {
	_, pub := b.Identity()
	return pub.Fingerprint()
}

func identityPublic(k hsm.WrappedKey) sigkey.PublicKey {
	alg := sigkey.Ed25519
	if k.Curve == hsm.CurveP256 {
		alg = sigkey.P256
	}
	return sigkey.PublicKey{Algorithm: alg, Key: k.PublicKey}
}

type holderWire struct {
	Officer    string `json:"officer"`
	Index      int    `json:"index"`
	Commitment string `json:"commitment"`
	Encrypted  bool   `json:"encrypted"`
}

type keyWire struct {
	Role      string `json:"role"`
	Label     string `json:"label"`
	KeyID     string `json:"key_id"`
	Curve     string `json:"curve"`
	PublicKey string `json:"public_key"`
	Wrapped   string `json:"wrapped"`
}

type backupWire struct {
	Format            string       `json:"format"`
	BackupID          string       `json:"backup_id"`
	Created           string       `json:"created"`
	SourceToken       string       `json:"source_token"`
	SourceSerial      string       `json:"source_serial"`
	SignerFingerprint string       `json:"signer_fingerprint"`
	ManifestSHA256    string       `json:"manifest_sha256"`
	Manifest          string       `json:"manifest"`
	Mechanism         string       `json:"mechanism"`
	Threshold         int          `json:"threshold"`
	Holders           []holderWire `json:"holders"`
	Keys              []keyWire    `json:"keys"`
	MAC               string       `json:"mac"`
}

func marshalIndent(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // plain structs of strings and ints always marshal
	}
	return append(b, '\n')
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	return nil
}

func (b *Backup) toWire() backupWire {
	h := b.ManifestHash()
	w := backupWire{
		Format: BackupFormat, BackupID: b.ID.String(), Created: b.Created.UTC().Format(timeLayout),
		SourceToken: b.SourceToken, SourceSerial: b.SourceSerial, SignerFingerprint: b.SignerFingerprint(),
		ManifestSHA256: hex.EncodeToString(h[:]), Manifest: base64.StdEncoding.EncodeToString(b.Manifest),
		Mechanism: Mechanism, Threshold: b.Threshold, Holders: []holderWire{}, Keys: []keyWire{},
	}
	for _, o := range b.Holders {
		w.Holders = append(w.Holders, holderWire{Officer: o.Officer, Index: o.Index, Commitment: hex.EncodeToString(o.Commitment[:]), Encrypted: o.Encrypted})
	}
	for _, k := range b.Keys {
		w.Keys = append(w.Keys, keyWire{
			Role: string(k.Role), Label: k.Ref.Label, KeyID: k.Ref.IDHex(), Curve: k.Curve.String(),
			PublicKey: hex.EncodeToString(k.PublicKey), Wrapped: hex.EncodeToString(k.Wrapped),
		})
	}
	return w
}

// body is the authenticated encoding: the file with an empty mac.
func (b *Backup) body() []byte {
	w := b.toWire()
	w.MAC = ""
	return append([]byte(BackupFormat+"\x00"), marshalIndent(w)...)
}

func macKey(key *hsm.WrappingKey, id BackupID) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, key[:], id[:], []byte(macInfo)), out); err != nil {
		panic(err) // 32 bytes from HKDF-SHA256 cannot fail
	}
	return out
}

func (b *Backup) computeMAC(key *hsm.WrappingKey) [32]byte {
	k := macKey(key, b.ID)
	defer wipe(k)
	m := hmac.New(sha256.New, k)
	m.Write(b.body())
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// Seal validates b, authenticates it with key and returns the file bytes.
func Seal(b *Backup, key *hsm.WrappingKey) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	if key.IsZero() {
		return nil, fmt.Errorf("%w: wrapping key is all zeros", ErrInvalid)
	}
	b.mac = b.computeMAC(key)
	w := b.toWire()
	w.MAC = hex.EncodeToString(b.mac[:])
	return marshalIndent(w), nil
}

// ParseBackup decodes a backup file strictly and checks everything that can
// be checked without the wrapping key (including that the embedded manifest
// is signed by the backed-up identity key and lists exactly the backed-up
// signing keys). The MAC is verified by Recover.
func ParseBackup(data []byte) (*Backup, error) {
	if len(data) > MaxBackupFile {
		return nil, fmt.Errorf("%w: backup file: %d bytes, limit %d", ErrMalformed, len(data), MaxBackupFile)
	}
	var w backupWire
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("backup file: %w", err)
	}
	if w.Format != BackupFormat {
		return nil, fieldErr("format", fmt.Sprintf("%q, want %q", w.Format, BackupFormat))
	}
	if w.Mechanism != Mechanism {
		return nil, fieldErr("mechanism", fmt.Sprintf("%q, want %q", w.Mechanism, Mechanism))
	}
	b := &Backup{Threshold: w.Threshold, SourceToken: w.SourceToken, SourceSerial: w.SourceSerial}
	var err error
	if b.ID, err = ParseBackupID(w.BackupID); err != nil {
		return nil, fieldErr("backup_id", err.Error())
	}
	if b.Created, err = time.Parse(timeLayout, w.Created); err != nil {
		return nil, fieldErr("created", "want "+timeLayout)
	}
	if b.Manifest, err = base64.StdEncoding.Strict().DecodeString(w.Manifest); err != nil {
		return nil, fieldErr("manifest", "not standard base64")
	}
	if len(w.Holders) > MaxShares {
		return nil, fieldErr("holders", fmt.Sprintf("%d, limit %d", len(w.Holders), MaxShares))
	}
	for i, o := range w.Holders {
		c, err := hex.DecodeString(o.Commitment)
		if err != nil || len(c) != 32 {
			return nil, fieldErr(fmt.Sprintf("holders[%d].commitment", i), "want 64 hex characters")
		}
		h := Holder{Officer: o.Officer, Index: o.Index, Encrypted: o.Encrypted}
		copy(h.Commitment[:], c)
		b.Holders = append(b.Holders, h)
	}
	if len(w.Keys) > MaxKeys {
		return nil, fieldErr("keys", fmt.Sprintf("%d, limit %d", len(w.Keys), MaxKeys))
	}
	for i, k := range w.Keys {
		f := func(name string) string { return fmt.Sprintf("keys[%d].%s", i, name) }
		wk := hsm.WrappedKey{Role: hsm.KeyRole(k.Role), Ref: hsm.KeyRef{Label: k.Label}}
		if wk.Ref.ID, err = hex.DecodeString(k.KeyID); err != nil {
			return nil, fieldErr(f("key_id"), "not hex")
		}
		if wk.PublicKey, err = hex.DecodeString(k.PublicKey); err != nil {
			return nil, fieldErr(f("public_key"), "not hex")
		}
		if wk.Wrapped, err = hex.DecodeString(k.Wrapped); err != nil {
			return nil, fieldErr(f("wrapped"), "not hex")
		}
		switch k.Curve {
		case "secp256k1":
			wk.Curve = hsm.CurveSecp256k1
		case "p256":
			wk.Curve = hsm.CurveP256
		case "ed25519":
			wk.Curve = hsm.CurveEd25519
		default:
			return nil, fieldErr(f("curve"), fmt.Sprintf("%q, want secp256k1, p256 or ed25519", k.Curve))
		}
		b.Keys = append(b.Keys, wk)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	if w.SignerFingerprint != b.SignerFingerprint() {
		return nil, fieldErr("signer_fingerprint", "does not match the identity key")
	}
	if h := b.ManifestHash(); w.ManifestSHA256 != hex.EncodeToString(h[:]) {
		return nil, fieldErr("manifest_sha256", "does not match the embedded manifest")
	}
	// Canonical form: exactly the bytes Seal would write. This refuses
	// duplicate keys, odd spacing, upper-case hex and re-ordered fields.
	mac, err := hex.DecodeString(w.MAC)
	if err != nil || len(mac) != 32 {
		return nil, fieldErr("mac", "want 64 hex characters")
	}
	copy(b.mac[:], mac)
	cw := b.toWire()
	cw.MAC = w.MAC
	if !bytes.Equal(marshalIndent(cw), data) {
		return nil, fieldErr("backup file", "not in canonical form (edited by hand?)")
	}
	return b, nil
}

func printableLabel(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	return true
}

// validate checks structure and the manifest binding.
func (b *Backup) validate() error {
	if !printableLabel(b.SourceToken) && b.SourceToken != "" {
		return fieldErr("source_token", "not a printable label")
	}
	if len(b.SourceSerial) > 64 || !utf8.ValidString(b.SourceSerial) {
		return fieldErr("source_serial", "too long or not UTF-8")
	}
	officers := make([]string, len(b.Holders))
	for i, h := range b.Holders {
		officers[i] = h.Officer
		if h.Index != i+1 {
			return fieldErr(fmt.Sprintf("holders[%d].index", i), fmt.Sprintf("%d, want %d", h.Index, i+1))
		}
	}
	if err := checkSplit(officers, b.Threshold); err != nil {
		return &FieldError{Field: "holders/threshold", Reason: err.Error()}
	}
	if len(b.Keys) == 0 {
		return fieldErr("keys", "empty")
	}
	labels, ids := map[string]bool{}, map[string]bool{}
	identities := 0
	for i, k := range b.Keys {
		f := func(name string) string { return fmt.Sprintf("keys[%d].%s", i, name) }
		if !printableLabel(k.Ref.Label) {
			return fieldErr(f("label"), "empty, longer than 64 bytes or not printable")
		}
		if len(k.Ref.ID) == 0 || len(k.Ref.ID) > 64 {
			return fieldErr(f("key_id"), fmt.Sprintf("%d bytes, want 1..64", len(k.Ref.ID)))
		}
		if labels[k.Ref.Label] || ids[string(k.Ref.ID)] {
			return fieldErr(f("label"), fmt.Sprintf("key %s appears twice", k.Ref))
		}
		labels[k.Ref.Label], ids[string(k.Ref.ID)] = true, true
		if len(k.Wrapped) == 0 || len(k.Wrapped) > maxWrapped {
			return fieldErr(f("wrapped"), fmt.Sprintf("%d bytes, want 1..%d", len(k.Wrapped), maxWrapped))
		}
		switch k.Role {
		case hsm.RoleSigning:
			if k.Curve != hsm.CurveSecp256k1 {
				return fieldErr(f("curve"), "a signing key must be secp256k1")
			}
			if len(k.PublicKey) != 33 {
				return fieldErr(f("public_key"), "want a 33-byte compressed secp256k1 key")
			}
			if _, err := secp256k1.ParsePubKey(k.PublicKey); err != nil {
				return fieldErr(f("public_key"), "not a secp256k1 point")
			}
		case hsm.RoleIdentity:
			identities++
			if k.Curve != hsm.CurveP256 && k.Curve != hsm.CurveEd25519 {
				return fieldErr(f("curve"), "the identity key must be p256 or ed25519")
			}
			if err := identityPublic(k).Validate(); err != nil {
				return fieldErr(f("public_key"), err.Error())
			}
		default:
			return fieldErr(f("role"), fmt.Sprintf("%q, want signing or identity", k.Role))
		}
	}
	if identities != 1 {
		return fieldErr("keys", fmt.Sprintf("%d identity keys, want exactly 1", identities))
	}
	if _, err := b.CheckManifest(); err != nil {
		return err
	}
	return nil
}

// CheckManifest verifies that the embedded manifest is signed by the
// backed-up identity key and lists exactly the backed-up signing keys (same
// label, key id and public key) — the restore proof signs against it.
func (b *Backup) CheckManifest() (*manifest.Manifest, error) {
	m, err := manifest.Verify(b.Manifest, b.SignerFingerprint())
	if err != nil {
		return nil, fmt.Errorf("%w: embedded manifest: %w", ErrManifest, err)
	}
	want := map[string]hsm.WrappedKey{}
	for _, k := range b.Keys {
		if k.Role == hsm.RoleSigning {
			want[string(k.Ref.ID)] = k
		}
	}
	if len(m.Entries) != len(want) {
		return nil, fmt.Errorf("%w: manifest lists %d keys, the backup holds %d signing keys", ErrManifest, len(m.Entries), len(want))
	}
	for _, e := range m.Entries {
		k, ok := want[string(e.KeyID)]
		if !ok || k.Ref.Label != e.Label || !bytes.Equal(k.PublicKey, e.PublicKey) {
			return nil, fmt.Errorf("%w: manifest key %s#%x is not in the backup with the same label and public key", ErrManifest, e.Label, e.KeyID)
		}
	}
	return m, nil
}

// Recover checks shares against b, combines them and verifies b's MAC with
// the rebuilt wrapping key. It returns the key only when everything holds;
// the caller imports it and wipes it. The error names the offending share.
func Recover(b *Backup, shares []Share) (hsm.WrappingKey, error) {
	var zero hsm.WrappingKey
	holders := map[string]Holder{}
	for _, h := range b.Holders {
		holders[h.Officer] = h
	}
	seen := map[string]bool{}
	for _, s := range shares {
		if s.BackupID != b.ID {
			return zero, fmt.Errorf("%w: %s's share belongs to backup %s, not %s", ErrShares, s.Officer, s.BackupID, b.ID)
		}
		h, ok := holders[s.Officer]
		if !ok {
			return zero, fmt.Errorf("%w: %s holds no share of backup %s", ErrShares, s.Officer, b.ID)
		}
		if seen[s.Officer] {
			return zero, fmt.Errorf("%w: %s's share was given twice", ErrShares, s.Officer)
		}
		seen[s.Officer] = true
		if s.Index != h.Index || s.Threshold != b.Threshold || s.Total != len(b.Holders) {
			return zero, fmt.Errorf("%w: %s's share says %d (%d-of-%d), the backup says %d (%d-of-%d)",
				ErrShares, s.Officer, s.Index, s.Threshold, s.Total, h.Index, b.Threshold, len(b.Holders))
		}
		if c := s.Commitment(); !hmac.Equal(c[:], h.Commitment[:]) {
			return zero, fmt.Errorf("%w: %s's share is corrupted (it does not match its commitment in the backup file)", ErrShares, s.Officer)
		}
	}
	if len(shares) < b.Threshold {
		return zero, fmt.Errorf("%w: %d shares given, backup %s needs %d of %d", ErrShares, len(shares), b.ID, b.Threshold, len(b.Holders))
	}
	key, err := combine(shares)
	if err != nil {
		return zero, err
	}
	if mac := b.computeMAC(&key); !hmac.Equal(mac[:], b.mac[:]) {
		key.Wipe()
		return zero, fmt.Errorf("%w: backup %s was altered, or was not made with the key these shares rebuild", ErrIntegrity, b.ID)
	}
	return key, nil
}
