package wallet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/manifest"
)

// g is the secp256k1 generator, compressed: a valid public key for a
// watch-only manifest (nobody signs anything in these tests).
var g = []byte{0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b, 0x07,
	0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98}

// testManifest is a watch-only manifest with one BTC regtest and one ETH
// chain-1337 key, plus valid utxos.json and accounts.json for them.
func testManifest(t testing.TB) (m *manifest.Manifest, utxos, accounts []byte) {
	t.Helper()
	btcAddr, err := btc.P2WPKHAddress(g, chain.Network("btc-regtest"))
	if err != nil {
		t.Fatal(err)
	}
	ethAddr, err := eth.Address(g)
	if err != nil {
		t.Fatal(err)
	}
	m = &manifest.Manifest{Entries: []manifest.Entry{
		{Label: "btc-0", KeyID: []byte{1}, PublicKey: g, Chain: chain.FamilyBTC, Network: "btc-regtest", Address: btcAddr},
		{Label: "eth-0", KeyID: []byte{2}, PublicKey: g, Chain: chain.FamilyETH, Network: "eth-1337", Address: ethAddr},
	}}
	raw, txid, err := btc.FundingTx("btc-regtest", "wallet-fuzz", []btc.FundingOutput{{Address: btcAddr, Amount: 100_000}, {Address: btcAddr, Amount: 250_000}})
	if err != nil {
		t.Fatal(err)
	}
	type u struct {
		Outpoint  string `json:"outpoint"`
		AmountSat int64  `json:"amount_sat"`
		Address   string `json:"address"`
		PrevTx    string `json:"prev_tx"`
	}
	utxos, _ = json.Marshal(map[string]any{"network": "btc-regtest", "utxos": []u{
		{fmt.Sprintf("%s:0", txid), 100_000, btcAddr, hex.EncodeToString(raw)},
		{fmt.Sprintf("%s:1", txid), 250_000, btcAddr, hex.EncodeToString(raw)},
	}})
	accounts = []byte(fmt.Sprintf(`{"network":"eth-1337","max_fee_per_gas":"30000000000","max_priority_fee_per_gas":"1000000000",
"accounts":[{"address":%q,"nonce":7,"balance_wei":"250000000000000000","tokens":[{"contract":"0x5FbDB2315678afecb367f032d93F642f64180aa3","balance":"1000000"}]}]}`, ethAddr))
	return m, utxos, accounts
}

// destination is a BTC and an ETH address nobody in the manifest owns.
const (
	fuzzDestBTC = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	fuzzDestETH = "0x000000000000000000000000000000000000dEaD"
)

// TestReadJSON: the fixtures decode and build sweeps; malformed files are
// refused with ErrInput naming the reason.
func TestReadJSON(t *testing.T) {
	m, utxos, accounts := testManifest(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var uf UTXOFile
	if err := ReadJSON(write("ok_utxos.json", utxos), &uf); err != nil {
		t.Fatalf("utxos: %v", err)
	}
	txs, err := BTCSweep(m, uf, fuzzDestBTC, 5, 10)
	if err != nil || len(txs) != 1 {
		t.Fatalf("BTCSweep = %d txs, %v; want 1 tx", len(txs), err)
	}
	var af AccountsFile
	if err := ReadJSON(write("ok_accounts.json", accounts), &af); err != nil {
		t.Fatalf("accounts: %v", err)
	}
	txs, err = ETHSweep(m, af, fuzzDestETH, ETHSweepOptions{})
	if err != nil || len(txs) != 2 {
		t.Fatalf("ETHSweep = %d txs, %v; want token + native", len(txs), err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"expfail_unknown_field", `{"network":"btc-regtest","utxos":[],"extra":1}`, "unknown field"},
		{"expfail_trailing", `{"network":"btc-regtest","utxos":[]} {}`, "trailing data"},
		{"expfail_not_json", `network: btc`, "invalid character"},
		{"expfail_oversize", `{"network":"` + strings.Repeat("a", MaxInputFileBytes) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v UTXOFile
			err := ReadJSON(write(tc.name+".json", []byte(tc.body)), &v)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadJSON = %v, want ErrInput mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzReadJSON feeds arbitrary bytes through the hot wallet's JSON intake
// (utxos.json, accounts.json) and on into the sweep builders: any input is
// either refused with an error or builds transactions; nothing panics.
func FuzzReadJSON(f *testing.F) {
	m, utxos, accounts := testManifest(f)
	f.Add(utxos)
	f.Add(accounts)
	f.Add([]byte(`{"network":"btc-regtest","utxos":[{"outpoint":"zz:1","amount_sat":-1,"address":"x","prev_tx":"00"}]}`))
	f.Add([]byte(`{"network":"eth-1337","max_fee_per_gas":"-1","accounts":[{"address":"0x0","nonce":18446744073709551615,"balance_wei":"1e9"}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var uf UTXOFile
		if err := ReadJSON(p, &uf); err == nil {
			_, _ = BTCSweep(m, uf, fuzzDestBTC, 5, 10)
			_, _ = BTCWithdraw(m, uf, []BTCPayment{{Address: fuzzDestBTC, AmountSat: 1000}}, 3)
		} else if !errors.Is(err, ErrInput) {
			t.Fatalf("ReadJSON error %v does not wrap ErrInput", err)
		}
		var af AccountsFile
		if err := ReadJSON(p, &af); err == nil {
			_, _ = ETHSweep(m, af, fuzzDestETH, ETHSweepOptions{})
		}
	})
}
