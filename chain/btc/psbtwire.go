package btc

// Strict PSBT intake.
//
// btcd's psbt package (pinned on purpose at github.com/btcsuite/btcd/btcutil/psbt
// v1.2.0, the last release that builds with btcd v0.24.2's wire/txscript; see
// go.mod) is lax: it accepts BIP-174's invalid-19 vector and has no PSBTv2
// support at all. So every untrusted PSBT first goes through the framing
// checker below, which walks the key-value maps byte by byte, refuses
// non-canonical compact sizes, values shorter or longer than stated, trailing
// bytes, duplicate keys, wrong key-data or value lengths for every known key
// type, and the version rules of BIP-174/BIP-370. Only bytes that pass are
// handed to btcd's NewFromRawBytes.
//
// PSBTv2 (BIP-370) is converted to PSBTv0 here by hand: no Go library does it.
// The conversion builds the unsigned transaction from PSBT_GLOBAL_TX_VERSION,
// the BIP-370 "Determining Lock Time" algorithm, PSBT_IN_PREVIOUS_TXID /
// OUTPUT_INDEX / SEQUENCE (default 0xffffffff) and PSBT_OUT_AMOUNT / SCRIPT,
// then re-emits every other field unchanged under the v0 layout.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

var psbtMagic = []byte{0x70, 0x73, 0x62, 0x74, 0xff}

// Key types used by the framing checker (BIP-174, BIP-370, BIP-371).
const (
	globalUnsignedTx    = 0x00
	globalXPub          = 0x01
	globalTxVersion     = 0x02
	globalFallbackLock  = 0x03
	globalInputCount    = 0x04
	globalOutputCount   = 0x05
	globalTxModifiable  = 0x06
	globalVersion       = 0xFB
	keyProprietary      = 0xFC
	inNonWitnessUtxo    = 0x00
	inWitnessUtxo       = 0x01
	inPartialSig        = 0x02
	inSighashType       = 0x03
	inRedeemScript      = 0x04
	inWitnessScript     = 0x05
	inBip32Derivation   = 0x06
	inFinalScriptSig    = 0x07
	inFinalScriptWit    = 0x08
	inPORCommitment     = 0x09
	inRipemd160         = 0x0a
	inSha256            = 0x0b
	inHash160           = 0x0c
	inHash256           = 0x0d
	inPreviousTxid      = 0x0e
	inOutputIndex       = 0x0f
	inSequence          = 0x10
	inRequiredTimeLock  = 0x11
	inRequiredHeightLck = 0x12
	inTapFirst          = 0x13 // PSBT_IN_TAP_KEY_SIG
	inTapLast           = 0x1c // through the MuSig2 fields (BIP-373)
	outRedeemScript     = 0x00
	outWitnessScript    = 0x01
	outBip32Derivation  = 0x02
	outAmount           = 0x03
	outScript           = 0x04
	outTapInternalKey   = 0x05
	outTapTree          = 0x06
	outTapBip32Deriv    = 0x07
	lockTimeThreshold   = 500000000
	maxSatoshi          = 21_000_000 * 100_000_000
)

type kv struct {
	keyType uint64
	keyData []byte
	value   []byte
	rawKey  []byte
}

type rawMap struct {
	name  string
	pairs []kv
}

func (m *rawMap) get(t uint64) (kv, bool) {
	for _, p := range m.pairs {
		if p.keyType == t {
			return p, true
		}
	}
	return kv{}, false
}

func (m *rawMap) has(t uint64) bool { _, ok := m.get(t); return ok }

