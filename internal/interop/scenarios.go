package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/icebox-custody/icebox/noderpc"
)

func (e *env) btcRPCArgs() []string {
	return []string{"--btc-rpc", e.btcURL, "--btc-rpc-user", rpcUser, "--btc-rpc-pass", e.rpcPass}
}

func (e *env) vaultSats(ctx context.Context) (int64, error) {
	us, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: []string{e.vaultBTC}, MinConf: 1})
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, u := range us {
		sum += u.AmountSat
	}
	return sum, nil
}

// checkBTCSweep checks mined sweep transactions against what was swept:
// every transaction confirmed, their inputs exactly the swept outputs, one
// output each to dest, the fee rate as requested (at least feeRate sat/vB
// of the real vsize, at most 2% more), and dest's balance grown by exactly
// the swept amount less the fees.
func (e *env) checkBTCSweep(ctx context.Context, txids []string, swept []noderpc.UTXO, dest string, destBefore int64) error {
	want := map[string]int64{}
	var total int64
	for _, u := range swept {
		want[u.Outpoint] = u.AmountSat
		total += u.AmountSat
	}
	seen := map[string]bool{}
	var fees, received int64
	for _, id := range txids {
		t, err := e.btc.Transaction(ctx, id)
		if err != nil {
			return err
		}
		if t.Confirmations < 1 || t.BlockHash == "" {
			return fmt.Errorf("transaction %s is not in a block", id)
		}
		var in int64
		for _, v := range t.Vin {
			op := fmt.Sprintf("%s:%d", v.TxID, v.Vout)
			amt, ok := want[op]
			if !ok || seen[op] {
				return fmt.Errorf("transaction %s spends %s, not one of the swept outputs (or twice)", id, op)
			}
			seen[op] = true
			in += amt
		}
		if len(t.Vout) != 1 || len(t.Vout[0].ScriptPubKey.Addresses) != 1 || t.Vout[0].ScriptPubKey.Addresses[0] != dest {
			return fmt.Errorf("transaction %s: outputs %+v, want exactly one to %s", id, t.Vout, dest)
		}
		out := int64(t.Vout[0].Value)
		fee := in - out
		if fee < feeRate*t.Vsize || fee > feeRate*t.Vsize*102/100 {
			return fmt.Errorf("transaction %s: fee %d sat for %d vB, want %d sat/vB", id, fee, t.Vsize, feeRate)
		}
		fees += fee
		received += out
	}
	if len(seen) != len(want) {
		return fmt.Errorf("the transactions spend %d of the %d swept outputs", len(seen), len(want))
	}
	if received != total-fees {
		return fmt.Errorf("dest received %d sat, want %d - %d fees", received, total, fees)
	}
	after, err := e.vaultSats(ctx)
	if err != nil {
		return err
	}
	if after-destBefore != received {
		return fmt.Errorf("vault balance grew by %d sat, want %d", after-destBefore, received)
	}
	fmt.Printf("     %d transactions, %d inputs, %d sat swept, %d sat fees, all confirmed\n", len(txids), len(want), received, fees)
	return nil
}

// btcSweep: signer A's first three keys hold 60 coinbase outputs; one
// request sweeps them in transactions of at most 20 inputs.
func (e *env) btcSweep(ctx context.Context) error {
	a := e.signers["a"]
	keys := a.addresses(btcNet)
	addrs := []string{keys[0].Address, keys[1].Address, keys[2].Address}
	before, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: addrs, MinConf: 1})
	if err != nil {
		return err
	}
	if len(before) < 50 {
		return fmt.Errorf("%d outputs to sweep, want >= 50", len(before))
	}
	vault, err := e.vaultSats(ctx)
	if err != nil {
		return err
	}
	args := append(e.btcRPCArgs(), "--btc-address", strings.Join(addrs, ","), "--to", e.vaultBTC, "--max-inputs", "20", "--fee-rate", fmt.Sprint(feeRate))
	r, err := e.flow(a, "btc-sweep", args, true)
	if err != nil {
		return err
	}
	if len(r.broadcast) < 2 {
		return fmt.Errorf("%d transactions broadcast, want several", len(r.broadcast))
	}
	if _, err := e.btc.Generate(ctx, 1); err != nil {
		return err
	}
	if err := e.checkBTCSweep(ctx, r.broadcast, before, e.vaultBTC, vault); err != nil {
		return err
	}
	left, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: addrs})
	if err != nil {
		return err
	}
	if len(left) != 0 {
		return fmt.Errorf("%d outputs left at the swept addresses", len(left))
	}
	return nil
}

