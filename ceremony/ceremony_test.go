package ceremony

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/sigkey"
)

// p256Signer is an in-memory P-256 identity (the HSM identity's algorithm in
// backup mode).
type p256Signer struct{ k *ecdsa.PrivateKey }

func (s p256Signer) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.P256, Key: elliptic.MarshalCompressed(elliptic.P256(), s.k.X, s.k.Y)}
}

func (s p256Signer) Sign(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, ss, err := ecdsa.Sign(rand.Reader, s.k, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}

func seededP256(seed byte) p256Signer {
	d := new(big.Int).SetBytes(bytes.Repeat([]byte{seed}, 32))
	k := &ecdsa.PrivateKey{D: d}
	k.PublicKey.Curve = elliptic.P256()
	k.PublicKey.X, k.PublicKey.Y = elliptic.P256().ScalarBaseMult(d.Bytes())
	return p256Signer{k}
}

// sampleBackup builds a backup of two secp256k1 keys and a P-256 identity
// with fake wrapped bytes (this package never unwraps).
func sampleBackup(t *testing.T, officers []string, m int) (*Backup, []Share, hsm.WrappingKey) {
	t.Helper()
	id := seededP256(3)
	b := &Backup{Created: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), SourceToken: "icebox-a", SourceSerial: "1234", Threshold: m}
	var err error
	if b.ID, err = NewBackupID(nil); err != nil {
		t.Fatal(err)
	}
	man := &manifest.Manifest{Signer: id.Public(), Created: b.Created}
	for i := byte(1); i <= 2; i++ {
		pub := secp256k1.PrivKeyFromBytes(bytes.Repeat([]byte{i}, 32)).PubKey().SerializeCompressed()
		ref := hsm.KeyRef{Label: "btc-key-000" + string('0'+i), ID: bytes.Repeat([]byte{i}, 16)}
		b.Keys = append(b.Keys, hsm.WrappedKey{Role: hsm.RoleSigning, Ref: ref, Curve: hsm.CurveSecp256k1, PublicKey: pub, Wrapped: bytes.Repeat([]byte{0xa0 + i}, 48)})
		man.Entries = append(man.Entries, manifest.Entry{Label: ref.Label, KeyID: ref.ID, PublicKey: pub, Chain: chain.FamilyBTC, Network: "btc-regtest", Address: "bcrt1qexample" + string('0'+i)})
	}
	b.Keys = append(b.Keys, hsm.WrappedKey{Role: hsm.RoleIdentity, Ref: hsm.KeyRef{Label: "icebox-identity", ID: bytes.Repeat([]byte{9}, 16)},
		Curve: hsm.CurveP256, PublicKey: id.Public().Key, Wrapped: bytes.Repeat([]byte{0xee}, 64)})
	if b.Manifest, err = manifest.Sign(man, id); err != nil {
		t.Fatal(err)
	}
	var key hsm.WrappingKey
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	shares, err := Split(&key, b.ID, officers, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		b.Holders = append(b.Holders, Holder{Officer: s.Officer, Index: s.Index, Commitment: s.Commitment()})
	}
	return b, shares, key
}

func sealParse(t *testing.T, b *Backup, key *hsm.WrappingKey) (*Backup, []byte) {
	t.Helper()
	data, err := Seal(b, key)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	got, err := ParseBackup(data)
	if err != nil {
		t.Fatalf("ParseBackup: %v", err)
	}
	return got, data
}

func TestRecoverEveryMSubset(t *testing.T) {
	officers := []string{"alice", "bob", "carol", "dave", "erin"}
	b, shares, key := sampleBackup(t, officers, 3)
	got, _ := sealParse(t, b, &key)
	// Every 3-subset, and every 4- and 5-subset, rebuilds the same key.
	n := len(shares)
	for mask := 0; mask < 1<<n; mask++ {
		var sub []Share
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				sub = append(sub, shares[i])
			}
		}
		k, err := Recover(got, sub)
		if len(sub) < 3 {
			if !errors.Is(err, ErrShares) || !k.IsZero() {
				t.Fatalf("%d shares: err %v, key zero %v; want ErrShares and no key", len(sub), err, k.IsZero())
			}
			continue
		}
		if err != nil || k != key {
			t.Fatalf("subset %05b: err %v, key matches %v", mask, err, k == key)
		}
	}
}

