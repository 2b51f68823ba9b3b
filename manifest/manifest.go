package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/sigkey"
)

// Domain separates manifest digests from every other Icebox digest.
const Domain = "icebox/manifest/v1"

// Limits applied before and while parsing.
const (
	MaxSize    = 4 << 20
	MaxEntries = 10000
	maxLabel   = 128
	maxKeyID   = 64 // bytes
	maxAddress = 128
)

var (
	// ErrTooLarge: the input exceeds MaxSize or MaxEntries.
	ErrTooLarge = errors.New("manifest too large")
	// ErrMalformed: the input is not a well-formed canonical manifest.
	ErrMalformed = errors.New("malformed manifest")
	// ErrWrongSigner: the manifest is signed by another key than the pinned one.
	ErrWrongSigner = errors.New("manifest signed by an unexpected key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("manifest signature does not verify")
	// ErrAddressMismatch: an address does not derive from its public key.
	ErrAddressMismatch = errors.New("manifest address does not match its public key")
)

// FieldError names the field that failed validation.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrMalformed, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *FieldError) Unwrap() error { return ErrMalformed }

// Entry is one signing key of the signer.
type Entry struct {
	Label string
	// KeyID is the key's CKA_ID.
	KeyID []byte
	// PublicKey is the 33-byte compressed secp256k1 key.
	PublicKey []byte
	Chain     chain.Family
	Network   chain.Network
	Address   string
}

// Manifest is the watch-only key list. Signature is empty until signed.
type Manifest struct {
	Signer    sigkey.PublicKey
	Created   time.Time
	Entries   []Entry
	Signature []byte
}

// wire is the JSON shape; field order here is the canonical order.
type wire struct {
	Version           int         `json:"version"`
	Signer            string      `json:"signer"`
	SignerFingerprint string      `json:"signer_fingerprint"`
	Created           string      `json:"created"`
	Entries           []wireEntry `json:"entries"`
	Signature         string      `json:"signature,omitempty"`
}

type wireEntry struct {
	Label     string `json:"label"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Chain     string `json:"chain"`
	Network   string `json:"network"`
	Address   string `json:"address"`
}

func (m *Manifest) sortEntries() []Entry {
	es := append([]Entry(nil), m.Entries...)
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Network != b.Network {
			return a.Network < b.Network
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return bytes.Compare(a.KeyID, b.KeyID) < 0
	})
	return es
}

func (m *Manifest) toWire(withSig bool) wire {
	w := wire{
		Version:           1,
		Signer:            m.Signer.String(),
		SignerFingerprint: m.Signer.Fingerprint(),
		Created:           m.Created.UTC().Truncate(time.Second).Format(time.RFC3339),
		Entries:           []wireEntry{},
	}
	for _, e := range m.sortEntries() {
		w.Entries = append(w.Entries, wireEntry{
			Label: e.Label, KeyID: hex.EncodeToString(e.KeyID), PublicKey: hex.EncodeToString(e.PublicKey),
			Chain: string(e.Chain), Network: string(e.Network), Address: e.Address,
		})
	}
	if withSig {
		w.Signature = hex.EncodeToString(m.Signature)
	}
	return w
}

func marshal(w wire) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		// Only strings and ints: cannot fail.
		panic(fmt.Sprintf("manifest: encode: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Body returns the canonical encoding without the signature (what is signed).
func (m *Manifest) Body() []byte { return marshal(m.toWire(false)) }

// Digest returns SHA-256(Domain || 0x00 || Body()).
func (m *Manifest) Digest() [32]byte {
	h := sha256.New()
	h.Write([]byte(Domain))
	h.Write([]byte{0})
	h.Write(m.Body())
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

// Encode returns the canonical file bytes (with signature and newline).
func (m *Manifest) Encode() []byte {
	return append(marshal(m.toWire(true)), '\n')
}

// Validate checks every field; it does not check the signature.
func (m *Manifest) Validate() error {
	if err := m.Signer.Validate(); err != nil {
		return &FieldError{"signer", err.Error()}
	}
	if m.Created.IsZero() {
		return &FieldError{"created", "missing"}
	}
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("%w: %d entries, at most %d", ErrTooLarge, len(m.Entries), MaxEntries)
	}
	seen := map[string]bool{}
	for i, e := range m.Entries {
		f := func(name string) string { return fmt.Sprintf("entries[%d].%s", i, name) }
		if e.Label == "" || len(e.Label) > maxLabel || !printable(e.Label) {
			return &FieldError{f("label"), fmt.Sprintf("want 1..%d printable characters", maxLabel)}
		}
		if len(e.KeyID) == 0 || len(e.KeyID) > maxKeyID {
			return &FieldError{f("key_id"), fmt.Sprintf("want 1..%d bytes", maxKeyID)}
		}
		if len(e.PublicKey) != 33 || (e.PublicKey[0] != 2 && e.PublicKey[0] != 3) {
			return &FieldError{f("public_key"), "want a 33-byte compressed secp256k1 key"}
		}
		if e.Chain != chain.FamilyBTC && e.Chain != chain.FamilyETH {
			return &FieldError{f("chain"), fmt.Sprintf("%q is not btc or eth", e.Chain)}
		}
		if e.Network.Family() != e.Chain || len(e.Network) > 32 || !printable(string(e.Network)) {
			return &FieldError{f("network"), fmt.Sprintf("%q is not a %s network", e.Network, e.Chain)}
		}
		if e.Address == "" || len(e.Address) > maxAddress || !printable(e.Address) {
			return &FieldError{f("address"), fmt.Sprintf("want 1..%d printable characters", maxAddress)}
		}
		k := string(e.Network) + "\x00" + hex.EncodeToString(e.KeyID)
		if seen[k] {
			return &FieldError{f("key_id"), "duplicate key for this network"}
		}
		seen[k] = true
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

// Sign validates m, sets m.Signature with signer (the identity key) and
// returns the canonical file bytes. The signer must be m.Signer.
func Sign(m *Manifest, signer sigkey.Signer) ([]byte, error) {
	if !bytes.Equal(signer.Public().Key, m.Signer.Key) || signer.Public().Algorithm != m.Signer.Algorithm {
		return nil, fmt.Errorf("sign manifest: signer key %s is not the manifest's signer %s",
			signer.Public().Fingerprint(), m.Signer.Fingerprint())
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	d := m.Digest()
	sig, err := signer.Sign(d[:])
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	m.Signature = sig
	return m.Encode(), nil
}

// Parse decodes outside input strictly (see the package comment). It does
// not verify the signature: use Verify.
func Parse(data []byte) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the manifest", ErrMalformed)
	}
	if w.Version != 1 {
		return nil, &FieldError{"version", fmt.Sprintf("%d is not supported (want 1)", w.Version)}
	}
	if len(w.Entries) > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrTooLarge, len(w.Entries), MaxEntries)
	}
	signer, err := sigkey.ParsePublicKey(w.Signer)
	if err != nil {
		return nil, &FieldError{"signer", err.Error()}
	}
	if w.SignerFingerprint != signer.Fingerprint() {
		return nil, &FieldError{"signer_fingerprint", "does not match the signer key"}
	}
	created, err := time.Parse(time.RFC3339, w.Created)
	if err != nil || !strings.HasSuffix(w.Created, "Z") {
		return nil, &FieldError{"created", "want RFC 3339 UTC time like 2026-01-02T15:04:05Z"}
	}
	sig, err := hex.DecodeString(w.Signature)
	if err != nil || len(sig) == 0 {
		return nil, &FieldError{"signature", "missing or not hex"}
	}
	m := &Manifest{Signer: signer, Created: created, Signature: sig}
	for i, we := range w.Entries {
		id, err := hex.DecodeString(we.KeyID)
		if err != nil {
			return nil, &FieldError{fmt.Sprintf("entries[%d].key_id", i), "not hex"}
		}
		pub, err := hex.DecodeString(we.PublicKey)
		if err != nil {
			return nil, &FieldError{fmt.Sprintf("entries[%d].public_key", i), "not hex"}
		}
		m.Entries = append(m.Entries, Entry{
			Label: we.Label, KeyID: id, PublicKey: pub,
			Chain: chain.Family(we.Chain), Network: chain.Network(we.Network), Address: we.Address,
		})
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if !bytes.Equal(m.Encode(), data) {
		return nil, fmt.Errorf("%w: not in canonical form (field order, whitespace, entry order, duplicate keys or hex case)", ErrMalformed)
	}
	return m, nil
}

// NormalizeFingerprint lower-cases a fingerprint and removes separators, so
// that "A492:38CF:..." and "a49238cf..." compare equal.
func NormalizeFingerprint(fp string) string {
	r := strings.NewReplacer(":", "", " ", "", "-", "")
	return strings.ToLower(r.Replace(strings.TrimSpace(fp)))
}

// Verify parses data and checks that it is signed by the key whose
// fingerprint is expectedFingerprint. On any failure it returns nil and an
// error wrapping ErrTooLarge, ErrMalformed, ErrWrongSigner or ErrBadSignature.
func Verify(data []byte, expectedFingerprint string) (*Manifest, error) {
	want := NormalizeFingerprint(expectedFingerprint)
	if len(want) != 40 {
		return nil, fmt.Errorf("%w: pinned fingerprint %q is not 40 hex digits", ErrWrongSigner, expectedFingerprint)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if got := NormalizeFingerprint(m.Signer.Fingerprint()); got != want {
		return nil, fmt.Errorf("%w: signed by %s, expected %s", ErrWrongSigner, m.Signer.Fingerprint(), expectedFingerprint)
	}
	d := m.Digest()
	if err := m.Signer.Verify(d[:], m.Signature); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return m, nil
}

// AddressFunc derives the address of a compressed public key on a network
// (chain/btc.P2WPKHAddress or chain/eth.Address, wired by the caller).
type AddressFunc func(pub []byte, n chain.Network) (string, error)

// CheckAddresses re-derives every entry's address and fails with
// ErrAddressMismatch naming the first entry that differs.
func CheckAddresses(m *Manifest, derive AddressFunc) error {
	for i, e := range m.Entries {
		got, err := derive(e.PublicKey, e.Network)
		if err != nil {
			return fmt.Errorf("entries[%d] (%s): derive address: %w", i, e.Label, err)
		}
		if got != e.Address {
			return fmt.Errorf("%w: entries[%d] (%s) says %s, public key gives %s", ErrAddressMismatch, i, e.Label, e.Address, got)
		}
	}
	return nil
}