// rawPSBT is a PSBT whose framing and field shapes passed the strict checks.
type rawPSBT struct {
	version uint32
	global  rawMap
	inputs  []rawMap
	outputs []rawMap
	// tx is the unsigned transaction: from PSBT_GLOBAL_UNSIGNED_TX (v0) or
	// constructed from the v2 fields.
	tx *wire.MsgTx
	// taproot[i] reports whether input i carries any taproot (BIP-371/373) field.
	taproot []bool
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) bytes(n uint64) ([]byte, error) {
	if n > uint64(r.remaining()) {
		return nil, fmt.Errorf("%w: length %d exceeds the %d bytes left", ErrMalformed, n, r.remaining())
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

// compact reads a canonical (minimally encoded) CompactSize.
func (r *reader) compact() (uint64, error) {
	h, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	var v, min uint64
	switch h[0] {
	case 0xfd:
		b, err := r.bytes(2)
		if err != nil {
			return 0, err
		}
		v, min = uint64(binary.LittleEndian.Uint16(b)), 0xfd
	case 0xfe:
		b, err := r.bytes(4)
		if err != nil {
			return 0, err
		}
		v, min = uint64(binary.LittleEndian.Uint32(b)), 0x10000
	case 0xff:
		b, err := r.bytes(8)
		if err != nil {
			return 0, err
		}
		v, min = binary.LittleEndian.Uint64(b), 0x100000000
	default:
		return uint64(h[0]), nil
	}
	if v < min {
		return 0, fmt.Errorf("%w: non-canonical compact size", ErrMalformed)
	}
	return v, nil
}

// decodePayload turns a base64 or binary payload into PSBT bytes. The size
// cap applies to the payload as given, before any decoding.
func decodePayload(payload []byte, maxBytes int) ([]byte, error) {
	if len(payload) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, len(payload), maxBytes)
	}
	if bytes.HasPrefix(payload, psbtMagic) {
		return payload, nil
	}
	text := strings.TrimSpace(string(payload))
	if text == "" {
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: neither binary PSBT (magic) nor base64: %v", ErrMalformed, err)
	}
	if !bytes.HasPrefix(raw, psbtMagic) {
		return nil, fmt.Errorf("%w: missing magic bytes \"psbt\\xff\"", ErrMalformed)
	}
	return raw, nil
}

func readMap(r *reader, name string) (rawMap, error) {
	m := rawMap{name: name}
	seen := map[string]bool{}
	for {
		klen, err := r.compact()
		if err != nil {
			return m, fmt.Errorf("%s: key length: %w", name, err)
		}
		if klen == 0 {
			return m, nil
		}
		key, err := r.bytes(klen)
		if err != nil {
			return m, fmt.Errorf("%s: key: %w", name, err)
		}
		kr := &reader{b: key}
		kt, err := kr.compact()
		if err != nil {
			return m, fmt.Errorf("%s: key type: %w", name, err)
		}
		vlen, err := r.compact()
		if err != nil {
			return m, fmt.Errorf("%s key type 0x%02x: value length: %w", name, kt, err)
		}
		val, err := r.bytes(vlen)
		if err != nil {
			return m, fmt.Errorf("%s key type 0x%02x: value: %w", name, kt, err)
		}
		if seen[string(key)] {
			return m, &FieldError{Map: name, KeyType: kt, Err: ErrDuplicateKey}
		}
		seen[string(key)] = true
		m.pairs = append(m.pairs, kv{keyType: kt, keyData: key[kr.off:], value: val, rawKey: key})
	}
}

func fieldErr(m *rawMap, p kv, format string, args ...any) error {
	return &FieldError{Map: m.name, KeyType: p.keyType, Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)}
}

func versionErr(m *rawMap, p kv, format string, args ...any) error {
	return &FieldError{Map: m.name, KeyType: p.keyType, Err: fmt.Errorf("%w: "+format, append([]any{ErrVersion}, args...)...)}
}

func wantEmptyKey(m *rawMap, p kv) error {
	if len(p.keyData) != 0 {
		return fieldErr(m, p, "key data must be empty, got %d bytes", len(p.keyData))
	}
	return nil
}

func wantLen(m *rawMap, p kv, n int) error {
	if err := wantEmptyKey(m, p); err != nil {
		return err
	}
	if len(p.value) != n {
		return fieldErr(m, p, "value has %d bytes, want %d", len(p.value), n)
	}
	return nil
}

