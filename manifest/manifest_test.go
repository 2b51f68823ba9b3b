package manifest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/sigkey"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures")

// testSigner is an in-memory Ed25519 identity with a fixed seed.
type testSigner struct{ priv ed25519.PrivateKey }

func newTestSigner(seed byte) testSigner {
	return testSigner{ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))}
}

func (s testSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: s.priv.Public().(ed25519.PublicKey)}
}
func (s testSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

func pub(b byte) []byte { return append([]byte{0x02}, bytes.Repeat([]byte{b}, 32)...) }

func sample(s testSigner) *Manifest {
	return &Manifest{
		Signer:  s.Public(),
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Entries: []Entry{
			{Label: "eth-key-0001", KeyID: []byte{0xee, 1}, PublicKey: pub(3), Chain: chain.FamilyETH, Network: "eth-1337", Address: "0x0000000000000000000000000000000000000003"},
			{Label: "btc-key-0002", KeyID: []byte{0xbb, 2}, PublicKey: pub(2), Chain: chain.FamilyBTC, Network: chain.BTCRegtest, Address: "bcrt1qexample2"},
			{Label: "btc-key-0001", KeyID: []byte{0xbb, 1}, PublicKey: pub(1), Chain: chain.FamilyBTC, Network: chain.BTCRegtest, Address: "bcrt1qexample1"},
		},
	}
}

func signed(t *testing.T) ([]byte, testSigner) {
	t.Helper()
	s := newTestSigner(7)
	data, err := Sign(sample(s), s)
	if err != nil {
		t.Fatal(err)
	}
	return data, s
}

func TestGoldenEncoding(t *testing.T) {
	data, _ := signed(t)
	path := filepath.Join("testdata", "ok_basic.json")
	if *update {
		writeFixtures(t, data)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("encoding changed:\n got %s\nwant %s", data, want)
	}
}

// writeFixtures derives the expfail fixtures from the golden file.
func writeFixtures(t *testing.T, ok []byte) {
	s := string(ok)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join("testdata", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok_basic.json", s)
	write("expfail_unknown_field.json", strings.Replace(s, `{"version":1,`, `{"version":1,"extra":true,`, 1))
	write("expfail_trailing_bytes.json", s+"{}\n")
	write("expfail_duplicate_key.json", strings.Replace(s, `"version":1,`, `"version":1,"version":1,`, 1))
	write("expfail_whitespace.json", strings.Replace(s, `"version":1,`, `"version": 1,`, 1))
	write("expfail_tampered_address.json", strings.Replace(s, "bcrt1qexample1", "bcrt1qattacker", 1))
	write("expfail_uppercase_hex.json", strings.Replace(s, `"key_id":"bb01"`, `"key_id":"BB01"`, 1))
	write("expfail_network_family.json", strings.Replace(s, `"network":"eth-1337"`, `"network":"btc-regtest"`, 1))
	write("expfail_version.json", strings.Replace(s, `"version":1,`, `"version":2,`, 1))
	write("expfail_not_json.json", "not json\n")
	write("expfail_empty.json", "")
}

func TestFixtures(t *testing.T) {
	_, s := signed(t)
	fp := s.Public().Fingerprint()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("fixtures: %v %d", err, len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Verify(data, fp)
			switch {
			case strings.HasPrefix(name, "ok_"):
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if len(m.Entries) != 3 || m.Entries[0].Label != "btc-key-0001" {
					t.Fatalf("entries not in canonical order: %+v", m.Entries)
				}
			case strings.HasPrefix(name, "expfail_"):
				if err == nil {
					t.Fatal("accepted")
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
					t.Fatalf("error %v is neither ErrMalformed nor ErrBadSignature", err)
				}
			default:
				t.Fatalf("fixture %s must start with ok_ or expfail_", name)
			}
		})
	}
}

func TestVerifyPinsSigner(t *testing.T) {
	data, s := signed(t)
	other := newTestSigner(9)
	if _, err := Verify(data, other.Public().Fingerprint()); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("other fingerprint: %v", err)
	}
	if _, err := Verify(data, "abc"); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("short fingerprint: %v", err)
	}
	upper := strings.ToUpper(s.Public().Fingerprint())
	if _, err := Verify(data, upper); err != nil {
		t.Fatalf("upper-case fingerprint: %v", err)
	}
	// A manifest re-signed by another key with a consistent fingerprint
	// field still fails against the pinned fingerprint.
	m := sample(other)
	forged, err := Sign(m, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(forged, s.Public().Fingerprint()); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("forged: %v", err)
	}
}

func TestDigestIsDomainSeparatedAndExcludesSignature(t *testing.T) {
	s := newTestSigner(7)
	m := sample(s)
	d1 := m.Digest()
	m.Signature = []byte{1, 2, 3}
	if m.Digest() != d1 {
		t.Fatal("digest depends on the signature")
	}
	m.Entries[0].Address = "0x0000000000000000000000000000000000000004"
	if m.Digest() == d1 {
		t.Fatal("digest ignores an address")
	}
	if bytes.Contains(m.Body(), []byte("signature")) {
		t.Fatal("body contains the signature")
	}
}

func TestSizeCapBeforeParsing(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxSize+1)
	if _, err := Parse(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
}

func TestValidateNamesField(t *testing.T) {
	s := newTestSigner(7)
	m := sample(s)
	m.Entries[1].PublicKey = []byte{1, 2}
	_, err := Sign(m, s)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "entries[1].public_key" {
		t.Fatalf("got %v", err)
	}
	m = sample(s)
	if _, err := Sign(m, newTestSigner(8)); err == nil {
		t.Fatal("signed with a key that is not the manifest's signer")
	}
}

func TestCheckAddresses(t *testing.T) {
	data, s := signed(t)
	m, err := Verify(data, s.Public().Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	derive := func(p []byte, n chain.Network) (string, error) {
		for _, e := range sample(s).Entries {
			if bytes.Equal(e.PublicKey, p) {
				return e.Address, nil
			}
		}
		return "", errors.New("unknown key")
	}
	if err := CheckAddresses(m, derive); err != nil {
		t.Fatal(err)
	}
	m.Entries[2].Address = "0xdead"
	if err := CheckAddresses(m, derive); !errors.Is(err, ErrAddressMismatch) {
		t.Fatalf("got %v", err)
	}
}