// btcMultisig: the 2-of-3 P2WSH sweep passes through signers A, B and C in
// turn, each on its own token; A's partial PSBT cannot be broadcast, B's
// completes the quorum of keys, C adds the third signature and finalize
// broadcasts.
func (e *env) btcMultisig(ctx context.Context) error {
	before, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: []string{e.multisigAddr}, MinConf: 1})
	if err != nil {
		return err
	}
	vault, err := e.vaultSats(ctx)
	if err != nil {
		return err
	}
	args := append(e.btcRPCArgs(), "--multisig", e.multisigSpec, "--to", e.vaultBTC, "--fee-rate", fmt.Sprint(feeRate))
	rA, err := e.flow(e.signers["a"], "multisig-a", args, false)
	if err != nil {
		return fmt.Errorf("signer a: %w", err)
	}
	if !strings.Contains(rA.finalizeOut, "waiting for cosigners") {
		return fmt.Errorf("after signer a the PSBT should wait for cosigners; finalize said %q", rA.finalizeOut)
	}
	psbtA, err := onePSBT(rA.signedDir)
	if err != nil {
		return err
	}
	rB, err := e.flow(e.signers["b"], "multisig-b", []string{"--psbt", psbtA}, false)
	if err != nil {
		return fmt.Errorf("signer b: %w", err)
	}
	psbtB, err := onePSBT(rB.signedDir)
	if err != nil {
		return err
	}
	rC, err := e.flow(e.signers["c"], "multisig-c", []string{"--psbt", psbtB}, true)
	if err != nil {
		return fmt.Errorf("signer c: %w", err)
	}
	psbtC, err := onePSBT(rC.signedDir)
	if err != nil {
		return err
	}
	var sizes []int64
	for _, p := range []string{psbtA, psbtB, psbtC} {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sizes = append(sizes, st.Size())
	}
	if !(sizes[0] < sizes[1] && sizes[1] < sizes[2]) {
		return fmt.Errorf("PSBT sizes after A, B, C: %v; each signer should have added a signature", sizes)
	}
	if len(rC.broadcast) != 1 {
		return fmt.Errorf("%d transactions broadcast, want 1", len(rC.broadcast))
	}
	if _, err := e.btc.Generate(ctx, 1); err != nil {
		return err
	}
	return e.checkBTCSweep(ctx, rC.broadcast, before, e.vaultBTC, vault)
}

func onePSBT(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.psbt"))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("%s: want exactly one PSBT, found %d (%v)", dir, len(m), err)
	}
	return m[0], nil
}

// btcFeeBump: the policy has no fee-bump permission, so a second request
// re-spending outputs a signed, not yet mined request reserved — at a
// higher fee — must be refused by the signer's ledger. (A policy flag
// allowing fee bumps is not implemented yet; see docs/interop.md.)
func (e *env) btcFeeBump(ctx context.Context) error {
	a := e.signers["a"]
	key := a.addresses(btcNet)[3].Address
	args := append(e.btcRPCArgs(), "--btc-address", key, "--to", e.vaultBTC, "--fee-rate", fmt.Sprint(feeRate))
	if _, err := e.flow(a, "bump-first", args, false); err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	args = append(e.btcRPCArgs(), "--btc-address", key, "--to", e.vaultBTC, "--fee-rate", fmt.Sprint(4*feeRate))
	_, err := e.flow(a, "bump-second", args, false)
	if err == nil {
		return errors.New("a second request re-spending reserved outputs was signed without a fee-bump rule")
	}
	if !strings.Contains(err.Error(), "exit status 5") {
		return fmt.Errorf("second request failed, but not as a refusal: %w", err)
	}
	return nil
}

