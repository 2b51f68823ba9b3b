package btc

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/big"
	"slices"

	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
)

// Default caps used when the Config leaves them zero.
const (
	DefaultMaxInputs  = 1000
	DefaultMaxOutputs = 1000
)

// MultisigWallet is a P2WSH multisig set Icebox cosigns. The witness script
// is "OP_m <PubKeys in this order> OP_n OP_CHECKMULTISIG" (sort the keys
// beforehand for BIP-67 sortedmulti).
type MultisigWallet struct {
	Threshold int
	// PubKeys are 33-byte compressed keys; at least one should be ours.
	PubKeys [][]byte
}

// WitnessScript returns the wallet's witness script.
func (m MultisigWallet) WitnessScript() ([]byte, error) {
	return multisigScript(m.Threshold, m.PubKeys)
}

// Address returns the wallet's P2WSH address on network n.
func (m MultisigWallet) Address(n chain.Network) (string, error) {
	ws, err := m.WitnessScript()
	if err != nil {
		return "", err
	}
	return scriptAddress(p2wshScript(ws), n)
}

// Config configures one Bitcoin adapter.
type Config struct {
	// Network is the only network accepted.
	Network chain.Network
	// Keys are our HSM keys (reference + 33-byte compressed public key).
	Keys []chain.OwnKey
	// Multisig lists the P2WSH multisig sets we cosign: their outputs count
	// as change and their inputs as ours.
	Multisig []MultisigWallet
	// AllowedSighash lists the sighash types we may produce. Empty means
	// SIGHASH_ALL only.
	AllowedSighash []txscript.SigHashType
	// MaxPSBTBytes caps the payload before parsing (0: DefaultMaxPSBTBytes).
	MaxPSBTBytes int
	// MaxInputs / MaxOutputs cap the transaction (0: the defaults above).
	MaxInputs  int
	MaxOutputs int
}

type ownKey struct {
	ref hsm.KeyRef
	pub []byte
}

type multisigSet struct {
	threshold int
	pubs      [][]byte
	script    []byte
	pkScript  []byte
}

// Adapter parses and signs PSBTs for one network. It is immutable after
// NewAdapter and safe for concurrent use.
type Adapter struct {
	network  chain.Network
	params   *chaincfg.Params
	keys     []ownKey
	multisig []multisigSet
	sighash  []txscript.SigHashType
	maxBytes int
	maxIn    int
	maxOut   int
}

var _ chain.Adapter = (*Adapter)(nil)
var _ chain.Tx = (*Tx)(nil)

// NewAdapter validates cfg and returns an adapter. Every key must be a
// 33-byte compressed secp256k1 key; every multisig set must be well formed.
func NewAdapter(cfg Config) (*Adapter, error) {
	params, err := Params(cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("%w: network: %w", ErrConfig, err)
	}
	a := &Adapter{network: cfg.Network, params: params, maxBytes: cfg.MaxPSBTBytes, maxIn: cfg.MaxInputs, maxOut: cfg.MaxOutputs}
	if a.maxBytes <= 0 {
		a.maxBytes = DefaultMaxPSBTBytes
	}
	if a.maxIn <= 0 {
		a.maxIn = DefaultMaxInputs
	}
	if a.maxOut <= 0 {
		a.maxOut = DefaultMaxOutputs
	}
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: keys: no signing keys", ErrConfig)
	}
	for i, k := range cfg.Keys {
		if err := checkCompressedPubKey(k.PublicKey); err != nil {
			return nil, fmt.Errorf("%w: keys[%d] (%s): %w", ErrConfig, i, k.Ref, err)
		}
		for _, o := range a.keys {
			if bytes.Equal(o.pub, k.PublicKey) {
				return nil, fmt.Errorf("%w: keys[%d] (%s): public key listed twice", ErrConfig, i, k.Ref)
			}
		}
		a.keys = append(a.keys, ownKey{ref: k.Ref, pub: slices.Clone(k.PublicKey)})
	}
	for i, m := range cfg.Multisig {
		ws, err := m.WitnessScript()
		if err != nil {
			return nil, fmt.Errorf("%w: multisig[%d]: %w", ErrConfig, i, err)
		}
		a.multisig = append(a.multisig, multisigSet{threshold: m.Threshold, pubs: slices.Clone(m.PubKeys), script: ws, pkScript: p2wshScript(ws)})
	}
	a.sighash = slices.Clone(cfg.AllowedSighash)
	if len(a.sighash) == 0 {
		a.sighash = []txscript.SigHashType{txscript.SigHashAll}
	}
	for _, h := range a.sighash {
		if h&^txscript.SigHashAnyOneCanPay < txscript.SigHashAll || h&^txscript.SigHashAnyOneCanPay > txscript.SigHashSingle || h&^(txscript.SigHashAnyOneCanPay|0x3) != 0 {
			return nil, fmt.Errorf("%w: allowed sighash 0x%x is not a legacy/segwit v0 sighash type", ErrConfig, uint32(h))
		}
	}
	return a, nil
}

