package btc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/hsmtest"
)

const testNet = chain.BTCRegtest

var fundCounter uint32

// fund returns a raw previous transaction paying amount to script at output
// 1 (output 0 goes elsewhere) and the outpoint "txid:1".
func fund(t testing.TB, script []byte, amount int64) ([]byte, string) {
	t.Helper()
	fundCounter++
	var seed [4]byte
	binary.LittleEndian.PutUint32(seed[:], fundCounter)
	prev := chainhash.Hash(sha256.Sum256(seed[:]))
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prev, 0), []byte{0x51}, nil))
	tx.AddTxOut(wire.NewTxOut(12345, p2wpkhScript(foreignPub(t))))
	tx.AddTxOut(wire.NewTxOut(amount, script))
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), tx.TxHash().String() + ":1"
}

func foreignPub(t testing.TB) []byte {
	t.Helper()
	k, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PubKey().SerializeCompressed()
}

func foreignAddr(t testing.TB) string {
	t.Helper()
	a, err := P2WPKHAddress(foreignPub(t), testNet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func genKey(t testing.TB, s hsm.KeyGenerator, label string) chain.OwnKey {
	t.Helper()
	info, err := s.GenerateKey(context.Background(), hsm.GenerateKeyRequest{Label: label})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return chain.OwnKey{Ref: info.Ref, PublicKey: info.PublicKey}
}

func mustAdapter(t testing.TB, cfg Config) *Adapter {
	t.Helper()
	if cfg.Network == "" {
		cfg.Network = testNet
	}
	a, err := NewAdapter(cfg)
	if err != nil {
		t.Fatalf("NewAdapter: %v", err)
	}
	return a
}

func scriptFor(t testing.TB, kind string, pub []byte) []byte {
	switch kind {
	case ScriptP2WPKH:
		return p2wpkhScript(pub)
	case ScriptP2SHP2WPKH:
		return p2shScript(p2wpkhScript(pub))
	case ScriptP2PKH:
		return p2pkhScript(pub)
	}
	t.Fatalf("unknown kind %s", kind)
	return nil
}

func utxoFor(t testing.TB, kind string, pub []byte, amount int64) UTXO {
	raw, op := fund(t, scriptFor(t, kind, pub), amount)
	return UTXO{Outpoint: op, Amount: amount, PrevTx: raw, KeyPubKey: pub}
}

// signPSBT parses, signs every item with signer and attaches.
func signPSBT(t testing.TB, a *Adapter, signer hsm.Signer, p []byte) ([]byte, chain.Summary) {
	t.Helper()
	tx, err := a.Parse(p)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out, err := chain.SignBatch(context.Background(), signer, []chain.Tx{tx}, 2, nil)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return out[0], tx.Summary()
}

// verifyRawTx runs the script engine over every input of a final tx.
func verifyRawTx(t testing.TB, raw []byte, prevs map[wire.OutPoint]*wire.TxOut) {
	t.Helper()
	tx, err := parseTxExact(raw, true)
	if err != nil {
		t.Fatalf("final tx: %v", err)
	}
	f := txscript.NewMultiPrevOutFetcher(prevs)
	h := txscript.NewTxSigHashes(tx, f)
	for i, in := range tx.TxIn {
		prev := prevs[in.PreviousOutPoint]
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, nil, h, prev.Value, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := vm.Execute(); err != nil {
			t.Fatalf("input %d does not verify: %v", i, err)
		}
	}
}

func prevOutsOf(t testing.TB, p []byte) map[wire.OutPoint]*wire.TxOut {
	pkt, _, err := decodePSBT(p, DefaultMaxPSBTBytes)
	if err != nil {
		t.Fatal(err)
	}
	m := map[wire.OutPoint]*wire.TxOut{}
	for i, in := range pkt.UnsignedTx.TxIn {
		prev, _, err := prevOutFromPSBT(pkt, i)
		if err != nil || prev == nil {
			t.Fatalf("prevout %d: %v", i, err)
		}
		m[in.PreviousOutPoint] = prev
	}
	return m
}

func mutate(t testing.TB, p []byte, f func(*psbt.Packet)) []byte {
	t.Helper()
	pkt, err := psbt.NewFromRawBytes(bytes.NewReader(p), false)
	if err != nil {
		t.Fatal(err)
	}
	f(pkt)
	var buf bytes.Buffer
	if err := pkt.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSweepSignFinalize(t *testing.T) {
	for _, kind := range []string{ScriptP2WPKH, ScriptP2SHP2WPKH, ScriptP2PKH} {
		t.Run(kind, func(t *testing.T) {
			s := hsmtest.New()
			k1, k2 := genKey(t, s, "k1"), genKey(t, s, "k2")
			a := mustAdapter(t, Config{Keys: []chain.OwnKey{k1, k2}})
			utxos := []UTXO{utxoFor(t, kind, k1.PublicKey, 150_000), utxoFor(t, kind, k2.PublicKey, 250_000)}
			dest := foreignAddr(t)
			ps, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: utxos, Destination: dest, FeeRateSatPerVB: 10})
			if err != nil || len(ps) != 1 {
				t.Fatalf("BuildSweep: %d psbts, %v", len(ps), err)
			}
			signed, sum := signPSBT(t, a, s, ps[0])
			if len(sum.Inputs) != 2 || !sum.Inputs[0].Ours || sum.Inputs[0].Key.String() != k1.Ref.String() || sum.Inputs[1].Key.String() != k2.Ref.String() || sum.Inputs[0].ScriptType != kind {
				t.Fatalf("inputs: %+v", sum.Inputs)
			}
			if len(sum.Outputs) != 1 || sum.Outputs[0].Address != dest || sum.Outputs[0].Change {
				t.Fatalf("outputs: %+v", sum.Outputs)
			}
			out := sum.Outputs[0].Amount.Int64()
			if fee := sum.Fee.Int64(); fee != 400_000-out || fee <= 0 {
				t.Fatalf("fee %d, outputs %d", fee, out)
			}
			if got := sum.FeeRate.Int64(); got < 9_000 || got > 11_000 {
				t.Fatalf("fee rate %d msat/vB, want about 10000", got)
			}
			if len(sum.Consumes) != 2 || sum.Consumes[0] != "btc-regtest/outpoint/"+utxos[0].Outpoint {
				t.Fatalf("consumes %v", sum.Consumes)
			}
			final, raw, err := Finalize(signed)
			if err != nil {
				t.Fatalf("Finalize: %v", err)
			}
			verifyRawTx(t, raw, prevOutsOf(t, signed))
			// The estimate must not undershoot the real size.
			ftx, _ := parseTxExact(raw, true)
			w := int64(ftx.SerializeSizeStripped()*3 + ftx.SerializeSize())
			if real := (w + 3) / 4; sum.VSize < real || sum.VSize > real+4 {
				t.Fatalf("vsize estimate %d, real %d", sum.VSize, real)
			}
			if kind == ScriptP2WPKH && ftx.TxHash().String() != sum.ID {
				t.Fatalf("txid changed: %s vs %s", ftx.TxHash(), sum.ID)
			}
			if len(final) == 0 {
				t.Fatal("empty final psbt")
			}
		})
	}
}

func TestBuildSweepSplits(t *testing.T) {
	s := hsmtest.New()
	k := genKey(t, s, "k")
	var utxos []UTXO
	for range 5 {
		utxos = append(utxos, utxoFor(t, ScriptP2WPKH, k.PublicKey, 100_000))
	}
	ps, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: utxos, Destination: foreignAddr(t), FeeRateSatPerVB: 2, MaxInputsPerTx: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d psbts, want 3", len(ps))
	}
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k}, MaxInputs: 2})
	for i, p := range ps {
		tx, err := a.Parse(p)
		if err != nil {
			t.Fatalf("psbt %d: %v", i, err)
		}
		if n := len(tx.SigningItems()); n != min(2, 5-2*i) {
			t.Fatalf("psbt %d: %d items", i, n)
		}
	}
	all, _ := BuildSweep(SweepRequest{Network: testNet, UTXOs: utxos, Destination: foreignAddr(t), FeeRateSatPerVB: 2})
	if _, err := a.Parse(all[0]); !errors.Is(err, ErrTooManyInputs) {
		t.Fatalf("5 inputs with cap 2: %v", err)
	}
}