func TestRecoverRefuses(t *testing.T) {
	officers := []string{"alice", "bob", "carol"}
	b, shares, key := sampleBackup(t, officers, 2)
	got, data := sealParse(t, b, &key)
	other, otherShares, otherKey := sampleBackup(t, officers, 2)
	sealParse(t, other, &otherKey)

	corrupted := shares[1]
	corrupted.Value = append([]byte(nil), corrupted.Value...)
	corrupted.Value[3] ^= 0x01
	relabelled := otherShares[1]
	relabelled.BackupID = b.ID // a share of another backup passed off as this one's

	// A tampered backup whose commitments still match: only the MAC can tell.
	tampered := strings.Replace(string(data), got.toWire().Keys[0].Wrapped, strings.Repeat("b", len(got.toWire().Keys[0].Wrapped)), 1)
	tb, err := ParseBackup([]byte(tampered))
	if err != nil {
		t.Fatalf("tampered wrapped bytes must still parse (MAC catches it): %v", err)
	}

	for _, c := range []struct {
		name   string
		b      *Backup
		shares []Share
		want   error
		say    string
	}{
		{"one share (M-1)", got, shares[:1], ErrShares, "needs 2 of 3"},
		{"corrupted share", got, []Share{shares[0], corrupted}, ErrShares, "bob's share is corrupted"},
		{"share of another backup", got, []Share{shares[0], otherShares[1]}, ErrShares, "belongs to backup"},
		{"other backup's share relabelled", got, []Share{shares[0], relabelled}, ErrShares, "bob's share is corrupted"},
		{"same share twice", got, []Share{shares[0], shares[0]}, ErrShares, "given twice"},
		{"unknown officer", got, []Share{shares[0], func() Share { s := shares[1]; s.Officer = "mallory"; return s }()}, ErrShares, "mallory holds no share"},
		{"tampered backup file", tb, shares[:2], ErrIntegrity, "was altered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := Recover(c.b, c.shares)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.say) {
				t.Fatalf("err = %v, want %v saying %q", err, c.want, c.say)
			}
			if !k.IsZero() {
				t.Fatal("a key was returned with an error")
			}
		})
	}
}