// Network returns the one network this adapter accepts.
func (a *Adapter) Network() chain.Network { return a.network }

func (a *Adapter) keyByPub(pub []byte) (int, bool) {
	for i, k := range a.keys {
		if bytes.Equal(k.pub, pub) {
			return i, true
		}
	}
	return 0, false
}

// signSpec is what we sign for one input.
type signSpec struct {
	index     int
	kind      scriptKind
	keys      []int // indexes into a.keys, in script order
	hashType  txscript.SigHashType
	prevOut   *wire.TxOut
	redeem    []byte // p2sh-p2wpkh redeem script
	witScript []byte // p2wsh witness script
	threshold int
	msPubs    [][]byte
}

// Tx is a parsed PSBT ready for review and signing. It is never mutated.
type Tx struct {
	a        *Adapter
	pkt      *psbt.Packet
	prevOuts map[wire.OutPoint]*wire.TxOut
	specs    []signSpec
	summary  chain.Summary
	items    []chain.SigningItem
	itemSpec []struct{ spec, key int }
}

// Parse decodes an untrusted PSBT (v0 or v2, base64 or binary), applies
// every check described in the package documentation, and returns the Tx.
// On any error nothing is returned.
func (a *Adapter) Parse(payload []byte) (chain.Tx, error) {
	t, err := a.parse(payload)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTx is Parse returning the concrete type.
func (a *Adapter) ParseTx(payload []byte) (*Tx, error) { return a.parse(payload) }

func (a *Adapter) parse(payload []byte) (*Tx, error) {
	pkt, rp, err := decodePSBT(payload, a.maxBytes)
	if err != nil {
		return nil, err
	}
	tx := pkt.UnsignedTx
	if len(tx.TxIn) > a.maxIn {
		return nil, fmt.Errorf("%w: %d inputs, cap %d", ErrTooManyInputs, len(tx.TxIn), a.maxIn)
	}
	if len(tx.TxOut) > a.maxOut {
		return nil, fmt.Errorf("%w: %d outputs, cap %d", ErrTooManyOutputs, len(tx.TxOut), a.maxOut)
	}
	if len(tx.TxIn) == 0 {
		return nil, ErrNothingToSign
	}
	if len(tx.TxOut) == 0 {
		return nil, fmt.Errorf("%w: transaction has no outputs", ErrMalformed)
	}
	for i, x := range pkt.XPubs {
		if len(x.ExtendedKey) < 4 || !bytes.Equal(x.ExtendedKey[:4], a.params.HDPublicKeyID[:]) {
			return nil, fmt.Errorf("%w: global xpub %d is not an extended public key for %s", ErrNetwork, i, a.network)
		}
	}
	if err := checkInputScripts(pkt); err != nil {
		return nil, err
	}
	t := &Tx{a: a, pkt: pkt, prevOuts: map[wire.OutPoint]*wire.TxOut{}}
	sum := chain.Summary{Network: a.network, Kind: chain.KindTransfer, ID: tx.TxHash().String()}
	var unsigned bytes.Buffer
	if err := tx.SerializeNoWitness(&unsigned); err != nil {
		return nil, fmt.Errorf("%w: serialise unsigned tx: %v", ErrMalformed, err)
	}
	sum.ContentHash = sha256.Sum256(unsigned.Bytes())

	var totalIn, totalOut int64
	sizes := make([]inputSize, len(tx.TxIn))
	for i, txIn := range tx.TxIn {
		op := txIn.PreviousOutPoint
		if _, dup := t.prevOuts[op]; dup {
			return nil, inErr(i, fmt.Errorf("%w: %s", ErrDuplicateInput, op))
		}
		in := &pkt.Inputs[i]
		if rp.taproot[i] {
			return nil, inErr(i, ErrTaproot)
		}
		if in.NonWitnessUtxo == nil {
			return nil, inErr(i, ErrMissingPrevTx)
		}
		prev, _, err := prevOutFromPSBT(pkt, i)
		if err != nil {
			return nil, err
		}
		if isTaprootLike(prev.PkScript) {
			return nil, inErr(i, ErrTaproot)
		}
		if prev.Value < 0 || prev.Value > maxSatoshi {
			return nil, inErr(i, fmt.Errorf("%w: previous output value %d", ErrAmount, prev.Value))
		}
		t.prevOuts[op] = prev
		totalIn += prev.Value
		if totalIn > maxSatoshi {
			return nil, inErr(i, fmt.Errorf("%w: input total exceeds 21M BTC", ErrAmount))
		}
		spec, ours, err := a.classifyInput(pkt, rp, i, prev)
		if err != nil {
			return nil, err
		}
		ci := chain.Input{Outpoint: op.String(), Amount: big.NewInt(prev.Value), Ours: ours, ScriptType: spec.kind.String()}
		finalized := len(in.FinalScriptSig) > 0 || len(in.FinalScriptWitness) > 0
		switch {
		case ours && finalized:
			return nil, inErr(i, fmt.Errorf("%w: an input our keys own is already finalized", ErrMalformed))
		case ours:
			ci.Key = a.keys[spec.keys[0]].ref
			t.specs = append(t.specs, spec)
			sum.Consumes = append(sum.Consumes, fmt.Sprintf("%s/outpoint/%s", a.network, op))
			sizes[i] = sizeFor(spec.kind, spec.threshold, spec.witScript)
		case finalized:
			sizes[i] = finalizedSize(in.FinalScriptSig, in.FinalScriptWitness)
		default:
			sizes[i] = sizeFor(spec.kind, spec.threshold, spec.witScript)
		}
		sum.Inputs = append(sum.Inputs, ci)
	}
	if len(t.specs) == 0 {
		return nil, ErrNothingToSign
	}
	for i, o := range tx.TxOut {
		if o.Value < 0 || o.Value > maxSatoshi {
			return nil, outErr(i, fmt.Errorf("%w: value %d", ErrAmount, o.Value))
		}
		totalOut += o.Value
		if totalOut > maxSatoshi {
			return nil, outErr(i, fmt.Errorf("%w: output total exceeds 21M BTC", ErrAmount))
		}
		addr, err := scriptAddress(o.PkScript, a.network)
		if err != nil {
			return nil, outErr(i, err)
		}
		sum.Outputs = append(sum.Outputs, chain.Output{Address: addr, Asset: chain.AssetBTC, Amount: big.NewInt(o.Value), Change: a.isChange(o.PkScript)})
	}
	if totalOut > totalIn {
		return nil, fmt.Errorf("%w: outputs %d sat, inputs %d sat", ErrNegativeFee, totalOut, totalIn)
	}
	fee := totalIn - totalOut
	sum.Fee = big.NewInt(fee)
	sum.VSize = estimateVSize(tx, sizes)
	sum.FeeRate = big.NewInt(fee * 1000 / sum.VSize)

	// Signing items: inputs ascending, keys in script order.
	fetcher := txscript.NewMultiPrevOutFetcher(t.prevOuts)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for si, spec := range t.specs {
		d, err := sighash(tx, hashes, spec)
		if err != nil {
			return nil, inErr(spec.index, err)
		}
		for ki, k := range spec.keys {
			t.items = append(t.items, chain.SigningItem{Key: a.keys[k].ref, Digest: d})
			t.itemSpec = append(t.itemSpec, struct{ spec, key int }{si, ki})
		}
	}
	t.summary = sum
	return t, nil
}

func sighash(tx *wire.MsgTx, hashes *txscript.TxSigHashes, spec signSpec) (hsm.Digest, error) {
	var (
		h   []byte
		err error
	)
	switch spec.kind {
	case kindP2WPKH:
		h, err = txscript.CalcWitnessSigHash(spec.prevOut.PkScript, hashes, spec.hashType, tx, spec.index, spec.prevOut.Value)
	case kindP2SHP2WPKH:
		h, err = txscript.CalcWitnessSigHash(spec.redeem, hashes, spec.hashType, tx, spec.index, spec.prevOut.Value)
	case kindP2WSHMulti:
		h, err = txscript.CalcWitnessSigHash(spec.witScript, hashes, spec.hashType, tx, spec.index, spec.prevOut.Value)
	case kindP2PKH:
		h, err = txscript.CalcSignatureHash(spec.prevOut.PkScript, spec.hashType, tx, spec.index)
	default:
		err = fmt.Errorf("cannot compute sighash for script type %s", spec.kind)
	}
	var d hsm.Digest
	if err != nil {
		return d, err
	}
	if len(h) != 32 {
		return d, fmt.Errorf("sighash has %d bytes", len(h))
	}
	copy(d[:], h)
	return d, nil
}

// classifyInput decides, from the spent script alone, whether our keys own
// input i. BIP32-derivation fields are never used to claim ownership.
func (a *Adapter) classifyInput(pkt *psbt.Packet, rp *rawPSBT, i int, prev *wire.TxOut) (signSpec, bool, error) {
	in := &pkt.Inputs[i]
	spec := signSpec{index: i, prevOut: prev, hashType: txscript.SigHashAll}
	script := prev.PkScript
	switch {
	case txscript.IsPayToWitnessPubKeyHash(script):
		spec.kind = kindP2WPKH
		for k, key := range a.keys {
			if bytes.Equal(script, p2wpkhScript(key.pub)) {
				spec.keys = []int{k}
			}
		}
	case txscript.IsPayToPubKeyHash(script):
		spec.kind = kindP2PKH
		for k, key := range a.keys {
			if bytes.Equal(script, p2pkhScript(key.pub)) {
				spec.keys = []int{k}
			}
		}
	case txscript.IsPayToScriptHash(script):
		for k, key := range a.keys {
			redeem := p2wpkhScript(key.pub)
			if bytes.Equal(script, p2shScript(redeem)) {
				spec.kind, spec.keys, spec.redeem = kindP2SHP2WPKH, []int{k}, redeem
			}
		}
	case txscript.IsPayToWitnessScriptHash(script):
		ws := in.WitnessScript // already checked to hash to the program
		if ws == nil {
			for _, m := range a.multisig {
				if bytes.Equal(m.pkScript, script) {
					ws = m.script
				}
			}
		}
		if m, pubs, ok := parseMultisig(ws); ok {
			spec.kind, spec.witScript, spec.threshold, spec.msPubs = kindP2WSHMulti, slices.Clone(ws), m, pubs
			for _, p := range pubs {
				if k, ok := a.keyByPub(p); ok && !slices.Contains(spec.keys, k) {
					spec.keys = append(spec.keys, k)
				}
			}
		}
	}
	if len(spec.keys) == 0 {
		return spec, false, nil
	}
	if f, ok := rp.inputs[i].get(inSighashType); ok {
		ht := txscript.SigHashType(u32(f.value))
		if !slices.Contains(a.sighash, ht) {
			return spec, false, inErr(i, fmt.Errorf("%w: PSBT asks for sighash 0x%x; allowed: %v", ErrSighashNotAllowed, uint32(ht), a.sighash))
		}
		spec.hashType = ht
	}
	return spec, true, nil
}

// isChange reports whether script pays one of our keys or known multisig
// sets. PSBT output fields (BIP32 derivations, scripts) are never consulted.
func (a *Adapter) isChange(script []byte) bool {
	for _, k := range a.keys {
		if bytes.Equal(script, p2wpkhScript(k.pub)) || bytes.Equal(script, p2pkhScript(k.pub)) || bytes.Equal(script, p2shScript(p2wpkhScript(k.pub))) {
			return true
		}
	}
	for _, m := range a.multisig {
		if bytes.Equal(script, m.pkScript) {
			return true
		}
	}
	return false
}

// scriptAddress renders a standard output script as an address on n.
func scriptAddress(script []byte, n chain.Network) (string, error) {
	params, err := Params(n)
	if err != nil {
		return "", err
	}
	class, addrs, _, err := txscript.ExtractPkScriptAddrs(script, params)
	if err != nil || len(addrs) != 1 {
		return "", fmt.Errorf("%w: script %x", ErrNonStandardOutput, script)
	}
	switch class {
	case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy, txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
		return addrs[0].EncodeAddress(), nil
	default:
		return "", fmt.Errorf("%w: %s script %x", ErrNonStandardOutput, class, script)
	}
}

// Summary returns a deep copy of the decoded description.
func (t *Tx) Summary() chain.Summary {
	s := t.summary
	s.Inputs = slices.Clone(s.Inputs)
	for i := range s.Inputs {
		s.Inputs[i].Amount = new(big.Int).Set(s.Inputs[i].Amount)
		s.Inputs[i].Key.ID = slices.Clone(s.Inputs[i].Key.ID)
	}
	s.Outputs = slices.Clone(s.Outputs)
	for i := range s.Outputs {
		s.Outputs[i].Amount = new(big.Int).Set(s.Outputs[i].Amount)
	}
	s.Fee = new(big.Int).Set(s.Fee)
	s.FeeRate = new(big.Int).Set(s.FeeRate)
	s.Consumes = slices.Clone(s.Consumes)
	return s
}

// SigningItems lists one digest per (input we sign, our key), inputs in
// ascending order, keys in witness-script order.
func (t *Tx) SigningItems() []chain.SigningItem { return slices.Clone(t.items) }
