package main

import (
	"context"
	"encoding/json"
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

func (e *env) vaultSats(ctx context.Context) (int64, error) { return e.addrSats(ctx, e.vaultBTC) }

// addrSats is the confirmed balance of addr.
func (e *env) addrSats(ctx context.Context, addr string) (int64, error) {
	us, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: []string{addr}, MinConf: 1})
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
// output each to dest, the fee rate as requested (at least rate sat/vB
// of the real vsize, at most 2% more), and dest's balance grown by exactly
// the swept amount less the fees.
func (e *env) checkBTCSweep(ctx context.Context, txids []string, swept []noderpc.UTXO, dest string, destBefore, rate int64) error {
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
		if fee < rate*t.Vsize || fee > rate*t.Vsize*102/100 {
			return fmt.Errorf("transaction %s: fee %d sat for %d vB, want %d sat/vB", id, fee, t.Vsize, rate)
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
	after, err := e.addrSats(ctx, dest)
	if err != nil {
		return err
	}
	if after-destBefore != received {
		return fmt.Errorf("destination balance grew by %d sat, want %d", after-destBefore, received)
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
	if err := e.checkBTCSweep(ctx, r.broadcast, before, e.vaultBTC, vault, feeRate); err != nil {
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
	return e.checkBTCSweep(ctx, rC.broadcast, before, e.vaultBTC, vault, feeRate)
}

func onePSBT(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.psbt"))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("%s: want exactly one PSBT, found %d (%v)", dir, len(m), err)
	}
	return m[0], nil
}

// btcSecondSpend: the rule for the vault has no allow_fee_bump, so a
// second request re-spending outputs a signed, not yet mined request
// reserved — at a higher fee — must be refused by the signer's ledger.
func (e *env) btcSecondSpend(ctx context.Context) error {
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

// btcFeeBump: under the rule with allow_fee_bump (destination bump-vault
// only), the outputs of A's fourth key — still held in the ledger by the
// refused scenario's first request — are swept at a low fee rate and
// broadcast but not mined; then a second request, rebuilt from the same
// UTXO file (outputs spent in the mempool are not listed by the node), re-
// spends them at a higher fee rate. The signer signs it, btcd accepts it as
// a BIP-125 replacement, it is mined, the first is gone, balances are exact.
func (e *env) btcFeeBump(ctx context.Context) error {
	const lowRate, highRate = 2 * feeRate, 6 * feeRate
	a := e.signers["a"]
	key := a.addresses(btcNet)[3].Address
	swept, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: []string{key}, MinConf: 1})
	if err != nil {
		return err
	}
	if len(swept) != bumpCoinbases {
		return fmt.Errorf("%d outputs at %s, want %d", len(swept), key, bumpCoinbases)
	}
	var file struct {
		Network string `json:"network"`
		UTXOs   []any  `json:"utxos"`
	}
	file.Network = string(btcNet)
	for _, u := range swept {
		file.UTXOs = append(file.UTXOs, map[string]any{"outpoint": u.Outpoint, "amount_sat": u.AmountSat, "address": u.Address, "prev_tx": u.PrevTxHex})
	}
	raw, err := json.Marshal(file)
	if err != nil {
		return err
	}
	utxoFile := filepath.Join(e.work, "bump-utxos.json")
	if err := os.WriteFile(utxoFile, raw, 0o644); err != nil {
		return err
	}
	before, err := e.addrSats(ctx, e.bumpVaultBTC)
	if err != nil {
		return err
	}
	sweep := func(name string, rate int64) (string, error) {
		r, err := e.flow(a, name, []string{"--utxos", utxoFile, "--to", e.bumpVaultBTC, "--fee-rate", fmt.Sprint(rate)}, true)
		if err != nil {
			return "", err
		}
		if len(r.broadcast) != 1 {
			return "", fmt.Errorf("%s: %d transactions broadcast, want 1", name, len(r.broadcast))
		}
		return r.broadcast[0], nil
	}
	low, err := sweep("bump-low", lowRate)
	if err != nil {
		return fmt.Errorf("low-fee sweep: %w", err)
	}
	pool, err := e.btc.Mempool(ctx)
	if err != nil {
		return err
	}
	if indexFold(pool, low) < 0 {
		return fmt.Errorf("low-fee transaction %s is not in the mempool", low)
	}
	high, err := sweep("bump-high", highRate)
	if err != nil {
		return fmt.Errorf("fee bump: %w", err)
	}
	if high == low {
		return errors.New("the fee bump has the same txid as the transaction it replaces")
	}
	if pool, err = e.btc.Mempool(ctx); err != nil {
		return err
	}
	if indexFold(pool, low) >= 0 || indexFold(pool, high) < 0 {
		return fmt.Errorf("after the bump the mempool holds %v: want %s replaced by %s", pool, low, high)
	}
	if _, err := e.btc.Generate(ctx, 1); err != nil {
		return err
	}
	if err := e.checkBTCSweep(ctx, []string{high}, swept, e.bumpVaultBTC, before, highRate); err != nil {
		return err
	}
	var ne *noderpc.NodeError
	if t, err := e.btc.Transaction(ctx, low); err == nil {
		return fmt.Errorf("the replaced transaction %s is still known to the node (%d confirmations)", low, t.Confirmations)
	} else if !errors.As(err, &ne) {
		return fmt.Errorf("look up the replaced transaction %s: %w", low, err)
	}
	left, err := e.btc.UTXOs(ctx, noderpc.UTXOQuery{Addresses: []string{key}})
	if err != nil {
		return err
	}
	if len(left) != 0 {
		return fmt.Errorf("%d outputs left at %s", len(left), key)
	}
	fmt.Printf("     %s (%d sat/vB) replaced %s (%d sat/vB) in the mempool and was mined\n", high, highRate, low, lowRate)
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
