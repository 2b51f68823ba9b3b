package chain_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
)

// fakeSigner returns the digest as r and s; it counts which path was used.
type fakeSigner struct {
	verified, unverified atomic.Int32
	failOn               hsm.Digest
}

func (f *fakeSigner) PublicKey(context.Context, hsm.KeyRef) ([]byte, error) { return nil, nil }

func (f *fakeSigner) SignDigest(_ context.Context, _ hsm.KeyRef, d hsm.Digest) (hsm.Signature, error) {
	f.verified.Add(1)
	return f.sig(d)
}

func (f *fakeSigner) sig(d hsm.Digest) (hsm.Signature, error) {
	if d == f.failOn {
		return hsm.Signature{}, fmt.Errorf("%w: injected", hsm.ErrSessionFailed)
	}
	return hsm.Signature{R: d, S: d}, nil
}

type unverifiedFake struct{ *fakeSigner }

func (f unverifiedFake) SignDigestUnverified(_ context.Context, _ hsm.KeyRef, d hsm.Digest) (hsm.Signature, error) {
	f.unverified.Add(1)
	return f.sig(d)
}

var (
	_ hsm.Signer           = (*fakeSigner)(nil)
	_ hsm.UnverifiedSigner = unverifiedFake{}
)

// fakeTx has n items; Attach checks every signature matches its digest.
type fakeTx struct {
	id       byte
	n        int
	attached atomic.Int32
	bad      bool
}

func (t *fakeTx) Summary() chain.Summary { return chain.Summary{} }

func (t *fakeTx) SigningItems() []chain.SigningItem {
	out := make([]chain.SigningItem, t.n)
	for i := range out {
		out[i] = chain.SigningItem{Key: hsm.KeyRef{Label: "k"}, Digest: hsm.Digest{t.id, byte(i), 1}}
	}
	return out
}

func (t *fakeTx) Attach(sigs []hsm.Signature) ([]byte, error) {
	t.attached.Add(1)
	if t.bad {
		return nil, errors.New("self-verify failed")
	}
	items := t.SigningItems()
	if len(sigs) != len(items) {
		return nil, fmt.Errorf("%d signatures for %d items", len(sigs), len(items))
	}
	for i, s := range sigs {
		if s.R != items[i].Digest {
			return nil, fmt.Errorf("signature %d is for another digest", i)
		}
	}
	return []byte{t.id, byte(len(sigs))}, nil
}

func TestSignBatch(t *testing.T) {
	mk := func() []chain.Tx {
		return []chain.Tx{&fakeTx{id: 1, n: 3}, &fakeTx{id: 2, n: 1}, &fakeTx{id: 3, n: 0}, &fakeTx{id: 4, n: 17}}
	}
	cases := []struct {
		name       string
		signer     func(*fakeSigner) hsm.Signer
		txs        func() []chain.Tx
		failOn     hsm.Digest
		wantErr    bool
		unverified bool
	}{
		{name: "ok_plain_signer", signer: func(f *fakeSigner) hsm.Signer { return f }, txs: mk},
		{name: "ok_unverified_path_when_offered", signer: func(f *fakeSigner) hsm.Signer { return unverifiedFake{f} }, txs: mk, unverified: true},
		{name: "expfail_hsm_error", signer: func(f *fakeSigner) hsm.Signer { return f }, txs: mk, failOn: hsm.Digest{4, 9, 1}, wantErr: true},
		{name: "expfail_attach_error", signer: func(f *fakeSigner) hsm.Signer { return f }, wantErr: true,
			txs: func() []chain.Tx { return append(mk(), &fakeTx{id: 5, n: 2, bad: true}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, workers := range []int{1, 3} {
				f := &fakeSigner{failOn: tc.failOn}
				txs := tc.txs()
				var calls atomic.Int32
				out, err := chain.SignBatch(context.Background(), tc.signer(f), txs, workers, func(done, total int) {
					calls.Add(1)
					if done > total {
						t.Errorf("progress %d of %d", done, total)
					}
				})
				if tc.wantErr {
					if err == nil || out != nil {
						t.Fatalf("workers %d: got %v, %v; want an error and no output", workers, out, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("workers %d: %v", workers, err)
				}
				for i, tx := range txs {
					ft := tx.(*fakeTx)
					if got := ft.attached.Load(); got != 1 {
						t.Fatalf("tx %d attached %d times", i, got)
					}
					if len(out[i]) != 2 || out[i][0] != ft.id || int(out[i][1]) != ft.n {
						t.Fatalf("out[%d] = %v", i, out[i])
					}
				}
				if calls.Load() != 21 {
					t.Fatalf("progress called %d times, want 21", calls.Load())
				}
				if tc.unverified != (f.unverified.Load() == 21 && f.verified.Load() == 0) {
					t.Fatalf("verified path %d calls, unverified %d", f.verified.Load(), f.unverified.Load())
				}
			}
		})
	}
	t.Run("expfail_cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if out, err := chain.SignBatch(ctx, &fakeSigner{}, mk(), 2, nil); err == nil || out != nil {
			t.Fatalf("cancelled context: %v, %v", out, err)
		}
	})
}