// ethBalances reads the ETH (token == "") or token balances of addrs.
func (e *env) ethBalances(ctx context.Context, token string, addrs []string) ([]*big.Int, error) {
	out := make([]*big.Int, len(addrs))
	for i, a := range addrs {
		var err error
		if token == "" {
			out[i], err = e.eth.Balance(ctx, a, "latest")
		} else {
			out[i], err = e.eth.TokenBalance(ctx, token, a, "latest")
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

type ethTx struct {
	From         string           `json:"from"`
	To           string           `json:"to"`
	Value        noderpc.Quantity `json:"value"`
	Input        string           `json:"input"`
	MaxFeePerGas noderpc.Quantity `json:"maxFeePerGas"`
}

// ethTokenSweep: the five token holders' balances go to the vault, one
// ERC-20 transfer each; ETH stays.
func (e *env) ethTokenSweep(ctx context.Context) error {
	a := e.signers["a"]
	var addrs []string
	for _, k := range a.addresses(ethNet) {
		addrs = append(addrs, k.Address)
	}
	tokBefore, err := e.ethBalances(ctx, e.token, addrs)
	if err != nil {
		return err
	}
	vaultBefore, err := e.eth.TokenBalance(ctx, e.token, e.vaultETH, "latest")
	if err != nil {
		return err
	}
	r, err := e.flow(a, "erc20-sweep", []string{"--eth-rpc", e.ethURL, "--token", e.token, "--tokens-only", "--to", e.vaultETH}, true)
	if err != nil {
		return err
	}
	holders := 0
	want := new(big.Int)
	for _, b := range tokBefore {
		if b.Sign() > 0 {
			holders++
			want.Add(want, b)
		}
	}
	if len(r.broadcast) != holders {
		return fmt.Errorf("%d transactions broadcast, want %d (one per holder)", len(r.broadcast), holders)
	}
	for _, h := range r.broadcast {
		if _, err := e.waitReceipt(ctx, h); err != nil {
			return err
		}
	}
	after, err := e.ethBalances(ctx, e.token, addrs)
	if err != nil {
		return err
	}
	for i, b := range after {
		if b.Sign() != 0 {
			return fmt.Errorf("%s still holds %s token units", addrs[i], b)
		}
	}
	vaultAfter, err := e.eth.TokenBalance(ctx, e.token, e.vaultETH, "latest")
	if err != nil {
		return err
	}
	if got := new(big.Int).Sub(vaultAfter, vaultBefore); got.Cmp(want) != 0 {
		return fmt.Errorf("vault received %s token units, want %s", got, want)
	}
	fmt.Printf("     %d ERC-20 transfers, %s units to the vault, all mined\n", holders, want)
	return nil
}

// ethNativeSweep: all ten addresses send everything but the maximum fee to
// the vault. Each account must end with exactly the unused part of its
// maximum fee, and the vault must grow by exactly the sum of the values.
func (e *env) ethNativeSweep(ctx context.Context) error {
	a := e.signers["a"]
	var addrs []string
	for _, k := range a.addresses(ethNet) {
		addrs = append(addrs, k.Address)
	}
	before, err := e.ethBalances(ctx, "", addrs)
	if err != nil {
		return err
	}
	vaultBefore, err := e.eth.Balance(ctx, e.vaultETH, "latest")
	if err != nil {
		return err
	}
	r, err := e.flow(a, "eth-sweep", []string{"--eth-rpc", e.ethURL, "--to", e.vaultETH}, true)
	if err != nil {
		return err
	}
	if len(r.broadcast) != len(addrs) {
		return fmt.Errorf("%d transactions broadcast, want %d", len(r.broadcast), len(addrs))
	}
	sent := new(big.Int)
	for _, h := range r.broadcast {
		rc, err := e.waitReceipt(ctx, h)
		if err != nil {
			return err
		}
		var tx ethTx
		if err := e.eth.Client().Call(ctx, "eth_getTransactionByHash", []any{h}, &tx); err != nil {
			return err
		}
		if !strings.EqualFold(tx.To, e.vaultETH) || (tx.Input != "0x" && tx.Input != "") {
			return fmt.Errorf("transaction %s goes to %s with data %q, want a plain transfer to the vault", h, tx.To, tx.Input)
		}
		i := indexFold(addrs, tx.From)
		if i < 0 {
			return fmt.Errorf("transaction %s is from %s, not one of ours", h, tx.From)
		}
		gas := new(big.Int).Mul(&rc.GasUsed.Int, &rc.EffectiveGasPrice.Int)
		maxFee := new(big.Int).Mul(big.NewInt(21000), &tx.MaxFeePerGas.Int)
		if wantValue := new(big.Int).Sub(before[i], maxFee); tx.Value.Cmp(wantValue) != 0 {
			return fmt.Errorf("%s sent %s wei, want balance %s - max fee %s", tx.From, tx.Value.String(), before[i], maxFee)
		}
		bal, err := e.eth.Balance(ctx, tx.From, "latest")
		if err != nil {
			return err
		}
		if want := new(big.Int).Sub(new(big.Int).Sub(before[i], &tx.Value.Int), gas); bal.Cmp(want) != 0 {
			return fmt.Errorf("%s holds %s wei, want %s", tx.From, bal, want)
		}
		sent.Add(sent, &tx.Value.Int)
	}
	vaultAfter, err := e.eth.Balance(ctx, e.vaultETH, "latest")
	if err != nil {
		return err
	}
	if got := new(big.Int).Sub(vaultAfter, vaultBefore); got.Cmp(sent) != 0 {
		return fmt.Errorf("vault received %s wei, want %s", got, sent)
	}
	fmt.Printf("     %d transfers, %s wei to the vault, all mined\n", len(r.broadcast), sent)
	return nil
}

func indexFold(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}