func TestPaymentChangeDetection(t *testing.T) {
	s := hsmtest.New()
	k, kc := genKey(t, s, "spend"), genKey(t, s, "change")
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k, kc}})
	foreign := foreignPub(t)
	dest, _ := P2WPKHAddress(foreign, testNet)
	p, err := BuildPayment(PaymentRequest{Network: testNet, UTXOs: []UTXO{utxoFor(t, ScriptP2WPKH, k.PublicKey, 1_000_000)},
		Outputs: []PaymentOutput{{Address: dest, Amount: 300_000}}, FeeRateSatPerVB: 5, ChangePubKey: kc.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	// A hint claiming the foreign output is ours (BIP32 derivation with our
	// key, a witness script) must not make it change.
	hinted := mutate(t, p, func(pkt *psbt.Packet) {
		pkt.Outputs[0].Bip32Derivation = []*psbt.Bip32Derivation{{PubKey: k.PublicKey, MasterKeyFingerprint: 1, Bip32Path: []uint32{0}}}
		pkt.Outputs[0].RedeemScript = p2wpkhScript(k.PublicKey)
	})
	for name, b := range map[string][]byte{"plain": p, "hinted": hinted} {
		tx, err := a.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := tx.Summary()
		if len(sum.Outputs) != 2 {
			t.Fatalf("%s: outputs %+v", name, sum.Outputs)
		}
		if sum.Outputs[0].Change || !sum.Outputs[1].Change {
			t.Fatalf("%s: change flags %v %v, want false true", name, sum.Outputs[0].Change, sum.Outputs[1].Change)
		}
		fee := 1_000_000 - 300_000 - sum.Outputs[1].Amount.Int64()
		if sum.Fee.Int64() != fee || fee <= 0 {
			t.Fatalf("%s: fee %s, want %d", name, sum.Fee, fee)
		}
		if tot := sum.Totals()[chain.AssetBTC]; tot.Cmp(big.NewInt(300_000)) != 0 {
			t.Fatalf("%s: total leaving %s", name, tot)
		}
	}
	// An adapter that does not hold the change key sees no change.
	b := mustAdapter(t, Config{Keys: []chain.OwnKey{k}})
	tx, err := b.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Summary().Outputs[1].Change {
		t.Fatal("output to a key outside the manifest counted as change")
	}
}

func TestRefusals(t *testing.T) {
	s := hsmtest.New()
	k := genKey(t, s, "k")
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k}})
	good := utxoFor(t, ScriptP2WPKH, k.PublicKey, 500_000)
	other := utxoFor(t, ScriptP2WPKH, k.PublicKey, 700_000)
	ps, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{good}, Destination: foreignAddr(t), FeeRateSatPerVB: 3})
	if err != nil {
		t.Fatal(err)
	}
	base := ps[0]
	otherTx, _ := parseTxExact(other.PrevTx, true)
	master, err := hdkeychain.NewMaster(bytes.Repeat([]byte{1}, 32), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	xpub, _ := master.Neuter()
	mainnetXpub := psbt.EncodeExtendedKey(xpub)
	foreignKeyPSBT, _ := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{utxoFor(t, ScriptP2WPKH, foreignPub(t), 90_000)}, Destination: foreignAddr(t), FeeRateSatPerVB: 1})

	tests := []struct {
		name    string
		payload []byte
		want    error
		index   int // input index named in the error, -1 for none
	}{
		{"expfail_missing_prev_tx", mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].NonWitnessUtxo = nil }), ErrMissingPrevTx, 0},
		{"expfail_prev_tx_of_other_outpoint", mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].NonWitnessUtxo = otherTx; p.Inputs[0].WitnessUtxo = nil }), ErrPrevTxMismatch, 0},
		{"expfail_faked_witness_amount", mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].WitnessUtxo.Value = 1_000 }), ErrPrevTxMismatch, 0},
		{"expfail_taproot_fields", mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].TaprootInternalKey = bytes.Repeat([]byte{2}, 32) }), ErrTaproot, 0},
		{"expfail_sighash_none", mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].SighashType = txscript.SigHashNone }), ErrSighashNotAllowed, 0},
		{"expfail_sighash_all_anyonecanpay", mutate(t, base, func(p *psbt.Packet) {
			p.Inputs[0].SighashType = txscript.SigHashAll | txscript.SigHashAnyOneCanPay
		}), ErrSighashNotAllowed, 0},
		{"expfail_mainnet_xpub", mutate(t, base, func(p *psbt.Packet) {
			p.XPubs = []psbt.XPub{{ExtendedKey: mainnetXpub, MasterKeyFingerprint: 1}}
		}), ErrNetwork, -1},
		{"expfail_outputs_exceed_inputs", mutate(t, base, func(p *psbt.Packet) { p.UnsignedTx.TxOut[0].Value = 600_000 }), ErrNegativeFee, -1},
		{"expfail_nonstandard_output", mutate(t, base, func(p *psbt.Packet) { p.UnsignedTx.TxOut[0].PkScript = []byte{txscript.OP_TRUE} }), ErrNonStandardOutput, -1},
		{"expfail_duplicate_input", mutate(t, base, func(p *psbt.Packet) {
			p.UnsignedTx.TxIn = append(p.UnsignedTx.TxIn, p.UnsignedTx.TxIn[0])
			p.Inputs = append(p.Inputs, p.Inputs[0])
		}), ErrDuplicateInput, 1},
		{"expfail_nothing_to_sign", foreignKeyPSBT[0], ErrNothingToSign, -1},
		{"expfail_oversize", append(bytes.Clone(base), make([]byte, DefaultMaxPSBTBytes)...), ErrTooLarge, -1},
		{"expfail_trailing_bytes", append(bytes.Clone(base), 0), ErrMalformed, -1},
		{"expfail_not_psbt", []byte("hello"), ErrMalformed, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Parse(tc.payload)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ie *InputError
			if tc.index >= 0 && (!errors.As(err, &ie) || ie.Index != tc.index) {
				t.Fatalf("error %q does not name input %d", err, tc.index)
			}
			t.Log(err)
		})
	}
	// A witness-v1 (taproot) spent output is refused too.
	tr := append([]byte{txscript.OP_1, 32}, bytes.Repeat([]byte{7}, 32)...)
	raw, op := fund(t, tr, 50_000)
	prev, _ := parseTxExact(raw, true)
	outp, _ := parseOutpoint(op)
	taproot := mutate(t, base, func(p *psbt.Packet) {
		p.UnsignedTx.TxIn = append(p.UnsignedTx.TxIn, wire.NewTxIn(&outp, nil, nil))
		p.Inputs = append(p.Inputs, psbt.PInput{NonWitnessUtxo: prev})
	})
	if _, err := a.Parse(taproot); !errors.Is(err, ErrTaproot) || !strings.Contains(err.Error(), "input 1") {
		t.Fatalf("taproot prevout: %v", err)
	}
	// With SIGHASH_NONE explicitly allowed, the same PSBT parses.
	none := mutate(t, base, func(p *psbt.Packet) { p.Inputs[0].SighashType = txscript.SigHashNone })
	b := mustAdapter(t, Config{Keys: []chain.OwnKey{k}, AllowedSighash: []txscript.SigHashType{txscript.SigHashAll, txscript.SigHashNone}})
	if _, err := b.Parse(none); err != nil {
		t.Fatalf("allowed SIGHASH_NONE refused: %v", err)
	}
	// Wrong-network destinations are refused by the builder.
	mainAddr, _ := P2WPKHAddress(foreignPub(t), chain.BTCMainnet)
	if _, err := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{good}, Destination: mainAddr, FeeRateSatPerVB: 1}); !errors.Is(err, ErrNetwork) {
		t.Fatalf("mainnet destination on regtest: %v", err)
	}
	// Output addresses are rendered for the adapter's network.
	mainAdapter := mustAdapter(t, Config{Network: chain.BTCMainnet, Keys: []chain.OwnKey{k}})
	tx, err := mainAdapter.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if addr := tx.Summary().Outputs[0].Address; !strings.HasPrefix(addr, "bc1") {
		t.Fatalf("mainnet adapter rendered %s", addr)
	}
}

