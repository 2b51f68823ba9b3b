package btc

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/hsmtest"
)

type bip143Sig struct {
	Sighash    string `json:"sighash"`
	PrivateKey string `json:"private_key"`
	PublicKey  string `json:"public_key"`
	Signature  string `json:"signature"`
	SighashTy  uint32 `json:"sighash_type"`
}

type bip143Input struct {
	bip143Sig
	Index         int         `json:"index"`
	Type          string      `json:"type"`
	ScriptPubKey  string      `json:"scriptPubKey"`
	RedeemScript  string      `json:"redeem_script"`
	WitnessScript string      `json:"witness_script"`
	Amount        int64       `json:"amount_sat"`
	Signatures    []bip143Sig `json:"signatures"`
}

type bip143Case struct {
	ID         string        `json:"id"`
	UnsignedTx string        `json:"unsigned_tx"`
	SignedTx   string        `json:"signed_tx"`
	Inputs     []bip143Input `json:"inputs"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// keyImporter puts a known private key into a signer (fake or SoftHSM) and
// returns the signer and the key reference.
type keyImporter func(t *testing.T, priv []byte) (hsm.Signer, hsm.KeyRef)

func fakeImporter() keyImporter {
	s := hsmtest.New()
	n := 0
	return func(t *testing.T, priv []byte) (hsm.Signer, hsm.KeyRef) {
		n++
		ref := hsm.KeyRef{Label: "bip143", ID: []byte{byte(n)}}
		s.Import(ref, priv)
		return s, ref
	}
}

// runBIP143 re-signs every BIP-143 example signature whose private key is
// published, through the given signer, swaps our signature into the signed
// transaction and runs the script engine over every input. Signatures are
// verified, never compared (HSM nonces are random).
func runBIP143(t *testing.T, imp keyImporter) {
	b, err := os.ReadFile(vectorsDir + "bitcoin-bips-bip143/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []bip143Case
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	checkedCases, resigned := 0, 0
	for _, c := range cases {
		if c.UnsignedTx == "" || c.Inputs[0].ScriptPubKey == "" {
			continue // bip143-06: no unsigned tx or spent script published
		}
		unsigned, err := parseTxExact(unhex(t, c.UnsignedTx), false)
		if err != nil {
			t.Fatalf("%s unsigned: %v", c.ID, err)
		}
		signed, err := parseTxExact(unhex(t, c.SignedTx), true)
		if err != nil {
			t.Fatalf("%s signed: %v", c.ID, err)
		}
		prevs := map[wire.OutPoint]*wire.TxOut{}
		for _, in := range c.Inputs {
			prevs[signed.TxIn[in.Index].PreviousOutPoint] = wire.NewTxOut(in.Amount, unhex(t, in.ScriptPubKey))
		}
		fetcher := txscript.NewMultiPrevOutFetcher(prevs)
		hashes := txscript.NewTxSigHashes(unsigned, fetcher)
		n := 0
		for _, in := range c.Inputs {
			sigs := in.Signatures
			if len(sigs) == 0 {
				sigs = []bip143Sig{in.bip143Sig}
			}
			prev := prevs[signed.TxIn[in.Index].PreviousOutPoint]
			for _, sv := range sigs {
				if sv.PrivateKey == "" {
					continue
				}
				vecSig := unhex(t, sv.Signature)
				if len(vecSig) == 0 { // legacy P2PK input: the signature is only in the signed scriptSig
					pushes, err := txscript.PushedData(signed.TxIn[in.Index].SignatureScript)
					if err != nil || len(pushes) != 1 {
						t.Fatalf("%s input %d: no signature to re-create", c.ID, in.Index)
					}
					vecSig = pushes[0]
				}
				ht := txscript.SigHashType(vecSig[len(vecSig)-1])
				var digest hsm.Digest
				if sv.Sighash != "" {
					copy(digest[:], unhex(t, sv.Sighash))
					// The adapter's own sighash code must agree with the vector.
					spec := signSpec{index: in.Index, prevOut: prev, hashType: ht}
					switch in.Type {
					case "p2wpkh":
						spec.kind = kindP2WPKH
					case "p2sh-p2wpkh":
						spec.kind, spec.redeem = kindP2SHP2WPKH, unhex(t, in.RedeemScript)
					case "p2sh-p2wsh":
						spec.kind, spec.witScript = kindP2WSHMulti, unhex(t, in.WitnessScript)
					}
					if spec.kind != kindOther {
						got, err := sighash(unsigned, hashes, spec)
						if err != nil || got != digest {
							t.Fatalf("%s input %d: adapter sighash %s, vector %s (%v)", c.ID, in.Index, got, digest, err)
						}
					}
				} else {
					h, err := txscript.CalcSignatureHash(prev.PkScript, ht, unsigned, in.Index)
					if err != nil {
						t.Fatal(err)
					}
					copy(digest[:], h)
				}
				signer, ref := imp(t, unhex(t, sv.PrivateKey))
				pub, err := signer.PublicKey(context.Background(), ref)
				if err != nil {
					t.Fatal(err)
				}
				if sv.PublicKey != "" && !bytes.Equal(pub, unhex(t, sv.PublicKey)) {
					t.Fatalf("%s: imported key has public key %x, vector %s", c.ID, pub, sv.PublicKey)
				}
				sig, err := signer.SignDigest(context.Background(), ref, digest)
				if err != nil {
					t.Fatal(err)
				}
				der, err := derSignature(sig, pub, digest, true)
				if err != nil {
					t.Fatalf("%s input %d: %v", c.ID, in.Index, err)
				}
				if !replaceSig(signed.TxIn[in.Index], vecSig, append(der, byte(ht))) {
					t.Fatalf("%s input %d: vector signature not found in the signed tx", c.ID, in.Index)
				}
				n++
			}
		}
		if n == 0 {
			continue // bip143-05: private key unknown
		}
		sh := txscript.NewTxSigHashes(signed, fetcher)
		for i, txIn := range signed.TxIn {
			prev := prevs[txIn.PreviousOutPoint]
			vm, err := txscript.NewEngine(prev.PkScript, signed, i, txscript.StandardVerifyFlags, nil, sh, prev.Value, fetcher)
			if err == nil {
				err = vm.Execute()
			}
			if err != nil {
				t.Fatalf("%s input %d with our signatures: %v", c.ID, i, err)
			}
		}
		checkedCases++
		resigned += n
	}
	// bip143-00..04 carry private keys.
	if checkedCases != 5 || resigned != wantResigned {
		t.Fatalf("checked %d cases / %d signatures, want 5 / %d", checkedCases, resigned, wantResigned)
	}
}

const wantResigned = 14

func replaceSig(in *wire.TxIn, old, repl []byte) bool {
	for i, item := range in.Witness {
		if bytes.Equal(item, old) {
			in.Witness[i] = repl
			return true
		}
	}
	pushes, err := txscript.PushedData(in.SignatureScript)
	if err != nil {
		return false
	}
	found := false
	sb := txscript.NewScriptBuilder()
	for _, p := range pushes {
		if !found && bytes.Equal(p, old) {
			p, found = repl, true
		}
		sb.AddData(p)
	}
	if found {
		in.SignatureScript, _ = sb.Script()
	}
	return found
}

func TestBIP143VectorsFakeSigner(t *testing.T) { runBIP143(t, fakeImporter()) }
