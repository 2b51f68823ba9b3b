package btc

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/hsm"
)

// derSignature turns an HSM (r, s) pair into a strict-DER, low-S signature.
// With verify it first checks the signature verifies for pub over digest;
// without, the caller must have it verified (the script engine does for a
// single-key input, whose only signature is ours).
func derSignature(sig hsm.Signature, pub []byte, digest hsm.Digest, verify bool) ([]byte, error) {
	var r, s btcec.ModNScalar
	if r.SetBytes(&sig.R) != 0 || s.SetBytes(&sig.S) != 0 || r.IsZero() || s.IsZero() {
		return nil, fmt.Errorf("%w: r or s out of range", ErrBadSignature)
	}
	if s.IsOverHalfOrder() {
		s.Negate() // defensive: the HSM layer already normalises
	}
	es := ecdsa.NewSignature(&r, &s)
	if !verify {
		return es.Serialize(), nil
	}
	pk, err := btcec.ParsePubKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrBadSignature, err)
	}
	if !es.Verify(digest[:], pk) {
		return nil, fmt.Errorf("%w: ECDSA check against the sighash failed", ErrBadSignature)
	}
	return es.Serialize(), nil
}

func clonePacket(p *psbt.Packet) (*psbt.Packet, error) {
	var buf bytes.Buffer
	if err := p.Serialize(&buf); err != nil {
		return nil, err
	}
	return psbt.NewFromRawBytes(&buf, false)
}

func setPartialSig(in *psbt.PInput, pub, sig []byte) {
	for _, ps := range in.PartialSigs {
		if bytes.Equal(ps.PubKey, pub) {
			ps.Signature = sig
			return
		}
	}
	in.PartialSigs = append(in.PartialSigs, &psbt.PartialSig{PubKey: bytes.Clone(pub), Signature: sig})
}

// Attach adds one signature per SigningItem (same order) as partial
// signatures, fills the scripts a finalizer needs, verifies every input we
// signed (script engine when the input is complete; for a multisig input
// still short of its threshold, an ECDSA check of each of our signatures
// against an independently recomputed BIP-143 sighash) and returns the
// binary PSBT (always v0 layout). The Tx is never modified.
func (t *Tx) Attach(sigs []hsm.Signature) ([]byte, error) {
	if len(sigs) != len(t.items) {
		return nil, fmt.Errorf("%w: got %d, want %d", ErrSignatureCount, len(sigs), len(t.items))
	}
	pkt, err := clonePacket(t.pkt)
	if err != nil {
		return nil, fmt.Errorf("copy psbt: %w", err)
	}
	for j, sig := range sigs {
		is := t.itemSpec[j]
		spec := t.specs[is.spec]
		key := t.a.keys[spec.keys[is.key]]
		// A multisig input may finalize without our signature (enough
		// cosigners signed already), so the engine would not check it:
		// verify it here. A single-key input is checked by the engine below.
		der, err := derSignature(sig, key.pub, t.items[j].Digest, spec.kind == kindP2WSHMulti)
		if err != nil {
			return nil, inErr(spec.index, fmt.Errorf("key %s: %w", key.ref, err))
		}
		in := &pkt.Inputs[spec.index]
		setPartialSig(in, key.pub, append(der, byte(spec.hashType)))
		switch spec.kind {
		case kindP2SHP2WPKH:
			in.RedeemScript = bytes.Clone(spec.redeem)
		case kindP2WSHMulti:
			in.WitnessScript = bytes.Clone(spec.witScript)
		}
		if spec.kind != kindP2PKH {
			in.WitnessUtxo = wire.NewTxOut(spec.prevOut.Value, bytes.Clone(spec.prevOut.PkScript))
		}
	}
	// One copy of the transaction carries every final scriptSig/witness for
	// the script engine, and one sighash midstate serves every input: the
	// BIP-143 midstate and a legacy sighash of input i depend on no other
	// input's scriptSig or witness.
	tx := pkt.UnsignedTx
	fetcher := txscript.NewMultiPrevOutFetcher(t.prevOuts)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	final := tx.Copy()
	var check []signSpec
	for _, spec := range t.specs {
		in := &pkt.Inputs[spec.index]
		ss, wit, ferr := finalizeInput(in, spec.prevOut)
		switch {
		case ferr == nil:
			final.TxIn[spec.index].SignatureScript = ss
			final.TxIn[spec.index].Witness = wit
			check = append(check, spec)
		case spec.kind == kindP2WSHMulti && errors.Is(ferr, ErrIncomplete):
			d, err := sighash(tx, hashes, spec)
			if err != nil {
				return nil, inErr(spec.index, err)
			}
			for _, k := range spec.keys {
				if err := verifyPartialSig(in, t.a.keys[k].pub, d, spec.hashType); err != nil {
					return nil, inErr(spec.index, err)
				}
			}
		default:
			return nil, inErr(spec.index, ferr)
		}
	}
	if err := verifyInputs(final, check, fetcher, hashes); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := pkt.Serialize(&out); err != nil {
		return nil, fmt.Errorf("serialise psbt: %w", err)
	}
	return out.Bytes(), nil
}

