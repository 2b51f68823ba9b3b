package btc

// The same signing paths as the unit tests, through real SoftHSM2 tokens
// (hsm/pkcs11): random-nonce signatures, so everything is verified by the
// script engine, never compared.

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
	"github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

func openSoftHSM(t *testing.T, label string) (*pkcs11.HSM, *softhsmtest.Token) {
	t.Helper()
	return openToken(t, softhsmtest.NewToken(t, softhsmtest.Options{Label: label}))
}

// openToken opens an initialised token. SoftHSM lists tokens at
// C_Initialize: create every token of a test before opening the first.
func openToken(t *testing.T, tok *softhsmtest.Token) (*pkcs11.HSM, *softhsmtest.Token) {
	t.Helper()
	label := tok.Label
	h, err := pkcs11.Open(pkcs11.Config{
		ModulePath:     tok.ModulePath,
		TokenLabel:     tok.Label,
		PINFile:        tok.PINFile,
		Sessions:       2,
		PINFailureFile: filepath.Join(tok.Dir, tok.Label+".failures.json"),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open SoftHSM token %s: %v", label, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close token %s: %v", label, err)
		}
	})
	return h, tok
}

func TestSoftHSMSweepEachScriptType(t *testing.T) {
	h, _ := openSoftHSM(t, "btc-sweep")
	k1, k2 := genKey(t, h, "hot-1"), genKey(t, h, "hot-2")
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k1, k2}})
	for _, kind := range []string{ScriptP2WPKH, ScriptP2SHP2WPKH, ScriptP2PKH} {
		t.Run(kind, func(t *testing.T) {
			utxos := []UTXO{utxoFor(t, kind, k1.PublicKey, 120_000), utxoFor(t, kind, k2.PublicKey, 330_000), utxoFor(t, kind, k1.PublicKey, 75_000)}
			ps, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: utxos, Destination: foreignAddr(t), FeeRateSatPerVB: 7, MaxInputsPerTx: 2})
			if err != nil || len(ps) != 2 {
				t.Fatalf("BuildSweep: %d psbts, %v", len(ps), err)
			}
			for i, p := range ps {
				signed, sum := signPSBT(t, a, h, p)
				if sum.Inputs[0].ScriptType != kind || !sum.Inputs[0].Ours {
					t.Fatalf("psbt %d: %+v", i, sum.Inputs)
				}
				_, raw, err := Finalize(signed)
				if err != nil {
					t.Fatalf("psbt %d finalize: %v", i, err)
				}
				verifyRawTx(t, raw, prevOutsOf(t, signed))
			}
		})
	}
}

func TestSoftHSMMultisigThreeTokens(t *testing.T) {
	var toks []*softhsmtest.Token
	for i := range 3 {
		toks = append(toks, softhsmtest.NewToken(t, softhsmtest.Options{Label: fmt.Sprintf("cosigner-%d", i)}))
	}
	var signers []hsm.Signer
	var keys []chain.OwnKey
	for _, tok := range toks {
		h, _ := openToken(t, tok)
		signers = append(signers, h)
		keys = append(keys, genKey(t, h, "vault"))
	}
	runMultisig(t, signers, keys)
}

func TestSoftHSMBIP143Vectors(t *testing.T) {
	h, tok := openSoftHSM(t, "bip143")
	n := 0
	runBIP143(t, func(t *testing.T, priv []byte) (hsm.Signer, hsm.KeyRef) {
		n++
		ref := hsm.KeyRef{Label: fmt.Sprintf("bip143-%d", n), ID: []byte{0xb1, byte(n)}}
		pkcs11test.ImportSecp256k1(t, pkcs11test.Token{ModulePath: tok.ModulePath, Label: tok.Label, UserPIN: tok.UserPIN}, ref, priv)
		return h, ref
	})
}