func TestOversizeRefusedBeforeParsing(t *testing.T) {
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{{Ref: hsm.KeyRef{Label: "k"}, PublicKey: foreignPub(t)}}, MaxPSBTBytes: 100})
	// 101 bytes of garbage: a parser would say "malformed"; the cap says "too large".
	_, err := a.Parse(bytes.Repeat([]byte{0xff}, 101))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if _, err := a.Parse(bytes.Repeat([]byte{0xff}, 100)); errors.Is(err, ErrTooLarge) {
		t.Fatalf("100 bytes is within the cap: %v", err)
	}
}

func TestAttachRefusesBadSignatureWithoutMutating(t *testing.T) {
	s := hsmtest.New()
	k := genKey(t, s, "k")
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k}})
	ps, _ := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{utxoFor(t, ScriptP2WPKH, k.PublicKey, 80_000)}, Destination: foreignAddr(t), FeeRateSatPerVB: 1})
	tx, err := a.Parse(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	items := tx.SigningItems()
	if _, err := tx.Attach(nil); !errors.Is(err, ErrSignatureCount) {
		t.Fatalf("no signatures: %v", err)
	}
	wrong := items[0].Digest
	wrong[0] ^= 1
	bad, _ := s.SignDigest(context.Background(), k.Ref, wrong)
	if _, err := tx.Attach([]hsm.Signature{bad}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("signature over another digest: %v", err)
	}
	good, _ := s.SignDigest(context.Background(), k.Ref, items[0].Digest)
	// High-S variant of a good signature is normalised, not refused.
	var sc btcec.ModNScalar
	sc.SetBytes(&good.S)
	sc.Negate()
	high := good
	high.S = sc.Bytes()
	for _, sig := range []hsm.Signature{good, high} {
		signed, err := tx.Attach([]hsm.Signature{sig})
		if err != nil {
			t.Fatalf("attach after a failed attempt: %v", err)
		}
		if _, raw, err := Finalize(signed); err != nil {
			t.Fatal(err)
		} else {
			verifyRawTx(t, raw, prevOutsOf(t, signed))
		}
	}
	if _, _, err := Finalize(ps[0]); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "input 0") {
		t.Fatalf("finalize unsigned: %v", err)
	}
}