func wantPubKey(m *rawMap, p kv) error {
	if len(p.keyData) != 33 && len(p.keyData) != 65 {
		return fieldErr(m, p, "public key in key data has %d bytes, want 33 or 65", len(p.keyData))
	}
	if _, err := btcec.ParsePubKey(p.keyData); err != nil {
		return fieldErr(m, p, "public key in key data is not on secp256k1")
	}
	return nil
}

func wantDerivation(m *rawMap, p kv) error {
	if len(p.value) < 4 || len(p.value)%4 != 0 {
		return fieldErr(m, p, "derivation path has %d bytes, want 4+4n", len(p.value))
	}
	return nil
}

// scanTx walks a transaction serialization and checks every count and
// length against the bytes actually present, so that btcd's wire decoder,
// which allocates from the declared counts (up to ~800k inputs or 4M witness
// items) before reading, is only ever given well-formed input.
func scanTx(b []byte, witness bool) error {
	r := &reader{b: b}
	if _, err := r.bytes(4); err != nil {
		return err
	}
	hasWitness := false
	if witness && r.remaining() >= 2 && b[r.off] == 0x00 {
		if b[r.off+1] != 0x01 {
			return fmt.Errorf("witness flag 0x%02x, want 0x01", b[r.off+1])
		}
		r.off += 2
		hasWitness = true
	}
	nIn, err := r.compact()
	if err != nil {
		return err
	}
	if nIn > uint64(r.remaining()/41) {
		return fmt.Errorf("%d inputs announced, only %d bytes left", nIn, r.remaining())
	}
	for range nIn {
		if _, err := r.bytes(36); err != nil {
			return err
		}
		n, err := r.compact()
		if err != nil {
			return err
		}
		if _, err := r.bytes(n + 4); err != nil {
			return err
		}
	}
	nOut, err := r.compact()
	if err != nil {
		return err
	}
	if nOut > uint64(r.remaining()/9) {
		return fmt.Errorf("%d outputs announced, only %d bytes left", nOut, r.remaining())
	}
	for range nOut {
		if _, err := r.bytes(8); err != nil {
			return err
		}
		n, err := r.compact()
		if err != nil {
			return err
		}
		if _, err := r.bytes(n); err != nil {
			return err
		}
	}
	if hasWitness {
		for range nIn {
			items, err := r.compact()
			if err != nil {
				return err
			}
			if items > uint64(r.remaining()) {
				return fmt.Errorf("%d witness items announced, only %d bytes left", items, r.remaining())
			}
			for range items {
				n, err := r.compact()
				if err != nil {
					return err
				}
				if _, err := r.bytes(n); err != nil {
					return err
				}
			}
		}
	}
	if _, err := r.bytes(4); err != nil {
		return err
	}
	if r.remaining() != 0 {
		return fmt.Errorf("%d trailing bytes after the transaction", r.remaining())
	}
	return nil
}

func parseTxExact(b []byte, witness bool) (*wire.MsgTx, error) {
	if err := scanTx(b, witness); err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	rd := bytes.NewReader(b)
	var err error
	if witness {
		err = tx.Deserialize(rd)
	} else {
		err = tx.DeserializeNoWitness(rd)
	}
	if err != nil {
		return nil, err
	}
	if rd.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the transaction", rd.Len())
	}
	return tx, nil
}

