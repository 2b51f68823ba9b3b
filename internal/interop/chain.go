package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/noderpc"
)

// Block counts for the Bitcoin funding. btcd runs simnet, not regtest:
// btcd wipes a regtest database at every start, and the driver restarts
// btcd to change mining addresses. Simnet activates segwit (BIP9, windows
// of 100 blocks) at height 300; coinbases mature after 100 blocks.
const (
	p2wpkhCoinbases   = 60 // to signer A's first three keys: the batched sweep
	multisigCoinbases = 3
	bumpCoinbases     = 2 // to signer A's fourth key: the fee bump
	segwitHeight      = 300
	matureBlocks      = 100
)

// stopNodes stops every node and makes later starts fail (interrupt).
func (e *env) stopNodes() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.btcd.stop()
	e.geth.stop()
	e.btcd, e.geth = nil, nil
}

// startNodes starts btcd (simnet) and geth (--dev) with throwaway data
// directories, RPC on 127.0.0.1 only and no P2P listener, and checks from
// /proc that each listens on loopback only.
func (e *env) startNodes(ctx context.Context) error {
	pass := make([]byte, 16)
	if _, err := rand.Read(pass); err != nil {
		return err
	}
	e.rpcPass = hex.EncodeToString(pass)
	bdir := filepath.Join(e.work, "btcd")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		return err
	}
	// An empty config file: btcd must not read or create ~/.btcd/btcd.conf.
	if err := os.WriteFile(filepath.Join(bdir, "btcd.conf"), nil, 0o600); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	e.btcURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.btcdA = []string{"--simnet", "--datadir=" + filepath.Join(bdir, "data"), "--logdir=" + filepath.Join(bdir, "logs"),
		"--configfile=" + filepath.Join(bdir, "btcd.conf"), "--nolisten", "--nodnsseed", "--noonion",
		fmt.Sprintf("--rpclisten=127.0.0.1:%d", port), "--rpcuser=" + rpcUser, "--rpcpass=" + e.rpcPass, "--notls",
		"--txindex", "--addrindex", "--debuglevel=info"}
	if e.btc, err = noderpc.NewBTC(noderpc.Config{URL: e.btcURL, User: rpcUser, Password: e.rpcPass}); err != nil {
		return err
	}
	if err := e.restartBTCD(ctx, []string{e.minerBTC}); err != nil {
		return err
	}
	nodes := []*node{e.btcd}
	if !e.noETH {
		if err := e.startGeth(ctx); err != nil {
			return err
		}
		nodes = append(nodes, e.geth)
	}
	var report []string
	for _, n := range nodes {
		ls, err := checkLoopbackOnly(n)
		if err != nil {
			return err
		}
		report = append(report, n.name+": "+strings.Join(ls, ", "))
	}
	fmt.Printf("     listeners: %s\n", strings.Join(report, "; "))
	return nil
}

// adopt records a started node in slot, or stops it at once when the
// driver is already shutting down.
func (e *env) adopt(slot **node, n *node) error {
	e.mu.Lock()
	closed := e.closed
	if !closed {
		*slot = n
	}
	e.mu.Unlock()
	if closed {
		n.stop()
		return errors.New("interrupted")
	}
	return nil
}

// restartBTCD (re)starts btcd mining to addrs (btcd takes mining addresses
// only at startup).
func (e *env) restartBTCD(ctx context.Context, addrs []string) error {
	e.mu.Lock()
	old := e.btcd
	e.btcd = nil
	e.mu.Unlock()
	old.stop()
	args := append([]string{}, e.btcdA...)
	for _, a := range addrs {
		args = append(args, "--miningaddr="+a)
	}
	n, err := startNode("btcd", e.btcdBin, filepath.Join(e.work, "btcd", "stdout.log"), args)
	if err != nil {
		return err
	}
	if err := e.adopt(&e.btcd, n); err != nil {
		return err
	}
	return n.waitReady(ctx, func(c context.Context) error { _, err := e.btc.BlockCount(c); return err })
}

