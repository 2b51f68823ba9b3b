package eth

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/hsmtest"
)

const (
	privA = "0x4646464646464646464646464646464646464646464646464646464646464646"
	privB = "0x0101010101010101010101010101010101010101010101010101010101010101"
	addrA = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
	addrB = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
	addrX = "0x3535353535353535353535353535353535353535"
	token = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
)

// fixture is the test setup shared by the table tests: network eth-1337,
// our keys A and B in an in-memory signer.
type fixture struct {
	signer *hsmtest.Signer
	a      *Adapter
	keyA   chain.OwnKey
}

func newFixture(t testing.TB) fixture {
	s := hsmtest.New()
	ka, a := fakeKey(t, s, "a", mustHex(t, privA))
	kb, b := fakeKey(t, s, "b", mustHex(t, privB))
	if a != addrA || b != addrB {
		t.Fatalf("addresses %s %s", a, b)
	}
	return fixture{signer: s, a: newAdapter(t, "eth-1337", ka, kb), keyA: ka}
}

func TestJSONFixtures(t *testing.T) {
	f := newFixture(t)
	type want struct {
		err     error
		kind    chain.TxKind
		outputs []chain.Output
		check   func(t *testing.T, s chain.Summary)
	}
	eth := func(s string) *big.Int { return decBig(t, s) }
	table := map[string]want{
		"ok_eip1559_transfer.json": {kind: chain.KindTransfer, outputs: []chain.Output{{Address: addrX, Asset: chain.AssetETH, Amount: eth("1000000000000000000")}},
			check: func(t *testing.T, s chain.Summary) {
				if s.Fee.Cmp(eth("42000000000000")) != 0 || s.FeeRate.Int64() != 2000000000 || s.MaxPriorityFeePerGas.Int64() != 1000000000 || s.Nonce != 7 || s.TxType != "eip1559" || s.GasLimit != 21000 {
					t.Fatalf("fee fields %+v", s)
				}
				if s.Consumes[0] != "eth-1337/nonce/"+strings.ToLower(addrA)+"/7" {
					t.Fatalf("consumes %v", s.Consumes)
				}
			}},
		"ok_eip1559_change.json":  {kind: chain.KindTransfer, outputs: []chain.Output{{Address: addrB, Asset: chain.AssetETH, Amount: big.NewInt(1), Change: true}}},
		"ok_legacy_transfer.json": {kind: chain.KindTransfer, outputs: []chain.Output{{Address: addrX, Asset: chain.AssetETH, Amount: eth("1000000000000000000")}}},
		"ok_eip2930_accesslist.json": {kind: chain.KindContractCall, check: func(t *testing.T, s chain.Summary) {
			if len(s.Outputs) != 0 || !bytes.Equal(s.Data, []byte{0xde, 0xad, 0xbe, 0xef}) || s.TxType != "eip2930" {
				t.Fatalf("summary %+v", s)
			}
		}},
		"ok_erc20_transfer.json": {kind: chain.KindTokenTransfer, outputs: []chain.Output{{Address: addrX, Asset: chain.ERC20(token), Amount: big.NewInt(1000000000)}},
			check: func(t *testing.T, s chain.Summary) {
				if s.To != token {
					t.Fatalf("to %s", s.To)
				}
			}},
		"ok_erc20_approve.json": {kind: chain.KindTokenApprove, check: func(t *testing.T, s chain.Summary) {
			if len(s.Outputs) != 0 || s.Approval == nil || s.Approval.Address != addrX || s.Approval.Amount.Cmp(maxUint256) != 0 || s.Approval.Asset != chain.ERC20(token) {
				t.Fatalf("approval %+v outputs %v", s.Approval, s.Outputs)
			}
		}},
		"ok_erc20_transferfrom_to_us.json": {kind: chain.KindTokenTransfer, outputs: []chain.Output{{Address: addrB, Asset: chain.ERC20(token), Amount: big.NewInt(5), Change: true}}},
		"ok_contract_call.json":            {kind: chain.KindContractCall, outputs: []chain.Output{{Address: token, Asset: chain.AssetETH, Amount: big.NewInt(16)}}},

		"expfail_unknown_field.json":            {err: ErrUnknownField},
		"expfail_key_case.json":                 {err: ErrUnknownField},
		"expfail_duplicate_key.json":            {err: ErrDuplicateField},
		"expfail_number_quantity.json":          {err: ErrMalformed},
		"expfail_float_value.json":              {err: ErrMalformed},
		"expfail_leading_zero.json":             {err: ErrMalformed},
		"expfail_trailing_data.json":            {err: ErrTrailingBytes},
		"expfail_wrong_chain.json":              {err: ErrChainID},
		"expfail_missing_chain.json":            {err: ErrChainID},
		"expfail_unknown_sender.json":           {err: ErrUnknownSender},
		"expfail_contract_creation.json":        {err: ErrContractCreation},
		"expfail_blob_type.json":                {err: ErrUnsupportedType},
		"expfail_setcode_type.json":             {err: ErrUnsupportedType},
		"expfail_gasprice_on_1559.json":         {err: ErrUnknownField},
		"expfail_accesslist_on_legacy.json":     {err: ErrUnknownField},
		"expfail_bad_checksum.json":             {err: ErrMalformed},
		"expfail_tip_above_cap.json":            {err: ErrFees},
		"expfail_erc20_short_amount.json":       {err: ErrCalldata},
		"expfail_erc20_value.json":              {err: ErrTokenValue},
		"expfail_unknown_accesslist_field.json": {err: ErrUnknownField},
		"expfail_missing_fee.json":              {err: ErrMalformed},
	}
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) != len(table) {
		t.Fatalf("%d fixtures, %d table entries: every fixture needs an expectation", len(files), len(table))
	}
	for _, path := range files {
		name := filepath.Base(path)
		w, ok := table[name]
		if !ok {
			t.Fatalf("fixture %s has no expectation", name)
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := f.a.Parse(data)
			if strings.HasPrefix(name, "expfail_") {
				wantErr(t, err, w.err)
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := tx.Summary()
			if s.Kind != w.kind || s.Network != "eth-1337" || s.From != addrA || s.ChainID != 1337 {
				t.Fatalf("kind %s network %s from %s", s.Kind, s.Network, s.From)
			}
			if w.outputs != nil && !sameOutputs(s.Outputs, w.outputs) {
				t.Fatalf("outputs %+v, want %+v", s.Outputs, w.outputs)
			}
			if w.check != nil {
				w.check(t, s)
			}
			// The JSON form and its binary payload are the same transaction.
			u, err := ParseJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			bin, err := EncodeUnsigned(u)
			if err != nil {
				t.Fatal(err)
			}
			tx2, err := f.a.Parse(bin)
			if err != nil {
				t.Fatal(err)
			}
			if s2 := tx2.Summary(); s2.ID != s.ID || s2.ContentHash != s.ContentHash {
				t.Fatal("JSON and binary forms differ")
			}
			// EncodeJSON round-trips.
			js, err := EncodeJSON(u)
			if err != nil {
				t.Fatal(err)
			}
			tx3, err := f.a.Parse(js)
			if err != nil {
				t.Fatalf("re-parse %s: %v", js, err)
			}
			if tx3.Summary().ContentHash != s.ContentHash {
				t.Fatal("EncodeJSON changed the transaction")
			}
			// And it signs.
			raw := signOne(t, f.signer, tx)
			d, err := f.a.DecodeSigned(raw)
			if err != nil || d.Sender != addrA || d.Summary.Kind != s.Kind {
				t.Fatalf("decode signed: %v %+v", err, d)
			}
		})
	}
}

