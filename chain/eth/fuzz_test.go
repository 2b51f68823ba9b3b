package eth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/icebox-custody/icebox/hsm"
)

// seedPayloads returns binary envelopes built from the vectors (with our
// sender A and chain id rewritten where needed) and from the JSON fixtures.
func seedPayloads(t testing.TB) [][]byte {
	var seeds [][]byte
	var cases []ethersCase
	readVectors(t, "ethers-testcases/transactions_signing.json", &cases)
	for i, c := range cases {
		if i >= 20 {
			break
		}
		for _, typ := range []TxType{TypeLegacy, TypeEIP2930, TypeEIP1559} {
			u := c.unsigned(t, addrA, typ)
			u.ChainID = 1337
			if u.MaxPriorityFeePerGas != nil && u.MaxPriorityFeePerGas.Cmp(u.MaxFeePerGas) > 0 {
				continue
			}
			if p, err := EncodeUnsigned(u); err == nil {
				seeds = append(seeds, p)
			}
		}
		seeds = append(seeds, env(t, addrA, mustHex(t, c.Expected["unsigned_legacy"])))
	}
	files, _ := filepath.Glob("testdata/*.json")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		seeds = append(seeds, data)
		if u, err := ParseJSON(data); err == nil {
			if p, err := EncodeUnsigned(u); err == nil {
				seeds = append(seeds, p)
			}
		}
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range seedPayloads(f) {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		tx, err := fx.a.ParseTx(payload)
		if err != nil {
			return
		}
		s := tx.Summary()
		items := tx.SigningItems()
		if len(items) != 1 || "0x"+items[0].Digest.String() != s.ID {
			t.Fatalf("signing items %+v for ID %s", items, s.ID)
		}
		if !isJSON(payload) && s.ContentHash != sha256.Sum256(payload) {
			t.Fatal("content hash is not the SHA-256 of the binary payload")
		}
		if s.From != addrA && s.From != addrB {
			t.Fatalf("accepted sender %s", s.From)
		}
		if s.ChainID != 1337 || s.Fee == nil || len(s.Consumes) != 1 {
			t.Fatalf("summary %+v", s)
		}
		sig, err := fx.signer.SignDigest(context.Background(), items[0].Key, items[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := tx.Attach([]hsm.Signature{sig})
		if err != nil {
			t.Fatalf("attach: %v", err)
		}
		d, err := fx.a.DecodeSigned(raw)
		if err != nil || d.Sender != s.From || d.Summary.ContentHash != s.ContentHash {
			t.Fatalf("decode signed: %v", err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := ParseJSON(data)
		if err != nil {
			return
		}
		bin, err := EncodeUnsigned(u)
		if err != nil {
			t.Fatalf("ParseJSON accepted what EncodeUnsigned refuses: %v", err)
		}
		js, err := EncodeJSON(u)
		if err != nil {
			t.Fatalf("EncodeJSON: %v", err)
		}
		u2, err := ParseJSON(js)
		if err != nil {
			t.Fatalf("ParseJSON(EncodeJSON) %s: %v", js, err)
		}
		bin2, err := EncodeUnsigned(u2)
		if err != nil || !bytes.Equal(bin, bin2) {
			t.Fatalf("JSON round trip changed the transaction: %v", err)
		}
	})
}

func FuzzDecodeSigned(f *testing.F) {
	var cases []ethersCase
	readVectors(f, "ethers-testcases/transactions_signing.json", &cases)
	for i, c := range cases {
		if i >= 10 {
			break
		}
		for _, k := range []string{"signed_legacy", "signed_eip155", "signed_eip2930", "signed_eip1559"} {
			f.Add(mustHex(f, c.Expected[k]))
		}
	}
	var rec []recoveryCase
	readVectors(f, "go-ethereum/sender_recovery.json", &rec)
	for _, c := range rec {
		f.Add(mustHex(f, c.Input.SignedTxRLP))
	}
	a := newAdapter(f, "eth-1")
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := a.DecodeSigned(raw)
		if err != nil {
			return
		}
		if d.Sender == "" || d.Summary.From != d.Sender || d.Summary.ChainID != 1 {
			t.Fatalf("decoded %+v", d)
		}
	})
}