func TestMultisigThreeCosignersFake(t *testing.T) {
	signers := []*hsmtest.Signer{hsmtest.New(), hsmtest.New(), hsmtest.New()}
	var keys []chain.OwnKey
	for i, s := range signers {
		keys = append(keys, genKey(t, s, "cosigner"+string(rune('a'+i))))
	}
	runMultisig(t, []hsm.Signer{signers[0], signers[1], signers[2]}, keys)
}

// runMultisig: 2-of-3 P2WSH; each cosigner's adapter knows only its own key
// and the multisig set. Cosigner 0 and 2 sign separate copies, Combine,
// Finalize; cosigner 1's signature alone is incomplete.
func runMultisig(t *testing.T, signers []hsm.Signer, keys []chain.OwnKey) {
	t.Helper()
	ms := MultisigWallet{Threshold: 2, PubKeys: [][]byte{keys[0].PublicKey, keys[1].PublicKey, keys[2].PublicKey}}
	ws, err := ms.WitnessScript()
	if err != nil {
		t.Fatal(err)
	}
	raw1, op1 := fund(t, p2wshScript(ws), 3_000_000)
	raw2, op2 := fund(t, p2wshScript(ws), 2_000_000)
	changeAddr, err := ms.Address(testNet)
	if err != nil {
		t.Fatal(err)
	}
	// Payment with change back to the multisig: build with a P2WPKH change
	// key, then swap the change script for the multisig's (builder change is P2WPKH only).
	p, err := BuildPayment(PaymentRequest{Network: testNet, FeeRateSatPerVB: 4, ChangePubKey: foreignPub(t),
		UTXOs:   []UTXO{{Outpoint: op1, Amount: 3_000_000, PrevTx: raw1, Multisig: &ms}, {Outpoint: op2, Amount: 2_000_000, PrevTx: raw2, Multisig: &ms}},
		Outputs: []PaymentOutput{{Address: foreignAddr(t), Amount: 1_500_000}}})
	if err != nil {
		t.Fatal(err)
	}
	p = mutate(t, p, func(pkt *psbt.Packet) {
		pkt.UnsignedTx.TxOut[1].PkScript = p2wshScript(ws)
		// Strip the witness script from input 1: the adapters must find it from their config.
		pkt.Inputs[1].WitnessScript = nil
	})
	var copies [][]byte
	for i := range signers {
		a := mustAdapter(t, Config{Keys: []chain.OwnKey{keys[i]}, Multisig: []MultisigWallet{ms}})
		tx, err := a.Parse(p)
		if err != nil {
			t.Fatalf("cosigner %d parse: %v", i, err)
		}
		sum := tx.Summary()
		if !sum.Inputs[0].Ours || !sum.Inputs[1].Ours || sum.Inputs[0].ScriptType != ScriptP2WSHMultisig {
			t.Fatalf("cosigner %d inputs %+v", i, sum.Inputs)
		}
		if sum.Outputs[0].Change || !sum.Outputs[1].Change || sum.Outputs[1].Address != changeAddr {
			t.Fatalf("cosigner %d: change flags wrong: %+v", i, sum.Outputs)
		}
		if n := len(tx.SigningItems()); n != 2 {
			t.Fatalf("cosigner %d: %d items, want 2", i, n)
		}
		signed, err := chain.SignBatch(context.Background(), signers[i], []chain.Tx{tx}, 1, nil)
		if err != nil {
			t.Fatalf("cosigner %d attach: %v", i, err)
		}
		copies = append(copies, signed[0])
		if _, _, err := Finalize(signed[0]); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "1 of 2") {
			t.Fatalf("one cosigner finalize: %v", err)
		}
	}
	// Sequential: cosigner 1 signs the PSBT cosigner 0 already signed; the
	// other cosigner's partial signature is kept.
	a1 := mustAdapter(t, Config{Keys: []chain.OwnKey{keys[1]}, Multisig: []MultisigWallet{ms}})
	tx, err := a1.Parse(copies[0])
	if err != nil {
		t.Fatal(err)
	}
	seq, err := chain.SignBatch(context.Background(), signers[1], []chain.Tx{tx}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rawSeq, err := Finalize(seq[0])
	if err != nil {
		t.Fatalf("sequential finalize: %v", err)
	}
	verifyRawTx(t, rawSeq, prevOutsOf(t, seq[0]))
	// Parallel: combine cosigners 0 and 2.
	comb, err := Combine(copies[0], copies[2])
	if err != nil {
		t.Fatal(err)
	}
	_, rawComb, err := Finalize(comb)
	if err != nil {
		t.Fatalf("combined finalize: %v", err)
	}
	verifyRawTx(t, rawComb, prevOutsOf(t, comb))
	if _, err := Combine(copies[0], mutate(t, copies[2], func(p *psbt.Packet) { p.UnsignedTx.LockTime = 7 })); !errors.Is(err, ErrCombine) {
		t.Fatalf("combine different txs: %v", err)
	}
}