func verifyPartialSig(in *psbt.PInput, pub []byte, d hsm.Digest, ht txscript.SigHashType) error {
	for _, ps := range in.PartialSigs {
		if !bytes.Equal(ps.PubKey, pub) {
			continue
		}
		n := len(ps.Signature)
		if n < 2 || txscript.SigHashType(ps.Signature[n-1]) != ht {
			return fmt.Errorf("%w: partial signature has the wrong sighash byte", ErrBadSignature)
		}
		sig, err := ecdsa.ParseDERSignature(ps.Signature[:n-1])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		pk, err := btcec.ParsePubKey(pub)
		if err != nil || !sig.Verify(d[:], pk) {
			return fmt.Errorf("%w: partial signature does not verify", ErrBadSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: our partial signature is missing", ErrBadSignature)
}

// verifyInputs runs btcd's script engine on every input of specs in tx
// (which carries their final scripts), spread over the CPUs: the engine only
// reads tx and hashes. It returns the error of the lowest failing input.
func verifyInputs(tx *wire.MsgTx, specs []signSpec, fetcher txscript.PrevOutputFetcher, hashes *txscript.TxSigHashes) error {
	errs := make([]error, len(specs))
	workers := min(runtime.GOMAXPROCS(0), (len(specs)+31)/32)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(specs) {
					return
				}
				errs[k] = verifyInputScript(tx, specs[k], fetcher, hashes)
			}
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			return inErr(specs[k].index, fmt.Errorf("%w: script engine: %v", ErrBadSignature, err))
		}
	}
	return nil
}

// verifyInputScript runs btcd's script engine on input spec.index of tx.
func verifyInputScript(tx *wire.MsgTx, spec signSpec, fetcher txscript.PrevOutputFetcher, hashes *txscript.TxSigHashes) error {
	vm, err := txscript.NewEngine(spec.prevOut.PkScript, tx, spec.index, txscript.StandardVerifyFlags, nil, hashes, spec.prevOut.Value, fetcher)
	if err != nil {
		return err
	}
	return vm.Execute()
}

func findSig(in *psbt.PInput, match func(pub []byte) bool) (sig, pub []byte) {
	for _, ps := range in.PartialSigs {
		if match(ps.PubKey) {
			return ps.Signature, ps.PubKey
		}
	}
	return nil, nil
}

func hashMatch(h []byte) func([]byte) bool {
	return func(pub []byte) bool { return bytes.Equal(btcutil.Hash160(pub), h) }
}

