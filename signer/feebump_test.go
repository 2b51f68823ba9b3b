package signer_test

import (
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/signer"
	"github.com/icebox-custody/icebox/store"
)

// withFeeBump switches the fixture's btc-sweep rule to allow_fee_bump.
func (f *fixture) withFeeBump() {
	f.t.Helper()
	const rule = "    approvals: {group: treasury, threshold: 2}\n  - name: eth-sweep"
	if !strings.Contains(f.policyYAML, rule) {
		f.t.Fatal("fixture policy changed: cannot add allow_fee_bump")
	}
	f.setPolicy(strings.Replace(f.policyYAML, rule,
		"    approvals: {group: treasury, threshold: 2}\n    allow_fee_bump: true\n  - name: eth-sweep", 1))
	if !f.policy.Policy().Rules[0].AllowFeeBump {
		f.t.Fatal("allow_fee_bump not parsed")
	}
}

// summary parses one of our BTC request transactions.
func (f *fixture) summary(tx bundle.Transaction) chain.Summary {
	f.t.Helper()
	ptx, err := f.adapters[chain.Network(tx.Network)].Parse(tx.Payload)
	if err != nil {
		f.t.Fatal(err)
	}
	return ptx.Summary()
}

// holder returns the request holding the consume key.
func (f *fixture) holder(key string) string {
	f.t.Helper()
	id, _, ok, err := f.store.ConsumeHolder(key)
	if err != nil || !ok {
		f.t.Fatalf("consume %s: held=%v %v", key, ok, err)
	}
	return id
}

// TestFeeBumpNeedsTheRule: without allow_fee_bump a re-spend of our own
// signed outpoints at a higher fee is a reserve conflict, and the ledger
// keeps the first holder.
func TestFeeBumpNeedsTheRule(t *testing.T) {
	f := newFixture(t)
	p := f.pipeline(f.hsm)
	orig := f.sweepTxs(0, 5, 0, 1)
	out, err := p.Process(f.ctx, f.request("orig", orig, "alice", "bob"))
	f.expectSigned(out, err, 1)
	out, err = p.Process(f.ctx, f.request("bump", f.sweepTxs(0, 20, 0, 1), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeConflict, "orig")
	for _, k := range f.summary(orig[0]).Consumes {
		if h := f.holder(k); h != "orig" {
			t.Errorf("%s held by %q after a refused bump", k, h)
		}
	}
}

// TestFeeBump: with allow_fee_bump a second request re-spending the same
// outpoints at a higher fee signs and takes them over; lower or equal fees,
// a fee below the sum of every replaced transaction, and an earlier holder
// that was never signed are refused at reserve.
func TestFeeBump(t *testing.T) {
	f := newFixture(t)
	f.withFeeBump()
	p := f.pipeline(f.hsm)

	orig := f.sweepTxs(0, 5, 0, 1)
	out, err := p.Process(f.ctx, f.request("orig", orig, "alice", "bob"))
	f.expectSigned(out, err, 1)
	origSum := f.summary(orig[0])

	// A lower fee rate is no bump.
	out, err = p.Process(f.ctx, f.request("lower", f.sweepTxs(0, 4, 0, 1), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeFeeBump, "orig", "not more than")

	// A higher fee rate signs, spends exactly the same outpoints, and now
	// holds them.
	bump := f.sweepTxs(0, 20, 0, 1)
	bumpSum := f.summary(bump[0])
	if bumpSum.Fee.Cmp(origSum.Fee) <= 0 || strings.Join(bumpSum.Consumes, ",") != strings.Join(origSum.Consumes, ",") {
		t.Fatalf("fixture: bump fee %s vs %s, consumes %v vs %v", bumpSum.Fee, origSum.Fee, bumpSum.Consumes, origSum.Consumes)
	}
	out, err = p.Process(f.ctx, f.request("bump", bump, "alice", "bob"))
	resp := f.expectSigned(out, err, 1)
	if got := f.summary(resp.Signed[0]); got.ContentHash != bumpSum.ContentHash || got.Fee.Cmp(bumpSum.Fee) != 0 {
		t.Fatalf("signed transaction is not the bump: fee %s", got.Fee)
	}
	for _, k := range bumpSum.Consumes {
		if h := f.holder(k); h != "bump" {
			t.Errorf("%s held by %q, want bump", k, h)
		}
	}
	// Going back to the original (lower) fee is refused: the bump holds them now.
	out, err = p.Process(f.ctx, f.request("unbump", orig, "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeFeeBump, "bump")

	// One transaction replacing two: its fee must exceed their sum, not
	// just each one's (10 → 11 sat/vB over 1+1 inputs vs 2 inputs).
	for _, c := range []struct {
		id  string
		idx int
	}{{"single-2", 2}, {"single-3", 3}} {
		out, err = p.Process(f.ctx, f.request(c.id, f.sweepTxs(0, 10, c.idx), "alice", "bob"))
		f.expectSigned(out, err, 1)
	}
	merged := f.sweepTxs(0, 11, 2, 3)
	out, err = p.Process(f.ctx, f.request("merged-cheap", merged, "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeFeeBump, "single-2", "single-3", "not more than")
	out, err = p.Process(f.ctx, f.request("merged", f.sweepTxs(0, 25, 2, 3), "alice", "bob"))
	f.expectSigned(out, err, 1)

	// An earlier holder that is only reserved (no signed response) cannot
	// be replaced: its transaction's fee is unknown and it may still sign.
	pendingTx := f.sweepTxs(0, 5, 4)
	pending := f.summary(pendingTx[0])
	if _, err := f.store.Reserve(store.ReserveRequest{RequestID: "pending", RequestDigest: [32]byte{1},
		Consumes: []store.Consume{{Key: pending.Consumes[0], ContentHash: pending.ContentHash}}}); err != nil {
		t.Fatal(err)
	}
	out, err = p.Process(f.ctx, f.request("bump-pending", f.sweepTxs(0, 30, 4), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeFeeBump, "pending", "state reserved")
	if h := f.holder(pending.Consumes[0]); h != "pending" {
		t.Errorf("refused bump left %q holding the outpoint", h)
	}

	// Nonces are never replaceable, even under a decision allowing a bump
	// (the policy cannot grant it on Ethereum; the ETH rule here has no flag).
	out, err = p.Process(f.ctx, f.request("eth-a", []bundle.Transaction{f.ethTx(7, 1e18)}, "alice", "bob"))
	f.expectSigned(out, err, 1)
	out, err = p.Process(f.ctx, f.request("eth-b", []bundle.Transaction{f.ethTx(7, 2e18)}, "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeConflict, "eth-a")
}