func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// parseRaw runs every framing and shape check and returns the PSBT maps with
// the unsigned transaction. It never panics on any input.
func parseRaw(b []byte) (*rawPSBT, error) {
	if !bytes.HasPrefix(b, psbtMagic) {
		return nil, fmt.Errorf("%w: missing magic bytes", ErrMalformed)
	}
	r := &reader{b: b, off: len(psbtMagic)}
	g, err := readMap(r, "global")
	if err != nil {
		return nil, err
	}
	p := &rawPSBT{global: g}
	if v, ok := g.get(globalVersion); ok {
		if err := wantLen(&g, v, 4); err != nil {
			return nil, err
		}
		p.version = u32(v.value)
		if p.version != 0 && p.version != 2 {
			return nil, versionErr(&g, v, "PSBT version %d is not supported (0 or 2)", p.version)
		}
	}
	var nIn, nOut uint64
	for _, f := range g.pairs {
		switch f.keyType {
		case globalUnsignedTx:
			if p.version == 2 {
				return nil, versionErr(&g, f, "PSBT_GLOBAL_UNSIGNED_TX is forbidden in PSBTv2")
			}
			if err := wantEmptyKey(&g, f); err != nil {
				return nil, err
			}
			tx, err := parseTxExact(f.value, false)
			if err != nil {
				return nil, fieldErr(&g, f, "unsigned transaction (non-witness serialization): %v", err)
			}
			for i, in := range tx.TxIn {
				if len(in.SignatureScript) != 0 || len(in.Witness) != 0 {
					return nil, fieldErr(&g, f, "unsigned transaction input %d has a scriptSig", i)
				}
			}
			p.tx = tx
		case globalXPub:
			if len(f.keyData) != 78 {
				return nil, fieldErr(&g, f, "extended key has %d bytes, want 78", len(f.keyData))
			}
			if err := wantDerivation(&g, f); err != nil {
				return nil, err
			}
			if depth := int(f.keyData[4]); (len(f.value)-4)/4 != depth {
				return nil, fieldErr(&g, f, "derivation path has %d steps, extended key depth is %d", (len(f.value)-4)/4, depth)
			}
		case globalTxVersion, globalFallbackLock, globalInputCount, globalOutputCount, globalTxModifiable:
			if p.version != 2 {
				return nil, versionErr(&g, f, "field is only allowed in PSBTv2")
			}
			switch f.keyType {
			case globalTxVersion, globalFallbackLock:
				if err := wantLen(&g, f, 4); err != nil {
					return nil, err
				}
			case globalTxModifiable:
				if err := wantLen(&g, f, 1); err != nil {
					return nil, err
				}
			default:
				if err := wantEmptyKey(&g, f); err != nil {
					return nil, err
				}
				vr := &reader{b: f.value}
				n, err := vr.compact()
				if err != nil || vr.remaining() != 0 {
					return nil, fieldErr(&g, f, "count is not a single compact size")
				}
				if f.keyType == globalInputCount {
					nIn = n
				} else {
					nOut = n
				}
			}
		}
	}
	if p.version == 0 {
		if p.tx == nil {
			return nil, fmt.Errorf("%w: global: PSBT_GLOBAL_UNSIGNED_TX is missing", ErrMalformed)
		}
		nIn, nOut = uint64(len(p.tx.TxIn)), uint64(len(p.tx.TxOut))
	} else {
		for _, req := range []struct {
			t    uint64
			name string
		}{{globalTxVersion, "PSBT_GLOBAL_TX_VERSION"}, {globalInputCount, "PSBT_GLOBAL_INPUT_COUNT"}, {globalOutputCount, "PSBT_GLOBAL_OUTPUT_COUNT"}} {
			if !g.has(req.t) {
				return nil, fmt.Errorf("%w: global: PSBTv2 requires %s", ErrVersion, req.name)
			}
		}
	}
	// Every map needs at least its separator byte: refuse counts the
	// remaining bytes cannot hold before allocating anything.
	if nIn+nOut > uint64(r.remaining()) {
		return nil, fmt.Errorf("%w: %d inputs and %d outputs announced, only %d bytes left", ErrMalformed, nIn, nOut, r.remaining())
	}
	p.taproot = make([]bool, nIn)
	for i := range int(nIn) {
		m, err := readMap(r, fmt.Sprintf("input %d", i))
		if err != nil {
			return nil, err
		}
		tap, err := checkInputMap(&m, p.version)
		if err != nil {
			return nil, err
		}
		p.taproot[i] = tap
		p.inputs = append(p.inputs, m)
	}
	for i := range int(nOut) {
		m, err := readMap(r, fmt.Sprintf("output %d", i))
		if err != nil {
			return nil, err
		}
		if err := checkOutputMap(&m, p.version); err != nil {
			return nil, err
		}
		p.outputs = append(p.outputs, m)
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the last output map", ErrMalformed, r.remaining())
	}
	if p.version == 2 {
		tx, err := buildV2Tx(p)
		if err != nil {
			return nil, err
		}
		p.tx = tx
	}
	return p, nil
}

