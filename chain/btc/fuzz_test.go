package btc

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
)

// FuzzParsePSBT feeds arbitrary bytes to the untrusted-input path and the
// online helpers. Seeds: every BIP-174/BIP-370 vector (binary and base64)
// plus a builder-made sweep our fixed key owns. Crashers are kept under
// testdata/fuzz/FuzzParsePSBT.
func FuzzParsePSBT(f *testing.F) {
	for _, file := range []string{"bitcoin-bips-bip174/cases.json", "bitcoin-bips-bip370/cases.json"} {
		for _, c := range loadPSBTCases(f, file) {
			b, _ := hex.DecodeString(c.Input.Hex)
			f.Add(b)
			f.Add([]byte(c.Input.Base64))
		}
	}
	pub, _ := hex.DecodeString("025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357")
	ps, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{utxoFor(f, ScriptP2WPKH, pub, 100_000), utxoFor(f, ScriptP2PKH, pub, 50_000)}, Destination: foreignAddr(f), FeeRateSatPerVB: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ps[0])
	f.Add(toV2(f, ps[0]))
	a, err := NewAdapter(Config{Network: testNet, Keys: []chain.OwnKey{{Ref: hsm.KeyRef{Label: "fuzz"}, PublicKey: pub}}, MaxPSBTBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := a.Parse(data)
		if err == nil {
			s := tx.Summary()
			if s.Fee.Sign() < 0 || s.VSize <= 0 || len(s.Consumes) == 0 || len(tx.SigningItems()) == 0 {
				t.Fatalf("accepted PSBT with an inconsistent summary: %+v", s)
			}
			if _, err := tx.Attach(nil); !errors.Is(err, ErrSignatureCount) {
				t.Fatalf("attach without signatures: %v", err)
			}
		}
		_, _, _ = Finalize(data)
		_, _ = Combine(data, data)
	})
}
