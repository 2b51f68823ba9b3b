package quorum

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/sigkey"
)

// edSigner is the key of testdata seed byte i.
type edSigner struct{ priv ed25519.PrivateKey }

func seedKey(i byte) edSigner {
	seed := make([]byte, 32)
	for j := range seed {
		seed[j] = i
	}
	return edSigner{ed25519.NewKeyFromSeed(seed)}
}

func (s edSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: s.priv.Public().(ed25519.PublicKey)}
}
func (s edSigner) Sign(m []byte) ([]byte, error) { return ed25519.Sign(s.priv, m), nil }

// p256Signer is frank's key (scalar 7).
type p256Signer struct{ priv *ecdsa.PrivateKey }

func frankKey() p256Signer {
	c := elliptic.P256()
	x, y := c.ScalarBaseMult(big.NewInt(7).Bytes())
	return p256Signer{&ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c, X: x, Y: y}, D: big.NewInt(7)}}
}

func (s p256Signer) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.P256, Key: elliptic.MarshalCompressed(elliptic.P256(), s.priv.X, s.priv.Y)}
}
func (s p256Signer) Sign(m []byte) ([]byte, error) {
	h := sha256.Sum256(m)
	r, ss, err := ecdsa.Sign(rand.Reader, s.priv, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}

var (
	_ sigkey.Signer = edSigner{}
	_ sigkey.Signer = p256Signer{}
)

var keys = map[string]sigkey.Signer{
	"alice": seedKey(1), "bob": seedKey(2), "carol": seedKey(3), "dave": seedKey(4),
	"hot-1": seedKey(5), "erin": seedKey(6), "frank": frankKey(),
}

func loadRoster(t testing.TB, name string) (*Roster, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRoster(name, data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return r, data
}

var (
	reqA   = bundle.Digest{0xa1}
	reqB   = bundle.Digest{0xb2}
	polH   = bundle.Digest{0x50}
	otherP = bundle.Digest{0x51}
	t0     = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
)

func approve(t testing.TB, r *Roster, who string, req bundle.Digest, exp time.Time) bundle.Approval {
	t.Helper()
	a, err := Approve(keys[who], ApproveInput{Officer: who, RequestDigest: req, PolicyHash: polH, RosterHash: r.Hash(), Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