func (e *env) startGeth(ctx context.Context) error {
	gdir := filepath.Join(e.work, "geth")
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	authPort, err := freePort()
	if err != nil {
		return err
	}
	e.ethURL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	args := []string{"--dev", "--datadir", gdir,
		"--http", "--http.addr", "127.0.0.1", "--http.port", fmt.Sprint(httpPort), "--http.api", "eth,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", fmt.Sprint(authPort),
		"--port", "0", "--maxpeers", "0", "--nodiscover", "--nat", "none", "--ipcdisable", "--verbosity", "3"}
	n, err := startNode("geth", e.gethBin, filepath.Join(e.work, "geth.log"), args)
	if err != nil {
		return err
	}
	if err := e.adopt(&e.geth, n); err != nil {
		return err
	}
	if e.eth, err = noderpc.NewETH(noderpc.Config{URL: e.ethURL}); err != nil {
		return err
	}
	return n.waitReady(ctx, func(c context.Context) error {
		var accts []string
		if err := e.eth.Client().Call(c, "eth_accounts", nil, &accts); err != nil {
			return err
		}
		if len(accts) == 0 {
			return errors.New("no dev account yet")
		}
		e.devAccount = accts[0]
		return nil
	})
}

// mineTo restarts btcd with addrs as mining addresses and mines n blocks.
func (e *env) mineTo(ctx context.Context, addrs []string, n int) error {
	if err := e.restartBTCD(ctx, addrs); err != nil {
		return err
	}
	_, err := e.btc.Generate(ctx, n)
	return err
}

// fundBTC mines coinbases to signer A's keys 0–2 (the batched sweep), the
// multisig address and A's key 3 (the fee bump), then enough blocks to the
// miner to mature them all and activate segwit.
func (e *env) fundBTC(ctx context.Context) error {
	a := e.signers["a"].addresses(btcNet)
	if err := e.mineTo(ctx, []string{a[0].Address, a[1].Address, a[2].Address}, p2wpkhCoinbases); err != nil {
		return err
	}
	if err := e.mineTo(ctx, []string{e.multisigAddr}, multisigCoinbases); err != nil {
		return err
	}
	if err := e.mineTo(ctx, []string{a[3].Address}, bumpCoinbases); err != nil {
		return err
	}
	if err := e.restartBTCD(ctx, []string{e.minerBTC}); err != nil {
		return err
	}
	h, err := e.btc.BlockCount(ctx)
	if err != nil {
		return err
	}
	target := max(int64(segwitHeight+1), h+matureBlocks)
	if _, err := e.btc.Generate(ctx, int(target-h)); err != nil {
		return err
	}
	var info struct {
		Softforks map[string]struct {
			BIP9 *struct {
				Status string `json:"status"`
			} `json:"bip9"`
		} `json:"softforks"`
		Bip9Softforks map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
	}
	if err := e.btc.Client().Call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return err
	}
	if st := info.Bip9Softforks["segwit"].Status; st != "" && st != "active" {
		return fmt.Errorf("segwit is %s at height %d", st, target)
	}
	for _, c := range []struct {
		what  string
		addrs []string
		min   int
	}{{"A keys 0-2", []string{a[0].Address, a[1].Address, a[2].Address}, p2wpkhCoinbases},
		{"multisig", []string{e.multisigAddr}, multisigCoinbases}, {"A key 3", []string{a[3].Address}, bumpCoinbases}} {
		us, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: c.addrs, MinConf: 1})
		if err != nil {
			return err
		}
		if len(us) != c.min {
			return fmt.Errorf("%s: %d mature outputs, want %d", c.what, len(us), c.min)
		}
	}
	return nil
}