func TestPSBTv2Signing(t *testing.T) {
	s := hsmtest.New()
	k := genKey(t, s, "k")
	a := mustAdapter(t, Config{Keys: []chain.OwnKey{k}})
	ps, _ := BuildSweep(SweepRequest{Network: testNet, UTXOs: []UTXO{utxoFor(t, ScriptP2SHP2WPKH, k.PublicKey, 80_000)}, Destination: foreignAddr(t), FeeRateSatPerVB: 1})
	v2 := toV2(t, ps[0])
	t1, err := a.Parse(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	t2, err := a.Parse(v2)
	if err != nil {
		t.Fatalf("v2: %v", err)
	}
	if t1.Summary().ID != t2.Summary().ID || t1.Summary().ContentHash != t2.Summary().ContentHash {
		t.Fatal("v0 and v2 forms of the same tx decode differently")
	}
	signed, _ := signPSBT(t, a, s, v2)
	if _, raw, err := Finalize(signed); err != nil {
		t.Fatal(err)
	} else {
		verifyRawTx(t, raw, prevOutsOf(t, signed))
	}
}

// toV2 re-encodes a v0 PSBT as v2 (test helper, from the raw maps).
func toV2(t testing.TB, v0 []byte) []byte {
	rp, err := parseRaw(v0)
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	w.Write(psbtMagic)
	le32 := func(v uint32) []byte { b := make([]byte, 4); binary.LittleEndian.PutUint32(b, v); return b }
	le64 := func(v int64) []byte { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, uint64(v)); return b }
	writePair(&w, []byte{globalTxVersion}, le32(uint32(rp.tx.Version)))
	if rp.tx.LockTime != 0 {
		writePair(&w, []byte{globalFallbackLock}, le32(rp.tx.LockTime))
	}
	writePair(&w, []byte{globalInputCount}, []byte{byte(len(rp.tx.TxIn))})
	writePair(&w, []byte{globalOutputCount}, []byte{byte(len(rp.tx.TxOut))})
	writePair(&w, []byte{globalVersion}, le32(2))
	w.WriteByte(0)
	for i, m := range rp.inputs {
		for _, f := range m.pairs {
			writePair(&w, f.rawKey, f.value)
		}
		in := rp.tx.TxIn[i]
		writePair(&w, []byte{inPreviousTxid}, in.PreviousOutPoint.Hash[:])
		writePair(&w, []byte{inOutputIndex}, le32(in.PreviousOutPoint.Index))
		writePair(&w, []byte{inSequence}, le32(in.Sequence))
		w.WriteByte(0)
	}
	for i, m := range rp.outputs {
		for _, f := range m.pairs {
			writePair(&w, f.rawKey, f.value)
		}
		writePair(&w, []byte{outAmount}, le64(rp.tx.TxOut[i].Value))
		var sb bytes.Buffer
		sb.Write(rp.tx.TxOut[i].PkScript)
		writePair(&w, []byte{outScript}, sb.Bytes())
		w.WriteByte(0)
	}
	return w.Bytes()
}
