package eth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
	"github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// openSoftHSM creates a throwaway SoftHSM2 token and opens it through hsm/pkcs11.
func openSoftHSM(t *testing.T) (*pkcs11.HSM, pkcs11test.Token) {
	t.Helper()
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	h, err := pkcs11.Open(pkcs11.Config{
		ModulePath:     tok.ModulePath,
		TokenLabel:     tok.Label,
		PINFile:        tok.PINFile,
		Sessions:       2,
		PINFailureFile: filepath.Join(tok.Dir, tok.Label+".failures.json"),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open SoftHSM token: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h, pkcs11test.Token{ModulePath: tok.ModulePath, Label: tok.Label, UserPIN: tok.UserPIN}
}

// ownKey reads ref's public key from the HSM (as the manifest would).
func ownKey(t *testing.T, h hsm.Signer, ref hsm.KeyRef) (chain.OwnKey, string) {
	t.Helper()
	pub, err := h.PublicKey(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := Address(pub)
	if err != nil {
		t.Fatal(err)
	}
	return chain.OwnKey{Ref: ref, PublicKey: pub}, addr
}

// The EIP-155 example and every ethers signing case (EIP-155, EIP-2930,
// EIP-1559) signed by keys imported into a real SoftHSM2 token. HSM
// signatures are random, so the check is: the signing hash equals the
// vector's, the signed transaction re-decodes to the same content, and the
// sender recovers to the vector key's address.
func TestSoftHSMVectors(t *testing.T) {
	h, tok := openSoftHSM(t)
	ctx := context.Background()

	var ec []eip155Case
	readVectors(t, "eip-155/cases.json", &ec)
	ref := hsm.KeyRef{Label: "eip155", ID: []byte{0xe1}}
	pkcs11test.ImportSecp256k1(t, tok, ref, mustHex(t, ec[0].Input.PrivateKey))
	key, addr := ownKey(t, h, ref)
	if addr != addrA {
		t.Fatalf("EIP-155 key address %s, want %s", addr, addrA)
	}
	a := newAdapter(t, "eth-1", key)
	tx, err := a.Parse(env(t, addr, mustHex(t, ec[0].Expected.SigningDataRLP)))
	if err != nil {
		t.Fatal(err)
	}
	if tx.Summary().ID != ec[0].Expected.SigningHash {
		t.Fatalf("ID %s", tx.Summary().ID)
	}
	raw := signOne(t, h, tx)
	d, err := a.DecodeSigned(raw)
	if err != nil || d.Sender != addr || d.Summary.ContentHash != tx.Summary().ContentHash {
		t.Fatalf("EIP-155 via SoftHSM: %v %+v", err, d)
	}
	var cases []ethersCase
	readVectors(t, "ethers-testcases/transactions_signing.json", &cases)
	n := 0
	for i, c := range cases {
		ref := hsm.KeyRef{Label: fmt.Sprintf("ethers-%d", i), ID: []byte{byte(i), 0xee}}
		pkcs11test.ImportSecp256k1(t, tok, ref, mustHex(t, c.Input.PrivateKey))
		key, addr := ownKey(t, h, ref)
		a := newAdapter(t, chain.EthereumNetwork(hexBig(t, c.Input.Tx.ChainID).Uint64()), key)
		var txs []chain.Tx
		for _, f := range []string{"eip155", "eip2930", "eip1559"} {
			tx, err := a.Parse(env(t, addr, mustHex(t, c.Expected["unsigned_"+f])))
			if err != nil {
				t.Fatalf("%s/%s: %v", c.ID, f, err)
			}
			txs = append(txs, tx)
		}
		out, err := chain.SignBatch(ctx, h, txs, 2, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		for j, raw := range out {
			d, err := a.DecodeSigned(raw)
			if err != nil || d.Sender != addr || d.Summary.ID != txs[j].Summary().ID {
				t.Fatalf("%s form %d: sender %s, %v", c.ID, j, d.Sender, err)
			}
			n++
		}
	}
	t.Logf("%d ethers signing forms signed in SoftHSM2 and recovered", n)
}

// A batch of 50 EIP-1559 transfers from 10 keys generated inside the token,
// signed through chain.SignBatch over the session pool with progress; every
// sender recovers to our address.
func TestSoftHSMBatch1559(t *testing.T) {
	h, _ := openSoftHSM(t)
	ctx := context.Background()
	var (
		keys  []chain.OwnKey
		addrs []string
	)
	for i := 0; i < 10; i++ {
		info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: fmt.Sprintf("hot-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		addr, err := Address(info.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, chain.OwnKey{Ref: info.Ref, PublicKey: info.PublicKey})
		addrs = append(addrs, addr)
	}
	a := newAdapter(t, "eth-1337", keys...)
	var txs []chain.Tx
	for i := 0; i < 50; i++ {
		p, err := a.BuildTransfer(TransferRequest{From: addrs[i%10], To: addrs[(i+1)%10], Value: big.NewInt(int64(1000 + i)), Nonce: uint64(i / 10),
			Fees: Fees{MaxFeePerGas: big.NewInt(30_000_000_000), MaxPriorityFeePerGas: big.NewInt(1_000_000_000)}})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := a.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		if s := tx.Summary(); !s.Outputs[0].Change {
			t.Fatal("transfer between our own keys is not change")
		}
		txs = append(txs, tx)
	}
	var (
		mu    sync.Mutex
		calls int
		last  int
	)
	out, err := chain.SignBatch(ctx, h, txs, 2, func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if total != 50 || done != last+1 {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 50 || last != 50 || len(out) != 50 {
		t.Fatalf("progress calls %d last %d, %d signed", calls, last, len(out))
	}
	for i, raw := range out {
		d, err := a.DecodeSigned(raw)
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		if d.Sender != addrs[i%10] || d.Summary.Nonce != uint64(i/10) || d.Summary.Outputs[0].Amount.Int64() != int64(1000+i) {
			t.Fatalf("tx %d: sender %s nonce %d", i, d.Sender, d.Summary.Nonce)
		}
	}
}

// BenchmarkSoftHSMSignBatch measures parse-free signing throughput: SignBatch
// (HSM signature, recovery, attach, re-decode) over 100 EIP-1559 transfers.
func BenchmarkSoftHSMSignBatch(b *testing.B) {
	tok := softhsmtest.NewToken(b, softhsmtest.Options{})
	h, err := pkcs11.Open(pkcs11.Config{ModulePath: tok.ModulePath, TokenLabel: tok.Label, PINFile: tok.PINFile, Sessions: 2,
		PINFailureFile: filepath.Join(tok.Dir, "failures.json"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	from, _ := Address(info.PublicKey)
	a := newAdapter(b, "eth-1337", chain.OwnKey{Ref: info.Ref, PublicKey: info.PublicKey})
	var txs []chain.Tx
	for i := 0; i < 100; i++ {
		p, err := a.BuildTransfer(TransferRequest{From: from, To: addrX, Value: big.NewInt(1), Nonce: uint64(i),
			Fees: Fees{MaxFeePerGas: big.NewInt(2), MaxPriorityFeePerGas: big.NewInt(1)}})
		if err != nil {
			b.Fatal(err)
		}
		tx, err := a.Parse(p)
		if err != nil {
			b.Fatal(err)
		}
		txs = append(txs, tx)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := chain.SignBatch(ctx, h, txs, 2, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(txs))/b.Elapsed().Seconds(), "tx/s")
}