var ether = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// fundETH sends 10 ETH from the dev account to each of signer A's ten
// addresses and deploys the token with balances at the first five, then
// checks balanceOf and the token's transfer through eth_call.
func (e *env) fundETH(ctx context.Context) error {
	if e.noETH {
		e.token = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
		e.ethURL = "http://127.0.0.1:9"
		return e.installGovernance()
	}
	addrs := e.signers["a"].addresses(ethNet)
	if len(addrs) < 10 {
		return fmt.Errorf("signer a has %d eth keys, want 10", len(addrs))
	}
	var hashes []string
	for _, a := range addrs {
		h, err := e.sendFromDev(ctx, map[string]string{"to": a.Address, "value": hexQ(new(big.Int).Mul(big.NewInt(10), ether))})
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	var holdings []Holding
	for i, a := range addrs[:5] {
		holdings = append(holdings, Holding{Address: a.Address, Amount: big.NewInt(int64(1_000_000 * (i + 1)))})
	}
	code, err := tokenInitCode(holdings)
	if err != nil {
		return err
	}
	h, err := e.sendFromDev(ctx, map[string]string{"data": "0x" + hex.EncodeToString(code), "gas": "0x200000"})
	if err != nil {
		return err
	}
	for _, x := range append(hashes, h) {
		if _, err := e.waitReceipt(ctx, x); err != nil {
			return err
		}
	}
	r, _ := e.eth.Receipt(ctx, h)
	if r.ContractAddress == nil {
		return errors.New("token deployment: no contract address in the receipt")
	}
	e.token = *r.ContractAddress
	for i, hd := range holdings {
		b, err := e.eth.TokenBalance(ctx, e.token, hd.Address, "latest")
		if err != nil {
			return err
		}
		if b.Cmp(hd.Amount) != 0 {
			return fmt.Errorf("token balanceOf(holder %d) = %s, want %s", i, b, hd.Amount)
		}
		bal, err := e.eth.Balance(ctx, addrs[i].Address, "latest")
		if err != nil {
			return err
		}
		if bal.Cmp(new(big.Int).Mul(big.NewInt(10), ether)) != 0 {
			return fmt.Errorf("eth balance of %s = %s, want 10 ETH", addrs[i].Address, bal)
		}
	}
	// The token's transfer: the full balance succeeds (returns true), one
	// more unit reverts.
	var ret string
	full := map[string]string{"from": holdings[0].Address, "to": e.token, "data": erc20TransferData(e.vaultETH, holdings[0].Amount)}
	if err := e.eth.Client().Call(ctx, "eth_call", []any{full, "latest"}, &ret); err != nil {
		return fmt.Errorf("token transfer(full balance) call: %w", err)
	}
	if ret != "0x"+strings.Repeat("0", 63)+"1" {
		return fmt.Errorf("token transfer returned %q, want true", ret)
	}
	over := map[string]string{"from": holdings[0].Address, "to": e.token, "data": erc20TransferData(e.vaultETH, new(big.Int).Add(holdings[0].Amount, big.NewInt(1)))}
	if err := e.eth.Client().Call(ctx, "eth_call", []any{over, "latest"}, &ret); err == nil {
		return errors.New("token transfer of more than the balance did not revert")
	}
	return e.installGovernance()
}

// sendFromDev sends from geth's dev account with an explicit nonce (geth
// can hand out the same pending nonce twice while --dev seals a block).
func (e *env) sendFromDev(ctx context.Context, tx map[string]string) (string, error) {
	if e.devNonce == nil {
		n, err := e.eth.Nonce(ctx, e.devAccount)
		if err != nil {
			return "", err
		}
		e.devNonce = &n
	}
	tx["from"] = e.devAccount
	tx["nonce"] = fmt.Sprintf("0x%x", *e.devNonce)
	*e.devNonce++
	var h string
	if err := e.eth.Client().Call(ctx, "eth_sendTransaction", []any{tx}, &h); err != nil {
		return "", err
	}
	return h, nil
}

// waitReceipt waits up to 60 s for a transaction to be mined and requires
// status 1.
func (e *env) waitReceipt(ctx context.Context, hash string) (*noderpc.Receipt, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r, err := e.eth.Receipt(ctx, hash)
		var ne *noderpc.NodeError
		if errors.As(err, &ne) && strings.Contains(ne.Message, "indexing is in progress") {
			r, err = nil, nil // geth answers this until its fresh index is built
		}
		if err != nil {
			return nil, err
		}
		if r != nil {
			if r.Status.Int64() != 1 {
				return r, fmt.Errorf("transaction %s failed (status %s)", hash, r.Status.String())
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("transaction %s not mined after 60 s", hash)
}

func hexQ(v *big.Int) string { return "0x" + v.Text(16) }
