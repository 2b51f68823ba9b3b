package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/noderpc"
	"github.com/icebox-custody/icebox/wallet"
)

// utxoEntry and accountEntry are the element types of wallet.UTXOFile and
// wallet.AccountsFile, so node answers become the same files the JSON
// inputs are.
type (
	utxoEntry = struct {
		Outpoint  string `json:"outpoint"`
		AmountSat int64  `json:"amount_sat"`
		Address   string `json:"address"`
		PrevTxHex string `json:"prev_tx"`
	}
	tokenEntry = struct {
		Contract string `json:"contract"`
		Balance  string `json:"balance"`
	}
	accountEntry = struct {
		Address    string       `json:"address"`
		Nonce      uint64       `json:"nonce"`
		BalanceWei string       `json:"balance_wei"`
		Tokens     []tokenEntry `json:"tokens"`
	}
)

// addNodeFlags adds the node RPC options.
func addNodeFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("btc-rpc", "", "bitcoin node JSON-RPC URL (btcd with --txindex --addrindex), e.g. http://127.0.0.1:18334")
	f.String("btc-rpc-user", "", "bitcoin node RPC user")
	f.String("btc-rpc-pass", "", "bitcoin node RPC password (or $ICEBOX_BTC_RPC_PASS)")
	f.String("eth-rpc", "", "ethereum node JSON-RPC URL, e.g. http://127.0.0.1:8545")
}

func btcNode(cmd *cobra.Command) (*noderpc.BTC, error) {
	u, _ := cmd.Flags().GetString("btc-rpc")
	if u == "" {
		return nil, nil
	}
	user, _ := cmd.Flags().GetString("btc-rpc-user")
	pass, _ := cmd.Flags().GetString("btc-rpc-pass")
	if pass == "" {
		pass = os.Getenv("ICEBOX_BTC_RPC_PASS")
	}
	return noderpc.NewBTC(noderpc.Config{URL: u, User: user, Password: pass})
}

func ethNode(cmd *cobra.Command) (*noderpc.ETH, error) {
	u, _ := cmd.Flags().GetString("eth-rpc")
	if u == "" {
		return nil, nil
	}
	return noderpc.NewETH(noderpc.Config{URL: u})
}

// manifestNetwork returns the one network of family fam in the manifest.
func manifestNetwork(m *manifest.Manifest, fam chain.Family) (chain.Network, error) {
	var n chain.Network
	for _, e := range m.Entries {
		if e.Network.Family() != fam {
			continue
		}
		if n != "" && e.Network != n {
			return "", fmt.Errorf("the manifest holds keys for %s and %s: node lookups need one %s network", n, e.Network, fam)
		}
		n = e.Network
	}
	if n == "" {
		return "", fmt.Errorf("the manifest holds no %s keys", fam)
	}
	return n, nil
}

// manifestAddresses lists the manifest's addresses on n, restricted to only
// when given (each of which must be in the manifest).
func manifestAddresses(m *manifest.Manifest, n chain.Network, only []string) ([]string, error) {
	var all []string
	for _, e := range m.Entries {
		if e.Network == n {
			all = append(all, e.Address)
		}
	}
	if len(only) == 0 {
		return all, nil
	}
	for i, a := range only {
		found := false
		for _, x := range all {
			if strings.EqualFold(a, x) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("address #%d %s is not one of the manifest's %s addresses", i+1, a, n)
		}
	}
	return only, nil
}

// utxosFromNode asks the node for the unspent outputs of addrs.
func utxosFromNode(ctx context.Context, node *noderpc.BTC, n chain.Network, addrs []string) (wallet.UTXOFile, error) {
	us, err := node.UTXOs(ctx, noderpc.UTXOQuery{Addresses: addrs, MinConf: 1})
	if err != nil {
		return wallet.UTXOFile{}, fmt.Errorf("bitcoin node: %w", err)
	}
	if len(us) == 0 {
		return wallet.UTXOFile{}, fmt.Errorf("bitcoin node: no spendable outputs at %s", strings.Join(addrs, ", "))
	}
	f := wallet.UTXOFile{Network: string(n)}
	for _, u := range us {
		f.UTXOs = append(f.UTXOs, utxoEntry{Outpoint: u.Outpoint, AmountSat: u.AmountSat, Address: u.Address, PrevTxHex: u.PrevTxHex})
	}
	return f, nil
}