func sameOutputs(got, want []chain.Output) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Address != w.Address || g.Asset != w.Asset || g.Change != w.Change || g.Amount.Cmp(w.Amount) != 0 {
			return false
		}
	}
	return true
}

// baseFields is a valid EIP-1559 transfer from A on eth-1337.
func baseUnsigned() UnsignedTx {
	return UnsignedTx{From: addrA, Type: TypeEIP1559, ChainID: 1337, Nonce: 1, To: addrX, Value: big.NewInt(5),
		GasLimit: 21000, MaxFeePerGas: big.NewInt(100), MaxPriorityFeePerGas: big.NewInt(2)}
}

func env(t testing.TB, from string, tx []byte) []byte {
	return must(rlp.EncodeToBytes(&envelope{From: mustHex(t, from), Tx: tx}))
}

func TestBinaryRefusals(t *testing.T) {
	f := newFixture(t)
	good := must(EncodeUnsigned(baseUnsigned()))
	_, goodTx, _ := decodeEnvelope(good)
	legacy := func(fields ...any) []byte { return must(rlp.EncodeToBytes(fields)) }
	to := mustHex(t, addrX)
	withData := func(data string) []byte {
		u := baseUnsigned()
		u.To, u.Value, u.GasLimit, u.Data = token, nil, 60000, mustHex(t, data)
		return must(EncodeUnsigned(u))
	}
	word := func(s string) string { return strings.Repeat("0", 64-len(s)) + s }
	addrWord := word(strings.ToLower(addrX[2:]))
	cases := []struct {
		name    string
		payload []byte
		err     error
		msg     string
	}{
		{"wrong chain id", must(EncodeUnsigned(func() UnsignedTx { u := baseUnsigned(); u.ChainID = 5; return u }())), ErrChainID, "chainId 5 does not match configured network eth-1337"},
		{"legacy wrong chain id", env(t, addrA, legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{}, uint(1), uint(0), uint(0))), ErrChainID, "chainId 1 does not match"},
		{"legacy chain id 0", env(t, addrA, legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{}, uint(0), uint(0), uint(0))), ErrChainID, "chainId is missing"},
		{"pre-155 legacy", env(t, addrA, legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{})), ErrPreEIP155, "pre-EIP-155"},
		{"legacy 7 fields", env(t, addrA, legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{}, uint(1337))), ErrMalformed, "7 fields"},
		{"legacy nonzero tail", env(t, addrA, legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{}, uint(1337), uint(1), uint(0))), ErrMalformed, "chainId, 0, 0"},
		{"unknown sender", env(t, addrX, goodTx), ErrUnknownSender, "from " + addrX},
		{"from 19 bytes", must(rlp.EncodeToBytes(&envelope{From: make([]byte, 19), Tx: goodTx})), ErrMalformed, "from is 19 bytes"},
		{"contract creation", env(t, addrA, append([]byte{2}, must(rlp.EncodeToBytes([]any{uint(1337), uint(0), uint(1), uint(1), uint(100000), []byte{}, uint(0), []byte{0x60}, []any{}}))...)), ErrContractCreation, "contract creation"},
		{"to 19 bytes", env(t, addrA, append([]byte{2}, must(rlp.EncodeToBytes([]any{uint(1337), uint(0), uint(1), uint(1), uint(100000), to[:19], uint(0), []byte{}, []any{}}))...)), ErrMalformed, "to is 19 bytes"},
		{"blob tx", env(t, addrA, append([]byte{3}, goodTx[1:]...)), ErrUnsupportedType, "EIP-4844"},
		{"set-code tx", env(t, addrA, append([]byte{4}, goodTx[1:]...)), ErrUnsupportedType, "EIP-7702"},
		{"unknown type", env(t, addrA, append([]byte{0x05}, goodTx[1:]...)), ErrUnsupportedType, "0x05"},
		{"rlp string instead of tx", env(t, addrA, []byte{0x83, 1, 2, 3}), ErrMalformed, "neither"},
		{"empty tx", env(t, addrA, nil), ErrMalformed, "empty"},
		{"trailing bytes after envelope", append(bytes.Clone(good), 0x00), ErrTrailingBytes, "payload"},
		{"trailing bytes inside typed tx", env(t, addrA, append(bytes.Clone(goodTx), 0xc0)), ErrTrailingBytes, "tx"},
		{"trailing bytes after legacy", env(t, addrA, append(legacy(uint(0), uint(1), uint(21000), to, uint(1), []byte{}, uint(1337), uint(0), uint(0)), 0x80)), ErrTrailingBytes, "after the legacy"},
		{"envelope extra element", must(rlp.EncodeToBytes([]any{mustHex(t, addrA), goodTx, uint(1)})), ErrMalformed, "too many elements"},
		{"envelope not a list", []byte{0x80}, ErrMalformed, "first byte"},
		{"empty payload", nil, ErrMalformed, "empty"},
		{"non-canonical integer", env(t, addrA, append([]byte{2}, must(rlp.EncodeToBytes([]any{uint(1337), []byte{0, 1}, uint(1), uint(1), uint(21000), to, uint(0), []byte{}, []any{}}))...)), ErrMalformed, "non-canonical"},
		{"value above 256 bits", env(t, addrA, append([]byte{2}, must(rlp.EncodeToBytes([]any{uint(1337), uint(0), uint(1), uint(1), uint(21000), to, new(big.Int).Lsh(big.NewInt(1), 256), []byte{}, []any{}}))...)), ErrFees, "256 bits"},
		{"tip above fee cap", env(t, addrA, append([]byte{2}, must(rlp.EncodeToBytes([]any{uint(1337), uint(0), uint(3), uint(2), uint(21000), to, uint(0), []byte{}, []any{}}))...)), ErrFees, "above maxFeePerGas"},
		{"transfer amount 31 bytes", withData("a9059cbb" + addrWord + word("1")[2:]), ErrCalldata, "calldata: transfer amount is 31 bytes"},
		{"transfer no args", withData("a9059cbb"), ErrCalldata, "transfer recipient is 0 bytes"},
		{"transfer trailing", withData("a9059cbb" + addrWord + word("1") + "00"), ErrCalldata, "1 trailing bytes"},
		{"transfer dirty address padding", withData("a9059cbb" + "01" + addrWord[2:] + word("1")), ErrCalldata, "non-zero padding"},
		{"approve short", withData("095ea7b3" + addrWord), ErrCalldata, "approve amount is 0 bytes"},
		{"transferFrom short", withData("23b872dd" + addrWord + addrWord), ErrCalldata, "transferFrom amount"},
		{"transferFrom dirty recipient", withData("23b872dd" + addrWord + "ff" + addrWord[2:] + word("1")), ErrCalldata, "transferFrom recipient"},
		{"oversize", append(bytes.Clone(good), make([]byte, DefaultMaxTxBytes)...), ErrTooLarge, "cap is 131072"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.a.Parse(c.payload)
			wantErr(t, err, c.err)
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

// The size cap applies before decoding: an oversize payload of garbage is
// refused as too large, not as malformed.
func TestSizeCapBeforeDecoding(t *testing.T) {
	a, err := NewAdapter(Config{Network: "eth-1337", MaxTxBytes: 100, MaxCalldataBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Parse(bytes.Repeat([]byte{0xff}, 101))
	wantErr(t, err, ErrTooLarge)
	_, err = a.Parse(append([]byte("{"), bytes.Repeat([]byte(" "), 100)...))
	wantErr(t, err, ErrTooLarge)
	_, err = a.DecodeSigned(bytes.Repeat([]byte{0xff}, 101))
	wantErr(t, err, ErrTooLarge)
	// Calldata cap.
	s := hsmtest.New()
	k, _ := fakeKey(t, s, "a", mustHex(t, privA))
	a, _ = NewAdapter(Config{Network: "eth-1337", Keys: []chain.OwnKey{k}, MaxCalldataBytes: 10})
	u := baseUnsigned()
	u.Data = make([]byte, 11)
	_, err = a.Parse(must(EncodeUnsigned(u)))
	wantErr(t, err, ErrTooLarge)
}

func TestNewAdapterConfig(t *testing.T) {
	s := hsmtest.New()
	k, _ := fakeKey(t, s, "a", mustHex(t, privA))
	k2 := k
	k2.Ref = hsm.KeyRef{Label: "dup"}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"btc network", Config{Network: "btc-regtest"}},
		{"chain id 0", Config{Network: "eth-0"}},
		{"leading zero", Config{Network: "eth-01"}},
		{"not a number", Config{Network: "eth-x"}},
		{"empty", Config{}},
		{"bad key", Config{Network: "eth-1", Keys: []chain.OwnKey{{Ref: hsm.KeyRef{Label: "x"}, PublicKey: []byte{2, 1}}}}},
		{"duplicate address", Config{Network: "eth-1", Keys: []chain.OwnKey{k, k2}}},
		{"negative cap", Config{Network: "eth-1", MaxTxBytes: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewAdapter(c.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
		})
	}
	a := newAdapter(t, "eth-11155111", k)
	if a.Network() != "eth-11155111" || a.ChainID() != 11155111 {
		t.Fatal(a.Network(), a.ChainID())
	}
}

func TestAttach(t *testing.T) {
	f := newFixture(t)
	tx, err := f.a.ParseTx(must(EncodeUnsigned(baseUnsigned())))
	if err != nil {
		t.Fatal(err)
	}
	items := tx.SigningItems()
	if len(items) != 1 || items[0].Key.Label != "a" || "0x"+items[0].Digest.String() != tx.Summary().ID {
		t.Fatalf("items %+v", items)
	}
	ctx := context.Background()
	sig, err := f.signer.SignDigest(ctx, items[0].Key, items[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// A signature by another of our keys does not recover to From.
	wrong, _ := f.signer.SignDigest(ctx, hsm.KeyRef{Label: "b", ID: []byte("b")}, items[0].Digest)
	_, err = tx.Attach([]hsm.Signature{wrong})
	wantErr(t, err, ErrSignature)
	// Wrong count, zero values.
	_, err = tx.Attach(nil)
	wantErr(t, err, ErrSignature)
	_, err = tx.Attach([]hsm.Signature{sig, sig})
	wantErr(t, err, ErrSignature)
	_, err = tx.Attach([]hsm.Signature{{}})
	wantErr(t, err, ErrSignature)
	// A signature for a different digest.
	other, _ := f.signer.SignDigest(ctx, items[0].Key, hsm.Digest{1})
	_, err = tx.Attach([]hsm.Signature{other})
	wantErr(t, err, ErrSignature)
	// After the failures the Tx is unchanged and signs.
	raw, err := tx.Attach([]hsm.Signature{sig})
	if err != nil {
		t.Fatal(err)
	}
	// A high-S signature (as an HSM may return) is normalised: same result.
	high := sig
	s := new(big.Int).Sub(secp256k1N, new(big.Int).SetBytes(sig.S[:]))
	s.FillBytes(high.S[:])
	raw2, err := tx.Attach([]hsm.Signature{high})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, raw2) {
		t.Fatal("high-S signature was not normalised to the same transaction")
	}
	d, err := f.a.DecodeSigned(raw)
	if err != nil || d.Sender != addrA || d.Hash == "" {
		t.Fatalf("%v %+v", err, d)
	}
	// Summary is a copy: mutating it does not change the Tx.
	sum := tx.Summary()
	sum.Outputs[0].Amount.SetInt64(999)
	sum.Fee.SetInt64(0)
	if tx.Summary().Outputs[0].Amount.Int64() != 5 || tx.Summary().Fee.Sign() == 0 {
		t.Fatal("Summary exposes internal state")
	}
}

// A batch of EIP-1559 transfers from several keys through SignBatch (fake signer).
func TestSignBatchFake(t *testing.T) {
	s := hsmtest.New()
	ctx := context.Background()
	var keys []chain.OwnKey
	var addrs []string
	for i := 0; i < 4; i++ {
		info, err := s.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "k"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, chain.OwnKey{Ref: info.Ref, PublicKey: info.PublicKey})
		addrs = append(addrs, must(Address(info.PublicKey)))
	}
	a := newAdapter(t, "eth-1337", keys...)
	var txs []chain.Tx
	for i := 0; i < 12; i++ {
		p, err := a.BuildTransfer(TransferRequest{From: addrs[i%4], To: addrX, Value: big.NewInt(int64(i + 1)), Nonce: uint64(i / 4),
			Fees: Fees{MaxFeePerGas: big.NewInt(10), MaxPriorityFeePerGas: big.NewInt(1)}})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := a.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	out, err := chain.SignBatch(ctx, s, txs, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range out {
		d, err := a.DecodeSigned(raw)
		if err != nil || d.Sender != addrs[i%4] || d.Summary.Outputs[0].Amount.Int64() != int64(i+1) {
			t.Fatalf("tx %d: %v %+v", i, err, d)
		}
	}
	// All-or-nothing when the HSM fails mid-batch.
	s.FailAfter = 5
	if out, err := chain.SignBatch(ctx, s, txs, 2, nil); err == nil || out != nil || !errors.Is(err, hsm.ErrSessionFailed) {
		t.Fatalf("want failure, got %v %v", out, err)
	}
}

func TestBuild(t *testing.T) {
	f := newFixture(t)
	fees := Fees{MaxFeePerGas: big.NewInt(50), MaxPriorityFeePerGas: big.NewInt(2)}
	p, err := f.a.BuildTokenTransfer(TokenTransferRequest{From: addrA, Token: token, To: addrB, Amount: big.NewInt(77), Nonce: 3, GasLimit: 65000, Fees: fees})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := f.a.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	s := tx.Summary()
	if s.Kind != chain.KindTokenTransfer || !sameOutputs(s.Outputs, []chain.Output{{Address: addrB, Asset: chain.ERC20(token), Amount: big.NewInt(77), Change: true}}) || s.To != token {
		t.Fatalf("%+v", s)
	}
	p, err = f.a.BuildTransfer(TransferRequest{From: addrA, To: addrX, Value: big.NewInt(1), Fees: Fees{Legacy: true, GasPrice: big.NewInt(9)}})
	if err != nil {
		t.Fatal(err)
	}
	tx, _ = f.a.Parse(p)
	if s := tx.Summary(); s.TxType != "legacy" || s.GasLimit != 21000 || s.Fee.Int64() != 9*21000 || s.MaxPriorityFeePerGas.Int64() != 9 {
		t.Fatalf("%+v", s)
	}
	// Refusals: unknown sender, missing fees, missing gas limit.
	_, err = f.a.BuildTransfer(TransferRequest{From: addrX, To: addrA, Value: big.NewInt(1), Fees: fees})
	wantErr(t, err, ErrUnknownSender)
	_, err = f.a.BuildTransfer(TransferRequest{From: addrA, To: addrX, Value: big.NewInt(1), Fees: Fees{Legacy: true}})
	wantErr(t, err, ErrMalformed)
	_, err = f.a.BuildTokenTransfer(TokenTransferRequest{From: addrA, Token: token, To: addrB, Amount: big.NewInt(1), Fees: fees})
	wantErr(t, err, ErrMalformed)
}
