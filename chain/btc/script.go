package btc

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Script types as shown in chain.Input.ScriptType.
const (
	ScriptP2WPKH        = "p2wpkh"
	ScriptP2SHP2WPKH    = "p2sh-p2wpkh"
	ScriptP2PKH         = "p2pkh"
	ScriptP2WSHMultisig = "p2wsh-multisig"
)

type scriptKind int

const (
	kindOther scriptKind = iota
	kindP2WPKH
	kindP2SHP2WPKH
	kindP2PKH
	kindP2WSHMulti
)

func (k scriptKind) String() string {
	switch k {
	case kindP2WPKH:
		return ScriptP2WPKH
	case kindP2SHP2WPKH:
		return ScriptP2SHP2WPKH
	case kindP2PKH:
		return ScriptP2PKH
	case kindP2WSHMulti:
		return ScriptP2WSHMultisig
	default:
		return "other"
	}
}

func p2wpkhScript(pub []byte) []byte {
	return append([]byte{txscript.OP_0, 20}, btcutil.Hash160(pub)...)
}

func p2pkhScript(pub []byte) []byte {
	s := []byte{txscript.OP_DUP, txscript.OP_HASH160, 20}
	s = append(s, btcutil.Hash160(pub)...)
	return append(s, txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)
}

func p2shScript(redeem []byte) []byte {
	s := []byte{txscript.OP_HASH160, 20}
	s = append(s, btcutil.Hash160(redeem)...)
	return append(s, txscript.OP_EQUAL)
}

func p2wshScript(witnessScript []byte) []byte {
	h := sha256.Sum256(witnessScript)
	return append([]byte{txscript.OP_0, 32}, h[:]...)
}

// checkCompressedPubKey accepts only a valid 33-byte compressed key.
func checkCompressedPubKey(pub []byte) error {
	if len(pub) != 33 {
		return fmt.Errorf("public key has %d bytes, want 33 (compressed)", len(pub))
	}
	if _, err := btcec.ParsePubKey(pub); err != nil {
		return fmt.Errorf("public key is not a secp256k1 point")
	}
	return nil
}

// multisigScript builds "OP_m <pk1> … <pkn> OP_n OP_CHECKMULTISIG" with the
// keys in the order given (sort them first for BIP-67 "sortedmulti").
func multisigScript(threshold int, pubs [][]byte) ([]byte, error) {
	n := len(pubs)
	if n < 1 || n > 16 {
		return nil, fmt.Errorf("multisig has %d keys, want 1..16", n)
	}
	if threshold < 1 || threshold > n {
		return nil, fmt.Errorf("multisig threshold %d, want 1..%d", threshold, n)
	}
	s := []byte{byte(txscript.OP_1 - 1 + threshold)}
	for i, p := range pubs {
		if err := checkCompressedPubKey(p); err != nil {
			return nil, fmt.Errorf("multisig key %d: %w", i, err)
		}
		s = append(s, 33)
		s = append(s, p...)
	}
	return append(s, byte(txscript.OP_1-1+n), txscript.OP_CHECKMULTISIG), nil
}

// parseMultisig recognises exactly the canonical form multisigScript builds
// (compressed keys only).
func parseMultisig(s []byte) (threshold int, pubs [][]byte, ok bool) {
	if len(s) < 3 || s[0] < txscript.OP_1 || s[0] > txscript.OP_16 {
		return 0, nil, false
	}
	m := int(s[0]-txscript.OP_1) + 1
	rest := s[1:]
	for len(rest) >= 34 && rest[0] == 33 {
		if checkCompressedPubKey(rest[1:34]) != nil {
			return 0, nil, false
		}
		pubs = append(pubs, rest[1:34])
		rest = rest[34:]
	}
	if len(rest) != 2 || rest[1] != txscript.OP_CHECKMULTISIG || rest[0] < txscript.OP_1 || rest[0] > txscript.OP_16 {
		return 0, nil, false
	}
	if n := int(rest[0]-txscript.OP_1) + 1; n != len(pubs) || m > n {
		return 0, nil, false
	}
	return m, pubs, true
}

// isTaprootLike reports witness programs of version 1 and above.
func isTaprootLike(script []byte) bool {
	if !txscript.IsWitnessProgram(script) {
		return false
	}
	v, _, err := txscript.ExtractWitnessProgramInfo(script)
	return err != nil || v >= 1
}

// inputSize is the estimated contribution of one signed input.
type inputSize struct {
	nonWitness int // bytes
	witness    int // bytes (weight units)
	segwit     bool
}

func compactLen(n int) int { return wire.VarIntSerializeSize(uint64(n)) }

const maxDERSig = 72 + 1 // DER signature plus sighash byte, upper bound

func sizeFor(k scriptKind, threshold int, witnessScript []byte) inputSize {
	switch k {
	case kindP2WPKH:
		return inputSize{nonWitness: 41, witness: 1 + 1 + maxDERSig + 1 + 33, segwit: true}
	case kindP2SHP2WPKH:
		return inputSize{nonWitness: 41 + 23, witness: 1 + 1 + maxDERSig + 1 + 33, segwit: true}
	case kindP2WSHMulti:
		return inputSize{nonWitness: 41, witness: 1 + 1 + threshold*(1+maxDERSig) + compactLen(len(witnessScript)) + len(witnessScript), segwit: true}
	default: // p2pkh and anything we cannot tell: the P2PKH size
		return inputSize{nonWitness: 41 + 1 + maxDERSig + 1 + 33}
	}
}

// finalizedSize is the exact contribution of an already-finalized input.
func finalizedSize(scriptSig []byte, witness []byte) inputSize {
	s := inputSize{nonWitness: 32 + 4 + compactLen(len(scriptSig)) + len(scriptSig) + 4}
	if len(witness) > 0 {
		s.witness, s.segwit = len(witness), true
	}
	return s
}

// estimateVSize returns the virtual size of tx once signed with inputs of
// the given sizes (rounded up).
func estimateVSize(tx *wire.MsgTx, ins []inputSize) int64 {
	base := 4 + 4 + compactLen(len(tx.TxIn)) + compactLen(len(tx.TxOut))
	for _, o := range tx.TxOut {
		base += 8 + compactLen(len(o.PkScript)) + len(o.PkScript)
	}
	wit, segwit := 0, false
	for _, in := range ins {
		base += in.nonWitness
		if in.segwit {
			segwit = true
		}
	}
	if segwit {
		wit = 2
		for _, in := range ins {
			if in.segwit {
				wit += in.witness
			} else {
				wit++ // empty witness stack
			}
		}
	}
	weight := int64(base)*4 + int64(wit)
	return (weight + 3) / 4
}

func pushData(b []byte) []byte {
	s, _ := txscript.NewScriptBuilder().AddData(b).Script()
	return s
}

func serializeWitness(w wire.TxWitness) []byte {
	var buf bytes.Buffer
	_ = wire.WriteVarInt(&buf, 0, uint64(len(w)))
	for _, item := range w {
		_ = wire.WriteVarBytes(&buf, 0, item)
	}
	return buf.Bytes()
}