// checkInputMap validates the shape of every known input field and reports
// whether the input carries taproot fields.
func checkInputMap(m *rawMap, version uint32) (taproot bool, err error) {
	for _, f := range m.pairs {
		switch t := f.keyType; {
		case t == inNonWitnessUtxo:
			if err := wantEmptyKey(m, f); err != nil {
				return false, err
			}
			if _, err := parseTxExact(f.value, true); err != nil {
				return false, fieldErr(m, f, "previous transaction: %v", err)
			}
		case t == inWitnessUtxo:
			if err := wantEmptyKey(m, f); err != nil {
				return false, err
			}
			if _, err := parseTxOutExact(f.value); err != nil {
				return false, fieldErr(m, f, "witness utxo: %v", err)
			}
		case t == inPartialSig:
			if err := wantPubKey(m, f); err != nil {
				return false, err
			}
			if len(f.value) < 2 {
				return false, fieldErr(m, f, "signature too short")
			}
			if _, err := ecdsa.ParseDERSignature(f.value[:len(f.value)-1]); err != nil {
				return false, fieldErr(m, f, "signature is not strict DER plus a sighash byte")
			}
		case t == inSighashType:
			if err := wantLen(m, f, 4); err != nil {
				return false, err
			}
		case t == inRedeemScript, t == inWitnessScript, t == inFinalScriptSig, t == inPORCommitment:
			if err := wantEmptyKey(m, f); err != nil {
				return false, err
			}
		case t == inBip32Derivation:
			if err := wantPubKey(m, f); err != nil {
				return false, err
			}
			if err := wantDerivation(m, f); err != nil {
				return false, err
			}
		case t == inFinalScriptWit:
			if err := wantEmptyKey(m, f); err != nil {
				return false, err
			}
			if _, err := parseWitnessExact(f.value); err != nil {
				return false, fieldErr(m, f, "final script witness: %v", err)
			}
		case t == inRipemd160, t == inHash160:
			if len(f.keyData) != 20 {
				return false, fieldErr(m, f, "hash in key data has %d bytes, want 20", len(f.keyData))
			}
		case t == inSha256, t == inHash256:
			if len(f.keyData) != 32 {
				return false, fieldErr(m, f, "hash in key data has %d bytes, want 32", len(f.keyData))
			}
		case t >= inPreviousTxid && t <= inRequiredHeightLck:
			if version != 2 {
				return false, versionErr(m, f, "field is only allowed in PSBTv2")
			}
			n := 4
			if t == inPreviousTxid {
				n = 32
			}
			if err := wantLen(m, f, n); err != nil {
				return false, err
			}
			switch v := u32(f.value); {
			case t == inRequiredTimeLock && v < lockTimeThreshold:
				return false, fieldErr(m, f, "PSBT_IN_REQUIRED_TIME_LOCKTIME %d is below %d", v, lockTimeThreshold)
			case t == inRequiredHeightLck && (v == 0 || v >= lockTimeThreshold):
				return false, fieldErr(m, f, "PSBT_IN_REQUIRED_HEIGHT_LOCKTIME %d is not in 1..%d", v, lockTimeThreshold-1)
			}
		case t >= inTapFirst && t <= inTapLast:
			taproot = true
		}
	}
	if version == 2 {
		if !m.has(inPreviousTxid) {
			return false, fmt.Errorf("%w: %s: PSBTv2 requires PSBT_IN_PREVIOUS_TXID", ErrVersion, m.name)
		}
		if !m.has(inOutputIndex) {
			return false, fmt.Errorf("%w: %s: PSBTv2 requires PSBT_IN_OUTPUT_INDEX", ErrVersion, m.name)
		}
	}
	return taproot, nil
}

