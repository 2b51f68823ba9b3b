package eth

import (
	"crypto/ecdsa"

	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/ethereum/go-ethereum/crypto"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/hsmtest"
)

const vectorsDir = "../../../shared/vectors"

func readVectors(t testing.TB, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, rel))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", rel, err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// hexBig parses ethers-style hex quantities ("0x" means 0, leading zeros allowed).
func hexBig(t testing.TB, s string) *big.Int {
	t.Helper()
	h := strings.TrimPrefix(s, "0x")
	if h == "" {
		return new(big.Int)
	}
	v, ok := new(big.Int).SetString(h, 16)
	if !ok {
		t.Fatalf("bad hex quantity %q", s)
	}
	return v
}

func decBig(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad decimal %q", s)
	}
	return v
}

// fakeKey imports priv into a fresh in-memory signer and returns the signer,
// the OwnKey and its address.
func fakeKey(t testing.TB, s *hsmtest.Signer, label string, priv []byte) (chain.OwnKey, string) {
	t.Helper()
	ref := hsm.KeyRef{Label: label, ID: []byte(label)}
	pub := s.Import(ref, priv)
	addr, err := Address(pub)
	if err != nil {
		t.Fatal(err)
	}
	return chain.OwnKey{Ref: ref, PublicKey: pub}, addr
}

func newAdapter(t testing.TB, network chain.Network, keys ...chain.OwnKey) *Adapter {
	t.Helper()
	a, err := NewAdapter(Config{Network: network, Keys: keys})
	if err != nil {
		t.Fatalf("NewAdapter: %v", err)
	}
	return a
}

// signOne signs a parsed tx through SignBatch and returns the raw signed tx.
func signOne(t testing.TB, s hsm.Signer, tx chain.Tx) []byte {
	t.Helper()
	out, err := chain.SignBatch(context.Background(), s, []chain.Tx{tx}, 1, nil)
	if err != nil {
		t.Fatalf("SignBatch: %v", err)
	}
	return out[0]
}

func wantErr(t testing.TB, err, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %v, got nil", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("want error %v, got %v", sentinel, err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field == "" {
		t.Fatalf("error %v is not a *FieldError naming a field", err)
	}
}

func mustKey(t testing.TB, priv string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(mustHex(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
