package wallet

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
)

// Compressed public keys of the private keys 1, 2 and 3 (G, 2G, 3G).
const (
	pubG  = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	pub2G = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
	pub3G = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
)

func TestParseMultisig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"ok_2of3", "2:" + pubG + "," + pub2G + "," + pub3G, true},
		{"ok_1of1", "1:" + pubG, true},
		{"expfail_no_threshold", pubG + "," + pub2G, false},
		{"expfail_threshold_above_keys", "3:" + pubG + "," + pub2G, false},
		{"expfail_zero_threshold", "0:" + pubG, false},
		{"expfail_short_key", "1:02abcd", false},
		{"expfail_not_hex", "1:zz" + pubG[2:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseMultisig(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInput) {
				t.Fatalf("err = %v, want ErrInput", err)
			}
			if err == nil && hex.EncodeToString(w.PubKeys[0]) != pubG {
				t.Fatalf("first key %x, want %s", w.PubKeys[0], pubG)
			}
		})
	}
}

func TestBTCMultisigSweep(t *testing.T) {
	const n = chain.Network("btc-regtest")
	ms, err := ParseMultisig("2:" + pubG + "," + pub2G + "," + pub3G)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := ms.Address(n)
	if err != nil {
		t.Fatal(err)
	}
	dest, _ := btc.P2WPKHAddress(mustDecode(t, pub3G), n)
	raw, txid, err := btc.FundingTx(n, "multisig-sweep", []btc.FundingOutput{{Address: addr, Amount: 100_000}, {Address: addr, Amount: 50_000}})
	if err != nil {
		t.Fatal(err)
	}
	file := func(a string) UTXOFile {
		f := UTXOFile{Network: string(n)}
		for i, amt := range []int64{100_000, 50_000} {
			f.UTXOs = append(f.UTXOs, struct {
				Outpoint  string `json:"outpoint"`
				AmountSat int64  `json:"amount_sat"`
				Address   string `json:"address"`
				PrevTxHex string `json:"prev_tx"`
			}{Outpoint: txid + ":" + string(rune('0'+i)), AmountSat: amt, Address: a, PrevTxHex: hex.EncodeToString(raw)})
		}
		return f
	}
	txs, err := BTCMultisigSweep(file(addr), ms, dest, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 1 {
		t.Fatalf("%d transactions, want 1", len(txs))
	}
	// The PSBT is ours for an adapter that knows the multisig and one key.
	ad, err := btc.NewAdapter(btc.Config{Network: n, Keys: []chain.OwnKey{{PublicKey: mustDecode(t, pub2G)}}, Multisig: []btc.MultisigWallet{ms}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ad.Parse(txs[0].Payload)
	if err != nil {
		t.Fatalf("the signer's parser refuses the multisig sweep: %v", err)
	}
	if got := len(tx.SigningItems()); got != 2 {
		t.Fatalf("%d inputs to sign, want 2", got)
	}
	if _, err := BTCMultisigSweep(file(dest), ms, dest, 5, 0); err == nil || !strings.Contains(err.Error(), "not the multisig address") {
		t.Fatalf("utxos at another address: err = %v", err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
