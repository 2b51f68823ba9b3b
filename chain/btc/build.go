package btc

// The builder constructs PSBTs from the hot wallet's own data. It is
// deliberately separate from the untrusted-input parser (Adapter.Parse):
// it trusts its request struct, but still checks it, and everything it
// produces is parsed again, strictly, by the signer.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/chain"
)

// DustLimit is the smallest output the builder creates (sats).
const DustLimit = 546

// builderSequence signals replace-by-fee (BIP-125) and leaves locktime off.
const builderSequence = wire.MaxTxInSequenceNum - 2

// UTXO is one of our unspent outputs as the hot wallet knows it.
type UTXO struct {
	// Outpoint is "txid:vout" (display-order txid hex).
	Outpoint string
	// Amount in satoshis; must equal the previous transaction's output.
	Amount int64
	// PrevTx is the raw previous transaction (required: it goes into the
	// PSBT as the non-witness utxo the signer insists on).
	PrevTx []byte
	// KeyPubKey is our 33-byte compressed key owning a P2WPKH, P2SH-P2WPKH
	// or P2PKH output (the type is recognised from the output script).
	KeyPubKey []byte
	// Multisig, instead of KeyPubKey, marks a P2WSH multisig output.
	Multisig *MultisigWallet
}

// SweepRequest moves every given UTXO to one destination.
type SweepRequest struct {
	Network         chain.Network
	UTXOs           []UTXO
	Destination     string
	FeeRateSatPerVB int64
	// MaxInputsPerTx splits the sweep into several transactions (0: all in one).
	MaxInputsPerTx int
}

// PaymentOutput is one payment.
type PaymentOutput struct {
	Address string
	Amount  int64
}

// PaymentRequest spends all given UTXOs to Outputs plus change.
type PaymentRequest struct {
	Network         chain.Network
	UTXOs           []UTXO
	Outputs         []PaymentOutput
	FeeRateSatPerVB int64
	// ChangePubKey is our key receiving the change as P2WPKH. Change below
	// DustLimit is left to the fee instead.
	ChangePubKey []byte
}

type builtInput struct {
	txIn  *wire.TxIn
	pin   psbt.PInput
	size  inputSize
	value int64
}

func parseOutpoint(s string) (wire.OutPoint, error) {
	h, idx, ok := strings.Cut(s, ":")
	if !ok {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q is not txid:vout", s)
	}
	hash, err := chainhash.NewHashFromStr(h)
	if err != nil || len(h) != 64 {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: bad txid", s)
	}
	n, err := strconv.ParseUint(idx, 10, 32)
	if err != nil {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: bad output index", s)
	}
	return *wire.NewOutPoint(hash, uint32(n)), nil
}

func buildInput(i int, u UTXO) (builtInput, error) {
	fail := func(format string, args ...any) (builtInput, error) {
		return builtInput{}, fmt.Errorf("%w: utxos[%d]: %s", ErrBuild, i, fmt.Sprintf(format, args...))
	}
	op, err := parseOutpoint(u.Outpoint)
	if err != nil {
		return fail("%v", err)
	}
	prev, err := parseTxExact(u.PrevTx, true)
	if err != nil {
		return fail("previous transaction: %v", err)
	}
	if prev.TxHash() != op.Hash {
		return fail("previous transaction hashes to %s, outpoint names %s", prev.TxHash(), op.Hash)
	}
	if int(op.Index) >= len(prev.TxOut) {
		return fail("output index %d, previous transaction has %d outputs", op.Index, len(prev.TxOut))
	}
	out := prev.TxOut[op.Index]
	if out.Value != u.Amount || u.Amount <= 0 {
		return fail("amount %d does not match the previous output (%d)", u.Amount, out.Value)
	}
	b := builtInput{txIn: wire.NewTxIn(&op, nil, nil), value: out.Value}
	b.txIn.Sequence = builderSequence
	b.pin.NonWitnessUtxo = prev
	script := out.PkScript
	switch {
	case u.Multisig != nil:
		ws, err := u.Multisig.WitnessScript()
		if err != nil {
			return fail("multisig: %v", err)
		}
		if !bytes.Equal(script, p2wshScript(ws)) {
			return fail("output script is not the multisig's P2WSH script")
		}
		b.pin.WitnessScript = ws
		b.pin.WitnessUtxo = out
		b.size = sizeFor(kindP2WSHMulti, u.Multisig.Threshold, ws)
	case checkCompressedPubKey(u.KeyPubKey) != nil:
		return fail("key: %v", checkCompressedPubKey(u.KeyPubKey))
	case bytes.Equal(script, p2wpkhScript(u.KeyPubKey)):
		b.pin.WitnessUtxo = out
		b.size = sizeFor(kindP2WPKH, 0, nil)
	case bytes.Equal(script, p2shScript(p2wpkhScript(u.KeyPubKey))):
		b.pin.WitnessUtxo = out
		b.pin.RedeemScript = p2wpkhScript(u.KeyPubKey)
		b.size = sizeFor(kindP2SHP2WPKH, 0, nil)
	case bytes.Equal(script, p2pkhScript(u.KeyPubKey)):
		b.size = sizeFor(kindP2PKH, 0, nil)
	default:
		return fail("output script %x is not P2WPKH/P2SH-P2WPKH/P2PKH of the key", script)
	}
	return b, nil
}

