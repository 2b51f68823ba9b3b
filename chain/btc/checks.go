package btc

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// prevOutScript returns the spent output as the PSBT states it: from the
// non-witness utxo (txid-checked) or else the witness utxo. ok is false when
// neither is present.
func prevOutFromPSBT(pkt *psbt.Packet, i int) (*wire.TxOut, bool, error) {
	in := pkt.Inputs[i]
	op := pkt.UnsignedTx.TxIn[i].PreviousOutPoint
	if in.NonWitnessUtxo != nil {
		if h := in.NonWitnessUtxo.TxHash(); h != op.Hash {
			return nil, false, inErr(i, fmt.Errorf("%w: previous transaction hashes to %s, outpoint names %s", ErrPrevTxMismatch, h, op.Hash))
		}
		if int(op.Index) >= len(in.NonWitnessUtxo.TxOut) {
			return nil, false, inErr(i, fmt.Errorf("%w: outpoint index %d, previous transaction has %d outputs", ErrPrevTxMismatch, op.Index, len(in.NonWitnessUtxo.TxOut)))
		}
		out := in.NonWitnessUtxo.TxOut[op.Index]
		if w := in.WitnessUtxo; w != nil && (w.Value != out.Value || !bytes.Equal(w.PkScript, out.PkScript)) {
			return nil, false, inErr(i, fmt.Errorf("%w: witness utxo (%d sat) differs from the previous transaction's output %d (%d sat)", ErrPrevTxMismatch, w.Value, op.Index, out.Value))
		}
		return out, true, nil
	}
	if in.WitnessUtxo != nil {
		return in.WitnessUtxo, false, nil
	}
	return nil, false, nil
}

// checkInputScripts applies the BIP-174 signer checks to every input that
// states its spent output: a witness utxo only for witness outputs, the
// redeemScript must hash to a P2SH output, the witnessScript must hash to
// the P2WSH program (direct or inside the redeemScript).
func checkInputScripts(pkt *psbt.Packet) error {
	for i := range pkt.Inputs {
		in := &pkt.Inputs[i]
		out, _, err := prevOutFromPSBT(pkt, i)
		if err != nil {
			return err
		}
		if out == nil {
			continue
		}
		script := out.PkScript
		isP2SH := txscript.IsPayToScriptHash(script)
		if len(in.RedeemScript) > 0 {
			if !isP2SH {
				return inErr(i, fmt.Errorf("%w: redeemScript given but the spent output is not P2SH", ErrScriptMismatch))
			}
			if !bytes.Equal(script[2:22], btcutil.Hash160(in.RedeemScript)) {
				return inErr(i, fmt.Errorf("%w: redeemScript does not hash to the P2SH output", ErrScriptMismatch))
			}
			script = in.RedeemScript
		}
		witnessProgram := txscript.IsWitnessProgram(script)
		if in.WitnessUtxo != nil && !witnessProgram && !(isP2SH && len(in.RedeemScript) == 0) {
			return inErr(i, fmt.Errorf("%w: witness utxo given for a non-witness output", ErrScriptMismatch))
		}
		if len(in.WitnessScript) > 0 {
			if !txscript.IsPayToWitnessScriptHash(script) {
				return inErr(i, fmt.Errorf("%w: witnessScript given but the spent script is not P2WSH", ErrScriptMismatch))
			}
			h := sha256.Sum256(in.WitnessScript)
			if !bytes.Equal(script[2:], h[:]) {
				return inErr(i, fmt.Errorf("%w: witnessScript does not hash to the P2WSH program", ErrScriptMismatch))
			}
		}
	}
	return nil
}