// finalizeInput builds the final scriptSig/witness of a P2WPKH,
// P2SH-P2WPKH, P2PKH or P2WSH-multisig input from its partial signatures.
// It returns an error wrapping ErrIncomplete when signatures are missing.
func finalizeInput(in *psbt.PInput, prev *wire.TxOut) ([]byte, wire.TxWitness, error) {
	script := prev.PkScript
	switch {
	case txscript.IsPayToWitnessPubKeyHash(script):
		sig, pub := findSig(in, hashMatch(script[2:22]))
		if sig == nil {
			return nil, nil, fmt.Errorf("%w: p2wpkh signature missing", ErrIncomplete)
		}
		return nil, wire.TxWitness{sig, pub}, nil
	case txscript.IsPayToPubKeyHash(script):
		sig, pub := findSig(in, hashMatch(script[3:23]))
		if sig == nil {
			return nil, nil, fmt.Errorf("%w: p2pkh signature missing", ErrIncomplete)
		}
		return append(pushData(sig), pushData(pub)...), nil, nil
	case txscript.IsPayToScriptHash(script):
		r := in.RedeemScript
		if !bytes.Equal(p2shScript(r), script) || !txscript.IsPayToWitnessPubKeyHash(r) {
			return nil, nil, fmt.Errorf("%w: p2sh input without a matching p2wpkh redeemScript (unsupported)", ErrIncomplete)
		}
		sig, pub := findSig(in, hashMatch(r[2:22]))
		if sig == nil {
			return nil, nil, fmt.Errorf("%w: p2sh-p2wpkh signature missing", ErrIncomplete)
		}
		return pushData(r), wire.TxWitness{sig, pub}, nil
	case txscript.IsPayToWitnessScriptHash(script):
		ws := in.WitnessScript
		if !bytes.Equal(p2wshScript(ws), script) {
			return nil, nil, fmt.Errorf("%w: p2wsh input without a matching witnessScript", ErrIncomplete)
		}
		m, pubs, ok := parseMultisig(ws)
		if !ok {
			return nil, nil, fmt.Errorf("%w: p2wsh witnessScript is not a supported multisig", ErrIncomplete)
		}
		wit := wire.TxWitness{nil}
		for _, p := range pubs {
			if len(wit)-1 == m {
				break
			}
			if sig, _ := findSig(in, func(x []byte) bool { return bytes.Equal(x, p) }); sig != nil {
				wit = append(wit, sig)
			}
		}
		if len(wit)-1 < m {
			return nil, nil, fmt.Errorf("%w: multisig has %d of %d signatures", ErrIncomplete, len(wit)-1, m)
		}
		return nil, append(wit, ws), nil
	default:
		return nil, nil, fmt.Errorf("%w: unsupported script type %x", ErrIncomplete, script)
	}
}

// Finalize turns a fully signed PSBT (v0 or v2; base64 or binary) into its
// finalized PSBT and the raw network transaction, verifying every input with
// the script engine. Inputs already finalized are kept. When inputs lack
// signatures the error wraps ErrIncomplete and names each of them. Every
// input must state its spent output (non-witness or witness utxo).
func Finalize(psbtBytes []byte) (finalPSBT []byte, rawTx []byte, err error) {
	pkt, _, err := decodePSBT(psbtBytes, DefaultMaxPSBTBytes)
	if err != nil {
		return nil, nil, err
	}
	if err := checkInputScripts(pkt); err != nil {
		return nil, nil, err
	}
	prevOuts := map[wire.OutPoint]*wire.TxOut{}
	var missing []string
	for i := range pkt.Inputs {
		in := &pkt.Inputs[i]
		prev, _, err := prevOutFromPSBT(pkt, i)
		if err != nil {
			return nil, nil, err
		}
		if prev == nil {
			return nil, nil, inErr(i, fmt.Errorf("%w: spent output unknown (no utxo field)", ErrIncomplete))
		}
		prevOuts[pkt.UnsignedTx.TxIn[i].PreviousOutPoint] = prev
		if len(in.FinalScriptSig) > 0 || len(in.FinalScriptWitness) > 0 {
			continue
		}
		ss, wit, err := finalizeInput(in, prev)
		if err != nil {
			missing = append(missing, fmt.Sprintf("input %d: %v", i, err))
			continue
		}
		in.FinalScriptSig = ss
		if wit != nil {
			in.FinalScriptWitness = serializeWitness(wit)
		}
		in.PartialSigs, in.SighashType, in.RedeemScript, in.WitnessScript, in.Bip32Derivation = nil, 0, nil, nil, nil
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(missing, "; "))
	}
	tx, err := psbt.Extract(pkt)
	if err != nil {
		return nil, nil, fmt.Errorf("extract: %w", err)
	}
	fetcher := txscript.NewMultiPrevOutFetcher(prevOuts)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i := range tx.TxIn {
		prev := prevOuts[tx.TxIn[i].PreviousOutPoint]
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prev.Value, fetcher)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			return nil, nil, inErr(i, fmt.Errorf("%w: script engine: %v", ErrBadSignature, err))
		}
	}
	var pb, tb bytes.Buffer
	if err := pkt.Serialize(&pb); err != nil {
		return nil, nil, err
	}
	if err := tx.Serialize(&tb); err != nil {
		return nil, nil, err
	}
	return pb.Bytes(), tb.Bytes(), nil
}