func TestShareFiles(t *testing.T) {
	b, shares, _ := sampleBackup(t, []string{"alice", "bob"}, 2)
	_ = b
	plain, err := EncodeShare(shares[0], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("correct horse battery")
	enc, err := EncodeShare(shares[1], pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte(hexs(shares[1].Value))) {
		t.Fatal("encrypted share file contains the share in the clear")
	}
	for _, c := range []struct {
		data []byte
		pass []byte
		want Share
	}{{plain, nil, shares[0]}, {enc, pass, shares[1]}} {
		f, err := ParseShare(c.data)
		if err != nil {
			t.Fatalf("ParseShare: %v", err)
		}
		s, err := f.Open(c.pass)
		if err != nil || !bytes.Equal(s.Value, c.want.Value) || s.Officer != c.want.Officer || s.BackupID != c.want.BackupID {
			t.Fatalf("Open: %v %v", err, s)
		}
	}
	f, _ := ParseShare(enc)
	if _, err := f.Open([]byte("wrong passphrase!")); !errors.Is(err, ErrSharePassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := f.Open(nil); !errors.Is(err, ErrSharePassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}
	// The header is bound: moving an encrypted share to another officer fails.
	moved := bytes.Replace(enc, []byte(`"officer": "bob"`), []byte(`"officer": "eve"`), 1)
	if mf, err := ParseShare(moved); err != nil {
		t.Fatalf("parse moved: %v", err)
	} else if _, err := mf.Open(pass); !errors.Is(err, ErrSharePassphrase) {
		t.Fatalf("moved share opened: %v", err)
	}
	if _, err := EncodeShare(shares[0], []byte("short"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short passphrase: %v", err)
	}
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func TestSplitRefuses(t *testing.T) {
	var key hsm.WrappingKey
	key[0] = 1
	id, _ := NewBackupID(nil)
	for _, c := range []struct {
		officers []string
		m        int
	}{
		{[]string{"alice"}, 1},
		{[]string{"alice", "bob"}, 1},
		{[]string{"alice", "bob"}, 3},
		{[]string{"alice", "alice"}, 2},
		{[]string{"alice", "Bob"}, 2},
	} {
		if _, err := Split(&key, id, c.officers, c.m); !errors.Is(err, ErrInvalid) {
			t.Errorf("Split(%v, %d) = %v, want ErrInvalid", c.officers, c.m, err)
		}
	}
	var zero hsm.WrappingKey
	if _, err := Split(&zero, id, []string{"a1", "b1"}, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero key: %v", err)
	}
}

// TestFixtures writes the testdata fixtures once (ICEBOX_WRITE_FIXTURES=1)
// and checks every file by the outcome its name promises.
func TestFixtures(t *testing.T) {
	if os.Getenv("ICEBOX_WRITE_FIXTURES") == "1" {
		writeFixtures(t)
	}
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		var perr error
		if strings.Contains(name, "share") {
			_, perr = ParseShare(data)
		} else {
			_, perr = ParseBackup(data)
		}
		switch {
		case strings.HasPrefix(name, "ok_") && perr != nil:
			t.Errorf("%s: %v", name, perr)
		case strings.HasPrefix(name, "expfail_") && !errors.Is(perr, ErrMalformed) && !errors.Is(perr, ErrManifest):
			t.Errorf("%s: err = %v, want a malformed/manifest error", name, perr)
		default:
			t.Logf("%s: %v", name, perr)
		}
	}
}

func writeFixtures(t *testing.T) {
	b, shares, key := sampleBackup(t, []string{"alice", "bob", "carol"}, 2)
	data, err := Seal(b, &key)
	if err != nil {
		t.Fatal(err)
	}
	share, _ := EncodeShare(shares[0], nil, nil)
	encShare, _ := EncodeShare(shares[1], []byte("correct horse battery"), nil)
	w := map[string][]byte{
		"ok_backup.json":          data,
		"ok_share_plain.json":     share,
		"ok_share_encrypted.json": encShare,
		"expfail_backup_unknown_field.json": bytes.Replace(data, []byte(`"format"`), []byte(`"extra": 1,
  "format"`), 1),
		"expfail_backup_trailing.json": append(append([]byte(nil), data...), []byte("{}")...),
		"expfail_backup_duplicate_key.json": bytes.Replace(data, []byte(`"threshold": 2,`), []byte(`"threshold": 2,
  "threshold": 2,`), 1),
		"expfail_backup_threshold_1.json":    bytes.Replace(data, []byte(`"threshold": 2,`), []byte(`"threshold": 1,`), 1),
		"expfail_backup_manifest_swap.json":  bytes.Replace(data, []byte(`"label": "btc-key-0001"`), []byte(`"label": "btc-key-0009"`), 1),
		"expfail_backup_not_json.json":       []byte("not json"),
		"expfail_share_bad_index.json":       bytes.Replace(share, []byte(`"index": 1`), []byte(`"index": 7`), 1),
		"expfail_share_short.json":           bytes.Replace(share, []byte(`"share": "`), []byte(`"share": "00`), 1),
		"expfail_share_whitespace.json":      append([]byte(" "), share...),
		"expfail_share_encryption_name.json": bytes.Replace(share, []byte(`"name": "none"`), []byte(`"name": "rot13"`), 1),
	}
	for name, d := range w {
		if err := os.WriteFile(filepath.Join("testdata", name), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzParseBackup(f *testing.F) {
	files, _ := filepath.Glob("testdata/*backup*.json")
	for _, p := range files {
		if d, err := os.ReadFile(p); err == nil {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBackup(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to the same bytes.
		w := b.toWire()
		w.MAC = hexs(b.mac[:])
		if !bytes.Equal(marshalIndent(w), data) {
			t.Fatal("parsed backup is not canonical")
		}
	})
}

func FuzzParseShare(f *testing.F) {
	files, _ := filepath.Glob("testdata/*share*.json")
	for _, p := range files {
		if d, err := os.ReadFile(p); err == nil {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ParseShare(data)
		if err != nil {
			return
		}
		_, _ = sf.Open([]byte("correct horse battery"))
	})
}
