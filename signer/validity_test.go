package signer_test

import (
	"context"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/signer"
)

// TestExpiredRequest: a request past its own expiry is refused at stage
// request before anything reaches the HSM.
func TestExpiredRequest(t *testing.T) {
	f := newFixture(t)
	data := f.request("stale", f.sweepTxs(0, 5, 0), "alice", "bob")
	f.env.Clock.Advance(25 * time.Hour) // the fixture's requests live 24 h
	h := &faultyHSM{Signer: f.hsm}
	out, err := f.pipeline(h).Process(f.ctx, data)
	f.expectRefused(out, err, signer.StageRequest, signer.CodeExpired, "expired at")
	if h.n.Load() != 0 {
		t.Error("an expired request reached the HSM")
	}
}

// TestRequestFromTheFuture: a request created later than the signer's clock
// plus the allowed skew is refused at stage request.
func TestRequestFromTheFuture(t *testing.T) {
	f := newFixture(t)
	f.env.Clock.Advance(10 * time.Minute)
	data := f.request("early", f.sweepTxs(0, 5, 0), "alice", "bob")
	f.env.Clock.Advance(-10 * time.Minute) // the signer's clock; the pipeline allows 1 min of skew
	h := &faultyHSM{Signer: f.hsm}
	out, err := f.pipeline(h).Process(f.ctx, data)
	f.expectRefused(out, err, signer.StageRequest, signer.CodeNotYetValid, "later than signer time")
	if h.n.Load() != 0 {
		t.Error("a request from the future reached the HSM")
	}
}

// corruptingHSM returns real HSM signatures with one bit of s flipped: a
// signature the adapters' self-verification must catch.
type corruptingHSM struct{ hsm.Signer }

func (c corruptingHSM) SignDigest(ctx context.Context, ref hsm.KeyRef, d hsm.Digest) (hsm.Signature, error) {
	sig, err := c.Signer.SignDigest(ctx, ref, d)
	sig.S[31] ^= 1
	return sig, err
}

// TestSelfVerifyFailure: signatures that do not verify are never output;
// the request is refused at stage sign, its reservation released, and it
// signs once the HSM is sound again.
func TestSelfVerifyFailure(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		id   string
		txs  func() []byte
	}{
		{"bitcoin", "bad-btc-sig", func() []byte { return f.request("bad-btc-sig", f.sweepTxs(0, 5, 0), "alice", "bob") }},
		{"ethereum", "bad-eth-sig", func() []byte {
			return f.request("bad-eth-sig", []bundle.Transaction{f.ethTx(3, 1e18)}, "alice", "bob")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.txs()
			out, err := f.pipeline(corruptingHSM{f.hsm}).Process(f.ctx, data)
			f.expectRefused(out, err, signer.StageSign, signer.CodeSelfVerifyFailed)
			out, err = f.pipeline(f.hsm).Process(f.ctx, data)
			f.expectSigned(out, err, 1)
		})
	}
}
