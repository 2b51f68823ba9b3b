// Command demofund writes the hot wallet's view of funds for the offline
// demo and tests, where no node runs: for every Bitcoin address of a
// verified manifest, a funding transaction (made-up input, real encoding)
// and the UTXO list pointing at it; for every Ethereum address, a nonce and
// balances. Real deployments read these from a node (make interop).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/manifest"
)

func main() {
	mpath := flag.String("manifest", "", "verified manifest")
	signer := flag.String("signer", "", "pinned signer fingerprint")
	out := flag.String("out", ".", "directory for utxos.json and accounts.json")
	perAddr := flag.Int("utxos-per-address", 4, "bitcoin UTXOs per address")
	token := flag.String("token", "", "ERC-20 contract to give every Ethereum address a balance of")
	flag.Parse()
	if err := run(*mpath, *signer, *out, *perAddr, *token); err != nil {
		slog.Error("demofund", "err", err)
		os.Exit(1)
	}
}

type utxo struct {
	Outpoint  string `json:"outpoint"`
	AmountSat int64  `json:"amount_sat"`
	Address   string `json:"address"`
	PrevTx    string `json:"prev_tx"`
}

type token struct {
	Contract string `json:"contract"`
	Balance  string `json:"balance"`
}

type account struct {
	Address    string  `json:"address"`
	Nonce      uint64  `json:"nonce"`
	BalanceWei string  `json:"balance_wei"`
	Tokens     []token `json:"tokens"`
}

func run(mpath, signer, out string, perAddr int, tokenContract string) error {
	data, err := os.ReadFile(mpath)
	if err != nil {
		return err
	}
	m, err := manifest.Verify(data, signer)
	if err != nil {
		return err
	}
	var btcNet chain.Network
	var utxos []utxo
	accounts := []account{}
	var ethNet chain.Network
	for i, e := range m.Entries {
		switch e.Network.Family() {
		case chain.FamilyBTC:
			btcNet = e.Network
			outs := make([]btc.FundingOutput, perAddr)
			for j := range outs {
				outs[j] = btc.FundingOutput{Address: e.Address, Amount: int64(100_000 * (j + 1))}
			}
			raw, txid, err := btc.FundingTx(e.Network, fmt.Sprintf("%s/%d", e.Address, i), outs)
			if err != nil {
				return err
			}
			for j, o := range outs {
				utxos = append(utxos, utxo{Outpoint: fmt.Sprintf("%s:%d", txid, j), AmountSat: o.Amount, Address: e.Address, PrevTx: hex.EncodeToString(raw)})
			}
		case chain.FamilyETH:
			ethNet = e.Network
			a := account{Address: e.Address, Nonce: uint64(i), BalanceWei: fmt.Sprintf("%d000000000000000", 250+i), Tokens: []token{}}
			if tokenContract != "" {
				a.Tokens = append(a.Tokens, token{Contract: tokenContract, Balance: fmt.Sprintf("%d000000", 1000+i)})
			}
			accounts = append(accounts, a)
		}
	}
	vault, err := numsAddresses("icebox-demo-vault", btcNet)
	if err != nil {
		return err
	}
	outsider, err := numsAddresses("icebox-demo-outsider", btcNet)
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(out, "destinations.json"), map[string]any{"vault": vault, "outsider": outsider}); err != nil {
		return err
	}
	if btcNet != "" {
		if err := writeJSON(filepath.Join(out, "utxos.json"), map[string]any{"network": btcNet, "utxos": utxos}); err != nil {
			return err
		}
	}
	if ethNet != "" {
		return writeJSON(filepath.Join(out, "accounts.json"), map[string]any{"network": ethNet,
			"max_fee_per_gas": "30000000000", "max_priority_fee_per_gas": "1000000000", "accounts": accounts})
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// numsAddresses derives BTC and ETH addresses from a "nothing up my sleeve"
// public key: the first valid curve point whose x coordinate is
// SHA-256(label || counter). Nobody knows its private key, so demo funds
// sent there are provably nobody's.
func numsAddresses(label string, btcNet chain.Network) (map[string]string, error) {
	for i := 0; i < 256; i++ {
		x := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", label, i)))
		pub := append([]byte{0x02}, x[:]...)
		if _, err := secp256k1.ParsePubKey(pub); err != nil {
			continue
		}
		out := map[string]string{}
		if btcNet != "" {
			a, err := btc.P2WPKHAddress(pub, btcNet)
			if err != nil {
				return nil, err
			}
			out["btc"] = a
		}
		a, err := eth.Address(pub)
		if err != nil {
			return nil, err
		}
		out["eth"] = a
		return out, nil
	}
	return nil, fmt.Errorf("no curve point found for %q", label)
}
