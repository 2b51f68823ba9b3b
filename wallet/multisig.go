package wallet

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
)

// ParseMultisig parses "M:PUBKEY1,PUBKEY2,…" (hex 33-byte compressed keys,
// in witness-script order) into a multisig wallet.
func ParseMultisig(s string) (btc.MultisigWallet, error) {
	m, keys, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return btc.MultisigWallet{}, fmt.Errorf("%w: multisig %q: want M:PUBKEY,PUBKEY,…", ErrInput, s)
	}
	th, err := strconv.Atoi(m)
	if err != nil || th < 1 {
		return btc.MultisigWallet{}, fmt.Errorf("%w: multisig %q: threshold %q is not a positive integer", ErrInput, s, m)
	}
	w := btc.MultisigWallet{Threshold: th}
	for i, k := range strings.Split(keys, ",") {
		pub, err := hex.DecodeString(strings.TrimSpace(k))
		if err != nil || len(pub) != 33 {
			return btc.MultisigWallet{}, fmt.Errorf("%w: multisig pubkey #%d: want 33-byte compressed key in hex", ErrInput, i+1)
		}
		w.PubKeys = append(w.PubKeys, pub)
	}
	if _, err := w.WitnessScript(); err != nil {
		return btc.MultisigWallet{}, fmt.Errorf("%w: multisig %q: %v", ErrInput, s, err)
	}
	return w, nil
}

// BTCMultisigSweep builds PSBTs moving every listed UTXO — each must pay the
// P2WSH address of ms — to dest, at most maxInputs inputs per transaction.
// The PSBTs carry the witness script; each cosigner adds its signature in turn.
func BTCMultisigSweep(f UTXOFile, ms btc.MultisigWallet, dest string, feeRate int64, maxInputs int) ([]bundle.Transaction, error) {
	n := chain.Network(f.Network)
	if n.Family() != chain.FamilyBTC {
		return nil, fmt.Errorf("%w: network %q is not a bitcoin network", ErrInput, f.Network)
	}
	addr, err := ms.Address(n)
	if err != nil {
		return nil, fmt.Errorf("%w: multisig: %v", ErrInput, err)
	}
	if len(f.UTXOs) == 0 {
		return nil, fmt.Errorf("%w: no utxos", ErrInput)
	}
	utxos := make([]btc.UTXO, len(f.UTXOs))
	for i, u := range f.UTXOs {
		if !strings.EqualFold(u.Address, addr) {
			return nil, fmt.Errorf("%w: utxos[%d].address %s is not the multisig address %s", ErrInput, i, u.Address, addr)
		}
		prev, err := hex.DecodeString(u.PrevTxHex)
		if err != nil {
			return nil, fmt.Errorf("%w: utxos[%d].prev_tx: %v", ErrInput, i, err)
		}
		w := ms
		utxos[i] = btc.UTXO{Outpoint: u.Outpoint, Amount: u.AmountSat, PrevTx: prev, Multisig: &w}
	}
	psbts, err := btc.BuildSweep(btc.SweepRequest{Network: n, UTXOs: utxos, Destination: dest, FeeRateSatPerVB: feeRate, MaxInputsPerTx: maxInputs})
	if err != nil {
		return nil, fmt.Errorf("build multisig sweep: %w", err)
	}
	out := make([]bundle.Transaction, len(psbts))
	for i, p := range psbts {
		out[i] = bundle.Transaction{Network: string(n), Format: bundle.FormatPSBT, Payload: p}
	}
	return out, nil
}
