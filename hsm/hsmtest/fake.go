// Package hsmtest provides an in-memory hsm.Signer for unit tests of pure
// logic (chain adapters, pipeline stages). It holds private keys in process
// memory, which is exactly what Icebox never does outside tests, and it never
// replaces the SoftHSM2 suite.
package hsmtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	decdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/icebox-custody/icebox/hsm"
)

// Signer is an in-memory secp256k1 signer keyed by KeyRef.String().
type Signer struct {
	mu   sync.Mutex
	keys map[string]*secp256k1.PrivateKey
	// FailAfter, when > 0, makes SignDigest fail with hsm.ErrSessionFailed
	// once that many signatures have been made (fault injection).
	FailAfter int
	signed    int
}

var _ hsm.Signer = (*Signer)(nil)
var _ hsm.KeyGenerator = (*Signer)(nil)

// New returns an empty fake signer.
func New() *Signer { return &Signer{keys: map[string]*secp256k1.PrivateKey{}} }

// Import adds a known private key (32 bytes) under ref and returns its
// compressed public key. For test vectors only.
func (s *Signer) Import(ref hsm.KeyRef, priv []byte) []byte {
	k := secp256k1.PrivKeyFromBytes(priv)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[ref.String()] = k
	return k.PubKey().SerializeCompressed()
}

// GenerateKey creates a random key with a random 16-byte ID.
func (s *Signer) GenerateKey(_ context.Context, req hsm.GenerateKeyRequest) (hsm.KeyInfo, error) {
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return hsm.KeyInfo{}, err
	}
	ref := hsm.KeyRef{Label: req.Label, ID: id}
	s.mu.Lock()
	s.keys[ref.String()] = k
	s.mu.Unlock()
	return hsm.KeyInfo{Ref: ref, PublicKey: k.PubKey().SerializeCompressed()}, nil
}

func (s *Signer) key(ref hsm.KeyRef) (*secp256k1.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[ref.String()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", hsm.ErrKeyNotFound, ref)
	}
	return k, nil
}

// PublicKey returns the compressed public key of ref.
func (s *Signer) PublicKey(_ context.Context, ref hsm.KeyRef) ([]byte, error) {
	k, err := s.key(ref)
	if err != nil {
		return nil, err
	}
	return k.PubKey().SerializeCompressed(), nil
}

// SignDigest signs with RFC 6979 (deterministic, low-S) — unlike a real HSM,
// whose signatures are random; tests must verify, never compare bytes.
func (s *Signer) SignDigest(ctx context.Context, ref hsm.KeyRef, d hsm.Digest) (hsm.Signature, error) {
	if err := ctx.Err(); err != nil {
		return hsm.Signature{}, err
	}
	k, err := s.key(ref)
	if err != nil {
		return hsm.Signature{}, err
	}
	s.mu.Lock()
	s.signed++
	fail := s.FailAfter > 0 && s.signed > s.FailAfter
	s.mu.Unlock()
	if fail {
		return hsm.Signature{}, fmt.Errorf("%w: injected fault", hsm.ErrSessionFailed)
	}
	compact := decdsa.SignCompact(k, d[:], true) // [v][r][s]
	var sig hsm.Signature
	copy(sig.R[:], compact[1:33])
	copy(sig.S[:], compact[33:65])
	return sig, nil
}