func checkOutputMap(m *rawMap, version uint32) error {
	for _, f := range m.pairs {
		switch f.keyType {
		case outRedeemScript, outWitnessScript, outTapTree:
			if err := wantEmptyKey(m, f); err != nil {
				return err
			}
		case outBip32Derivation:
			if err := wantPubKey(m, f); err != nil {
				return err
			}
			if err := wantDerivation(m, f); err != nil {
				return err
			}
		case outAmount, outScript:
			if version != 2 {
				return versionErr(m, f, "field is only allowed in PSBTv2")
			}
			if f.keyType == outAmount {
				if err := wantLen(m, f, 8); err != nil {
					return err
				}
				if a := int64(binary.LittleEndian.Uint64(f.value)); a < 0 || a > maxSatoshi {
					return fieldErr(m, f, "amount %d out of range", a)
				}
			} else if err := wantEmptyKey(m, f); err != nil {
				return err
			}
		case outTapInternalKey:
			if err := wantLen(m, f, 32); err != nil {
				return err
			}
		case outTapBip32Deriv:
			if len(f.keyData) != 32 {
				return fieldErr(m, f, "x-only key has %d bytes, want 32", len(f.keyData))
			}
		}
	}
	if version == 2 {
		if !m.has(outAmount) {
			return fmt.Errorf("%w: %s: PSBTv2 requires PSBT_OUT_AMOUNT", ErrVersion, m.name)
		}
		if !m.has(outScript) {
			return fmt.Errorf("%w: %s: PSBTv2 requires PSBT_OUT_SCRIPT", ErrVersion, m.name)
		}
	}
	return nil
}

func parseTxOutExact(b []byte) (*wire.TxOut, error) {
	if len(b) < 9 {
		return nil, errors.New("too short")
	}
	r := &reader{b: b, off: 8}
	n, err := r.compact()
	if err != nil {
		return nil, err
	}
	script, err := r.bytes(n)
	if err != nil {
		return nil, err
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("%d trailing bytes", r.remaining())
	}
	return wire.NewTxOut(int64(binary.LittleEndian.Uint64(b[:8])), script), nil
}

func parseWitnessExact(b []byte) (wire.TxWitness, error) {
	r := &reader{b: b}
	n, err := r.compact()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) {
		return nil, errors.New("item count exceeds the value size")
	}
	w := make(wire.TxWitness, 0, n)
	for range n {
		l, err := r.compact()
		if err != nil {
			return nil, err
		}
		item, err := r.bytes(l)
		if err != nil {
			return nil, err
		}
		w = append(w, item)
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("%d trailing bytes", r.remaining())
	}
	return w, nil
}

// computeLockTime applies BIP-370 "Determining Lock Time".
func computeLockTime(p *rawPSBT) (uint32, error) {
	var fallback uint32
	if f, ok := p.global.get(globalFallbackLock); ok {
		fallback = u32(f.value)
	}
	heightOK, timeOK, any := true, true, false
	var maxHeight, maxTime uint32
	for i := range p.inputs {
		h, hasH := p.inputs[i].get(inRequiredHeightLck)
		t, hasT := p.inputs[i].get(inRequiredTimeLock)
		if !hasH && !hasT {
			continue
		}
		any = true
		if hasH {
			maxHeight = max(maxHeight, u32(h.value))
		} else {
			heightOK = false
		}
		if hasT {
			maxTime = max(maxTime, u32(t.value))
		} else {
			timeOK = false
		}
	}
	switch {
	case !any:
		return fallback, nil
	case heightOK:
		return maxHeight, nil
	case timeOK:
		return maxTime, nil
	default:
		return 0, ErrLocktime
	}
}