// accountsFromNode asks the node for each address's pending nonce, ETH and
// token balances, and a fee offer.
func accountsFromNode(ctx context.Context, node *noderpc.ETH, n chain.Network, addrs, tokens []string) (wallet.AccountsFile, error) {
	id, err := node.ChainID(ctx)
	if err != nil {
		return wallet.AccountsFile{}, fmt.Errorf("ethereum node: %w", err)
	}
	if chain.EthereumNetwork(id) != n {
		return wallet.AccountsFile{}, fmt.Errorf("ethereum node is on chain %d, the manifest's keys on %s", id, n)
	}
	fees, err := node.SuggestFees(ctx)
	if err != nil {
		return wallet.AccountsFile{}, fmt.Errorf("ethereum node: fees: %w", err)
	}
	f := wallet.AccountsFile{Network: string(n), MaxFeePerGas: fees.MaxFeePerGas.String(), MaxPriorityFeePerGas: fees.MaxPriorityFeePerGas.String()}
	for _, a := range addrs {
		nonce, err := node.Nonce(ctx, a)
		if err != nil {
			return wallet.AccountsFile{}, fmt.Errorf("ethereum node: %w", err)
		}
		bal, err := node.Balance(ctx, a, "pending")
		if err != nil {
			return wallet.AccountsFile{}, fmt.Errorf("ethereum node: %w", err)
		}
		acct := accountEntry{Address: a, Nonce: nonce, BalanceWei: bal.String()}
		for _, t := range tokens {
			tb, err := node.TokenBalance(ctx, t, a, "pending")
			if err != nil {
				return wallet.AccountsFile{}, fmt.Errorf("ethereum node: %w", err)
			}
			if tb.Sign() > 0 {
				acct.Tokens = append(acct.Tokens, tokenEntry{Contract: t, Balance: tb.String()})
			}
		}
		if bal.Sign() == 0 && len(acct.Tokens) == 0 {
			continue
		}
		f.Accounts = append(f.Accounts, acct)
	}
	if len(f.Accounts) == 0 {
		return wallet.AccountsFile{}, errors.New("ethereum node: no balances at the selected addresses")
	}
	return f, nil
}

// psbtTransactions wraps PSBT files (binary or base64) for network n.
func psbtTransactions(n chain.Network, paths []string) ([]bundle.Transaction, error) {
	var out []bundle.Transaction
	for _, p := range paths {
		data, err := files.ReadCapped(p, 16<<20)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(data)); strings.HasPrefix(s, "cHNidP") {
			if data, err = base64.StdEncoding.DecodeString(s); err != nil {
				return nil, fmt.Errorf("%s: base64: %w", p, err)
			}
		}
		out = append(out, bundle.Transaction{Network: string(n), Format: bundle.FormatPSBT, Payload: data})
	}
	return out, nil
}

// broadcast sends one finalized transaction (hex, as finalize writes it).
func broadcast(ctx context.Context, btcN *noderpc.BTC, ethN *noderpc.ETH, n chain.Network, rawHex string) (string, error) {
	switch n.Family() {
	case chain.FamilyBTC:
		if btcN == nil {
			return "", fmt.Errorf("%s: --btc-rpc is required to broadcast", n)
		}
		return btcN.SendRawTransaction(ctx, rawHex)
	case chain.FamilyETH:
		if ethN == nil {
			return "", fmt.Errorf("%s: --eth-rpc is required to broadcast", n)
		}
		return ethN.SendRawTransaction(ctx, rawHex)
	default:
		return "", fmt.Errorf("cannot broadcast on %s", n)
	}
}

// tokenGasFromNode estimates every token transfer of the sweep with the
// node (eth_estimateGas) and returns the largest plus 25%, the gas limit of
// each transfer; 0 when there is no token balance (the wallet default).
// Gas costs differ between contracts and forks: a fixed limit is not safe.
func tokenGasFromNode(ctx context.Context, node *noderpc.ETH, f wallet.AccountsFile, to string) (uint64, error) {
	var most uint64
	for _, a := range f.Accounts {
		for _, t := range a.Tokens {
			amt, ok := new(big.Int).SetString(t.Balance, 10)
			if !ok {
				return 0, fmt.Errorf("token %s balance %q", t.Contract, t.Balance)
			}
			data, err := noderpc.ERC20TransferData(to, amt)
			if err != nil {
				return 0, err
			}
			g, err := node.EstimateGas(ctx, a.Address, t.Contract, data)
			if err != nil {
				return 0, fmt.Errorf("ethereum node: %w", err)
			}
			most = max(most, g)
		}
	}
	return most + most/4, nil
}