func addressScript(addr string, n chain.Network) ([]byte, error) {
	params, err := Params(n)
	if err != nil {
		return nil, err
	}
	a, err := btcutil.DecodeAddress(addr, params)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: %v", ErrNetwork, addr, err)
	}
	if !a.IsForNet(params) {
		return nil, fmt.Errorf("%w: address %q is not for %s", ErrNetwork, addr, n)
	}
	return txscript.PayToAddrScript(a)
}

func assemble(ins []builtInput, outs []*wire.TxOut) ([]byte, error) {
	tx := wire.NewMsgTx(2)
	for _, in := range ins {
		tx.AddTxIn(in.txIn)
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	pkt, err := psbt.NewFromUnsignedTx(tx)
	if err != nil {
		return nil, err
	}
	for i, in := range ins {
		pkt.Inputs[i] = in.pin
	}
	var buf bytes.Buffer
	if err := pkt.Serialize(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func feeFor(ins []builtInput, outs []*wire.TxOut, rate int64) int64 {
	tx := wire.NewMsgTx(2)
	sizes := make([]inputSize, len(ins))
	for i, in := range ins {
		tx.AddTxIn(in.txIn)
		sizes[i] = in.size
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return estimateVSize(tx, sizes) * rate
}

func checkRate(rate int64) error {
	if rate < 1 || rate > 100_000 {
		return fmt.Errorf("%w: fee rate %d sat/vB out of range 1..100000", ErrBuild, rate)
	}
	return nil
}

// BuildSweep returns one binary PSBT per chunk of at most MaxInputsPerTx
// UTXOs, each paying everything minus its fee to Destination.
func BuildSweep(req SweepRequest) ([][]byte, error) {
	if err := checkRate(req.FeeRateSatPerVB); err != nil {
		return nil, err
	}
	if len(req.UTXOs) == 0 {
		return nil, fmt.Errorf("%w: no utxos", ErrBuild)
	}
	dest, err := addressScript(req.Destination, req.Network)
	if err != nil {
		return nil, err
	}
	chunk := req.MaxInputsPerTx
	if chunk <= 0 {
		chunk = len(req.UTXOs)
	}
	var out [][]byte
	for start := 0; start < len(req.UTXOs); start += chunk {
		end := min(start+chunk, len(req.UTXOs))
		var ins []builtInput
		var total int64
		for i := start; i < end; i++ {
			b, err := buildInput(i, req.UTXOs[i])
			if err != nil {
				return nil, err
			}
			ins = append(ins, b)
			total += b.value
		}
		o := wire.NewTxOut(0, dest)
		fee := feeFor(ins, []*wire.TxOut{o}, req.FeeRateSatPerVB)
		o.Value = total - fee
		if o.Value < DustLimit {
			return nil, fmt.Errorf("%w: utxos %d..%d: %d sat minus fee %d leaves dust", ErrBuild, start, end-1, total, fee)
		}
		p, err := assemble(ins, []*wire.TxOut{o})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// BuildPayment returns one binary PSBT spending every given UTXO to the
// outputs, with change (P2WPKH of ChangePubKey) last when it is not dust.
func BuildPayment(req PaymentRequest) ([]byte, error) {
	if err := checkRate(req.FeeRateSatPerVB); err != nil {
		return nil, err
	}
	if len(req.UTXOs) == 0 || len(req.Outputs) == 0 {
		return nil, fmt.Errorf("%w: need utxos and outputs", ErrBuild)
	}
	if err := checkCompressedPubKey(req.ChangePubKey); err != nil {
		return nil, fmt.Errorf("%w: change key: %v", ErrBuild, err)
	}
	var ins []builtInput
	var totalIn, totalOut int64
	for i, u := range req.UTXOs {
		b, err := buildInput(i, u)
		if err != nil {
			return nil, err
		}
		ins = append(ins, b)
		totalIn += b.value
	}
	var outs []*wire.TxOut
	for i, o := range req.Outputs {
		script, err := addressScript(o.Address, req.Network)
		if err != nil {
			return nil, fmt.Errorf("outputs[%d]: %w", i, err)
		}
		if o.Amount < DustLimit || o.Amount > maxSatoshi {
			return nil, fmt.Errorf("%w: outputs[%d]: amount %d", ErrBuild, i, o.Amount)
		}
		outs = append(outs, wire.NewTxOut(o.Amount, script))
		totalOut += o.Amount
	}
	change := wire.NewTxOut(0, p2wpkhScript(req.ChangePubKey))
	withChange := append(append([]*wire.TxOut{}, outs...), change)
	if c := totalIn - totalOut - feeFor(ins, withChange, req.FeeRateSatPerVB); c >= DustLimit {
		change.Value = c
		return assemble(ins, withChange)
	}
	if totalIn-totalOut-feeFor(ins, outs, req.FeeRateSatPerVB) < 0 {
		return nil, fmt.Errorf("%w: inputs %d sat do not cover outputs %d sat plus fee", ErrBuild, totalIn, totalOut)
	}
	return assemble(ins, outs)
}