func buildV2Tx(p *rawPSBT) (*wire.MsgTx, error) {
	v, _ := p.global.get(globalTxVersion)
	tx := wire.NewMsgTx(int32(u32(v.value)))
	lt, err := computeLockTime(p)
	if err != nil {
		return nil, err
	}
	tx.LockTime = lt
	for i := range p.inputs {
		m := &p.inputs[i]
		id, _ := m.get(inPreviousTxid)
		idx, _ := m.get(inOutputIndex)
		h, err := chainhash.NewHash(id.value)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: previous txid: %v", ErrMalformed, m.name, err)
		}
		in := wire.NewTxIn(wire.NewOutPoint(h, u32(idx.value)), nil, nil)
		if s, ok := m.get(inSequence); ok {
			in.Sequence = u32(s.value)
		}
		tx.AddTxIn(in)
	}
	for i := range p.outputs {
		a, _ := p.outputs[i].get(outAmount)
		s, _ := p.outputs[i].get(outScript)
		tx.AddTxOut(wire.NewTxOut(int64(binary.LittleEndian.Uint64(a.value)), s.value))
	}
	return tx, nil
}

func writeCompact(w *bytes.Buffer, n uint64) { _ = wire.WriteVarInt(w, 0, n) }

func writePair(w *bytes.Buffer, key, value []byte) {
	writeCompact(w, uint64(len(key)))
	w.Write(key)
	writeCompact(w, uint64(len(value)))
	w.Write(value)
}

// v0Bytes re-emits the PSBT in the v0 layout (identity for v0 input).
func (p *rawPSBT) v0Bytes(orig []byte) ([]byte, error) {
	if p.version == 0 {
		return orig, nil
	}
	var w bytes.Buffer
	w.Write(psbtMagic)
	var txb bytes.Buffer
	if err := p.tx.SerializeNoWitness(&txb); err != nil {
		return nil, err
	}
	writePair(&w, []byte{globalUnsignedTx}, txb.Bytes())
	for _, f := range p.global.pairs {
		switch f.keyType {
		case globalTxVersion, globalFallbackLock, globalInputCount, globalOutputCount, globalTxModifiable, globalVersion:
			continue
		}
		writePair(&w, f.rawKey, f.value)
	}
	w.WriteByte(0)
	for _, m := range p.inputs {
		for _, f := range m.pairs {
			if f.keyType >= inPreviousTxid && f.keyType <= inRequiredHeightLck {
				continue
			}
			writePair(&w, f.rawKey, f.value)
		}
		w.WriteByte(0)
	}
	for _, m := range p.outputs {
		for _, f := range m.pairs {
			if f.keyType == outAmount || f.keyType == outScript {
				continue
			}
			writePair(&w, f.rawKey, f.value)
		}
		w.WriteByte(0)
	}
	return w.Bytes(), nil
}

// decodePSBT is the one entry point for untrusted PSBT bytes: size cap,
// base64/binary, strict framing, v2→v0 conversion, then btcd's parser.
func decodePSBT(payload []byte, maxBytes int) (*psbt.Packet, *rawPSBT, error) {
	raw, err := decodePayload(payload, maxBytes)
	if err != nil {
		return nil, nil, err
	}
	rp, err := parseRaw(raw)
	if err != nil {
		return nil, nil, err
	}
	v0, err := rp.v0Bytes(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: convert PSBTv2 to v0: %v", ErrMalformed, err)
	}
	pkt, err := psbt.NewFromRawBytes(bytes.NewReader(v0), false)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(pkt.Inputs) != len(rp.inputs) || len(pkt.Outputs) != len(rp.outputs) {
		return nil, nil, fmt.Errorf("%w: map counts disagree after parsing", ErrMalformed)
	}
	return pkt, rp, nil
}

// DefaultMaxPSBTBytes is the payload size cap when Config.MaxPSBTBytes is zero.
const DefaultMaxPSBTBytes = 4 << 20