// Combine merges several copies of the same PSBT (for example one per
// multisig cosigner) into one binary PSBT: partial signatures and
// derivations are unioned, missing utxo/script fields filled in. The copies
// must describe the same unsigned transaction; conflicting utxo or script
// fields are refused (ErrCombine).
func Combine(psbts ...[]byte) ([]byte, error) {
	if len(psbts) == 0 {
		return nil, fmt.Errorf("%w: nothing to combine", ErrCombine)
	}
	var base *psbt.Packet
	var baseTx []byte
	for n, b := range psbts {
		pkt, _, err := decodePSBT(b, DefaultMaxPSBTBytes)
		if err != nil {
			return nil, fmt.Errorf("psbt %d: %w", n, err)
		}
		var txb bytes.Buffer
		if err := pkt.UnsignedTx.SerializeNoWitness(&txb); err != nil {
			return nil, err
		}
		if base == nil {
			base, baseTx = pkt, txb.Bytes()
			continue
		}
		if !bytes.Equal(baseTx, txb.Bytes()) {
			return nil, fmt.Errorf("%w: psbt %d describes a different transaction", ErrCombine, n)
		}
		for i := range pkt.Inputs {
			if err := mergeInput(&base.Inputs[i], &pkt.Inputs[i]); err != nil {
				return nil, inErr(i, fmt.Errorf("psbt %d: %w", n, err))
			}
		}
		for i := range pkt.Outputs {
			if err := mergeOutput(&base.Outputs[i], &pkt.Outputs[i]); err != nil {
				return nil, outErr(i, fmt.Errorf("psbt %d: %w", n, err))
			}
		}
	}
	if err := checkInputScripts(base); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := base.Serialize(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func mergeBytes(dst *[]byte, src []byte, field string) error {
	switch {
	case len(src) == 0:
	case len(*dst) == 0:
		*dst = src
	case !bytes.Equal(*dst, src):
		return fmt.Errorf("%w: conflicting %s", ErrCombine, field)
	}
	return nil
}

func mergeInput(dst, src *psbt.PInput) error {
	if src.NonWitnessUtxo != nil {
		if dst.NonWitnessUtxo == nil {
			dst.NonWitnessUtxo = src.NonWitnessUtxo
		} else if dst.NonWitnessUtxo.TxHash() != src.NonWitnessUtxo.TxHash() {
			return fmt.Errorf("%w: conflicting non-witness utxo", ErrCombine)
		}
	}
	if src.WitnessUtxo != nil {
		if dst.WitnessUtxo == nil {
			dst.WitnessUtxo = src.WitnessUtxo
		} else if !psbt.TxOutsEqual(dst.WitnessUtxo, src.WitnessUtxo) {
			return fmt.Errorf("%w: conflicting witness utxo", ErrCombine)
		}
	}
	if src.SighashType != 0 {
		if dst.SighashType == 0 {
			dst.SighashType = src.SighashType
		} else if dst.SighashType != src.SighashType {
			return fmt.Errorf("%w: conflicting sighash type", ErrCombine)
		}
	}
	for _, f := range []struct {
		dst  *[]byte
		src  []byte
		name string
	}{{&dst.RedeemScript, src.RedeemScript, "redeemScript"}, {&dst.WitnessScript, src.WitnessScript, "witnessScript"}, {&dst.FinalScriptSig, src.FinalScriptSig, "final scriptSig"}, {&dst.FinalScriptWitness, src.FinalScriptWitness, "final witness"}} {
		if err := mergeBytes(f.dst, f.src, f.name); err != nil {
			return err
		}
	}
	for _, ps := range src.PartialSigs {
		if s, _ := findSig(dst, func(p []byte) bool { return bytes.Equal(p, ps.PubKey) }); s == nil {
			dst.PartialSigs = append(dst.PartialSigs, ps)
		}
	}
	sort.Sort(psbt.PartialSigSorter(dst.PartialSigs))
	for _, d := range src.Bip32Derivation {
		found := false
		for _, e := range dst.Bip32Derivation {
			found = found || bytes.Equal(e.PubKey, d.PubKey)
		}
		if !found {
			dst.Bip32Derivation = append(dst.Bip32Derivation, d)
		}
	}
	return nil
}

func mergeOutput(dst, src *psbt.POutput) error {
	if err := mergeBytes(&dst.RedeemScript, src.RedeemScript, "output redeemScript"); err != nil {
		return err
	}
	if err := mergeBytes(&dst.WitnessScript, src.WitnessScript, "output witnessScript"); err != nil {
		return err
	}
	for _, d := range src.Bip32Derivation {
		found := false
		for _, e := range dst.Bip32Derivation {
			found = found || bytes.Equal(e.PubKey, d.PubKey)
		}
		if !found {
			dst.Bip32Derivation = append(dst.Bip32Derivation, d)
		}
	}
	return nil
}
