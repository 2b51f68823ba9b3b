package signer_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/signer"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
)

// TestSignsBatch: a 3-transaction sweep signs on the real token; every
// PSBT finalizes through btcd's script engine, and nothing is signed for a
// refused request (invariant 1).
func TestSignsBatch(t *testing.T) {
	f := newFixture(t)
	h := &faultyHSM{Signer: f.hsm}
	p := f.pipeline(h)
	out, err := p.Process(f.ctx, f.request("batch", f.sweepTxs(2, 5, 0, 1, 2, 3, 4, 5), "alice", "bob"))
	resp := f.expectSigned(out, err, 3)
	for i, st := range resp.Signed {
		if _, _, err := btc.Finalize(st.Payload); err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if got := h.n.Load(); got != 6 {
		t.Errorf("%d HSM signatures, want 6 (one per input)", got)
	}
	rec := f.record(resp.AuditSeq)
	if rec.Kind != audit.KindSigned || len(rec.TxIDs) != 3 || len(rec.Approvers) != 2 {
		t.Errorf("signed record: %+v", rec)
	}

	// Refusals before the reservation never reach the HSM.
	h.n.Store(0)
	out, err = p.Process(f.ctx, f.request("one-approval", f.sweepTxs(0, 5, 6), "alice"))
	f.expectRefused(out, err, signer.StageQuorum, signer.CodeNoQuorum, "counted: alice")
	out, err = p.Process(f.ctx, f.request("fee", f.sweepTxs(0, 80, 7), "alice", "bob"))
	f.expectRefused(out, err, signer.StagePolicy, signer.CodePolicyDenied, "max_fee_rate")
	if got := h.n.Load(); got != 0 {
		t.Errorf("refused requests made %d HSM signatures", got)
	}
}

// TestHSMFaultMidBatch: a token failing after 3 of 6 signatures → a signed
// refusal at stage sign with nothing signed in it, the reservation aborted
// (outpoints released), and the same request signs when retried.
func TestHSMFaultMidBatch(t *testing.T) {
	f := newFixture(t)
	data := f.request("fault", f.sweepTxs(2, 5, 0, 1, 2, 3, 4, 5), "alice", "bob")
	out, err := f.pipeline(&faultyHSM{Signer: f.hsm, failAfter: 3}).Process(f.ctx, data)
	f.expectRefused(out, err, signer.StageSign, signer.CodeHSM, "injected fault", "may be submitted again")
	st, err := f.store.LookupRequest("fault")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != store.StateAborted || len(st.Response) != 0 {
		t.Fatalf("request state %s with %d response bytes, want aborted with none", st.State, len(st.Response))
	}

	// The identical request is retried and now signs completely.
	out, err = f.pipeline(f.hsm).Process(f.ctx, data)
	f.expectSigned(out, err, 3)

	// Another batch fails the same way; its outpoints were released, so a
	// different request may now spend one of them.
	out, err = f.pipeline(&faultyHSM{Signer: f.hsm, failAfter: 1}).Process(f.ctx, f.request("fault-2", f.sweepTxs(0, 5, 6, 7), "alice", "bob"))
	f.expectRefused(out, err, signer.StageSign, signer.CodeHSM)
	out, err = f.pipeline(f.hsm).Process(f.ctx, f.request("spends-released", f.sweepTxs(0, 5, 7), "alice", "bob"))
	f.expectSigned(out, err, 1)
}

// TestInterruptedMidBatch: the context is cancelled after two signatures
// (SIGTERM) → ErrInterrupted, no response at all, the reservation aborted
// and recorded, and the request can be submitted again.
func TestInterruptedMidBatch(t *testing.T) {
	f := newFixture(t)
	data := f.request("interrupted", f.sweepTxs(2, 5, 0, 1, 2, 3, 4, 5), "alice", "bob")
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	h := &faultyHSM{Signer: f.hsm, after: func(n int32) {
		if n == 2 {
			cancel()
		}
	}}
	out, err := f.pipeline(h).Process(ctx, data)
	if !errors.Is(err, signer.ErrInterrupted) {
		t.Fatalf("Process: %v, want ErrInterrupted", err)
	}
	if out.Encoded != nil || out.Response != nil {
		t.Fatal("an interrupted request produced a response")
	}
	st, err := f.store.LookupRequest("interrupted")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != store.StateAborted {
		t.Fatalf("state %s, want aborted", st.State)
	}
	recs := f.records()
	if last := recs[len(recs)-1]; last.Kind != audit.KindRefused || last.RequestID != "interrupted" {
		t.Fatalf("last audit record %+v, want the interruption", last)
	}
	out, err = f.pipeline(f.hsm).Process(f.ctx, data)
	f.expectSigned(out, err, 3)
}

// TestAuditWriteFailure: when the outcome cannot be written to the audit
// log, Process returns an error and no response — for a signed batch (the
// store fails after the last signature, before Complete) and for a refusal
// (the store fails during signing, before the abort is recorded). After a
// restart the reserved outpoints stay taken: only the identical request
// may sign them.
func TestAuditWriteFailure(t *testing.T) {
	f := newFixture(t)
	data := f.request("unrecorded", f.sweepTxs(2, 5, 0, 1, 2, 3), "alice", "bob")
	h := &faultyHSM{Signer: f.hsm, after: func(n int32) {
		if n == 4 {
			if err := f.store.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		}
	}}
	out, err := f.pipeline(h).Process(f.ctx, data)
	if !errors.Is(err, signer.ErrNoOutput) || !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Process: %v, want ErrNoOutput wrapping store.ErrClosed", err)
	}
	if out.Encoded != nil || out.Response != nil {
		t.Fatal("a response was produced although the decision was not recorded")
	}

	// Restart: the reservation is found and marked interrupted.
	f.reopen()
	st, err := f.store.LookupRequest("unrecorded")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != store.StateInterrupted {
		t.Fatalf("after restart the request is %s, want interrupted", st.State)
	}
	// Different content spending one of its outpoints: conflict.
	out, err = f.pipeline(f.hsm).Process(f.ctx, f.request("thief", f.sweepTxs(0, 7, 1), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeConflict)
	// The identical request may finish.
	out, err = f.pipeline(f.hsm).Process(f.ctx, data)
	f.expectSigned(out, err, 2)

	// A refusal that cannot be recorded: the token fails and the store is
	// gone before the abort is written.
	data = f.request("unrecorded-refusal", f.sweepTxs(0, 5, 4, 5), "alice", "bob")
	h = &faultyHSM{Signer: f.hsm, failAfter: 1, after: func(int32) {
		if err := f.store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	}}
	out, err = f.pipeline(h).Process(f.ctx, data)
	if !errors.Is(err, signer.ErrNoOutput) || out.Encoded != nil {
		t.Fatalf("Process: %v (response %d bytes), want ErrNoOutput and nothing", err, len(out.Encoded))
	}
	f.reopen()
}

// reopen opens the store again after a test closed it (a restart).
func (f *fixture) reopen() {
	f.t.Helper()
	s, err := f.env.Open()
	if err != nil {
		f.t.Fatalf("reopen store: %v", err)
	}
	f.t.Cleanup(func() { s.Close() })
	f.store = s
}

// TestNoDoubleSpend: an outpoint or an (address, nonce) already signed for
// one request is never signed again with different content.
func TestNoDoubleSpend(t *testing.T) {
	f := newFixture(t)
	p := f.pipeline(f.hsm)
	out, err := p.Process(f.ctx, f.request("first", f.sweepTxs(0, 5, 0, 1), "alice", "bob"))
	f.expectSigned(out, err, 1)
	out, err = p.Process(f.ctx, f.request("second", f.sweepTxs(0, 5, 1, 2), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeConflict, "first")

	out, err = p.Process(f.ctx, f.request("eth-a", []bundle.Transaction{f.ethTx(7, 1e18)}, "alice", "bob"))
	f.expectSigned(out, err, 1)
	out, err = p.Process(f.ctx, f.request("eth-b", []bundle.Transaction{f.ethTx(7, 2e18)}, "alice", "bob"))
	f.expectRefused(out, err, signer.StageReserve, signer.CodeConflict, "eth-a")

	// The conflicting request left nothing behind: its other outpoint is free.
	out, err = p.Process(f.ctx, f.request("third", f.sweepTxs(0, 5, 2), "alice", "bob"))
	f.expectSigned(out, err, 1)
}

// TestReplay: the identical request returns the stored bytes; the same id
// with other content is refused.
func TestReplay(t *testing.T) {
	f := newFixture(t)
	p := f.pipeline(f.hsm)
	data := f.request("again", f.sweepTxs(0, 5, 0), "alice", "bob")
	first, err := p.Process(f.ctx, data)
	f.expectSigned(first, err, 1)
	f.env.Clock.Advance(time.Minute)
	second, err := p.Process(f.ctx, data)
	f.expectSigned(second, err, 1)
	if !second.Replayed || !bytes.Equal(first.Encoded, second.Encoded) {
		t.Fatalf("replayed=%v, same bytes=%v", second.Replayed, bytes.Equal(first.Encoded, second.Encoded))
	}
	out, err := p.Process(f.ctx, f.request("again", f.sweepTxs(0, 6, 0), "alice", "bob"))
	f.expectRefused(out, err, signer.StageReplay, signer.CodeRequestIDReused, `"again"`)
}

// TestClockBehindTimeFloor: once a decision is recorded at T, a clock set
// back past T minus the tolerance is refused at stage clock, nothing signed.
func TestClockBehindTimeFloor(t *testing.T) {
	f := newFixture(t)
	h := &faultyHSM{Signer: f.hsm}
	p := f.pipeline(h)
	out, err := p.Process(f.ctx, f.request("at-t", f.sweepTxs(0, 5, 0), "alice", "bob"))
	f.expectSigned(out, err, 1)
	h.n.Store(0)
	f.env.Clock.Advance(-time.Hour)
	out, err = p.Process(f.ctx, f.request("in-the-past", f.sweepTxs(0, 5, 1), "alice", "bob"))
	f.expectRefused(out, err, signer.StageClock, signer.CodeClockBehind)
	if h.n.Load() != 0 {
		t.Error("signed with a clock behind the time floor")
	}
}

// TestExpiredApprovalFakeClock: approvals valid for an hour no longer count
// two hours later.
func TestExpiredApprovalFakeClock(t *testing.T) {
	f := newFixture(t)
	data := f.request("late", f.sweepTxs(0, 5, 0), "alice", "bob")
	f.env.Clock.Advance(2 * time.Hour)
	out, err := f.pipeline(f.hsm).Process(f.ctx, data)
	f.expectRefused(out, err, signer.StageQuorum, signer.CodeNoQuorum, "approval-expired")
}

// TestOversizeRefusedBeforeDecoding: input over the cap is refused at
// decode without being parsed.
func TestOversizeRefusedBeforeDecoding(t *testing.T) {
	f := newFixture(t)
	p := f.pipeline(f.hsm)
	big := make([]byte, bundle.DefaultLimits().MaxRequestBytes+1)
	out, err := p.Process(f.ctx, big)
	resp := f.expectRefused(out, err, signer.StageDecode, signer.CodeMalformed, "too large")
	if resp.RequestID != "" {
		t.Errorf("refusal names request %q", resp.RequestID)
	}
	for _, garbage := range [][]byte{nil, {0xff}, bytes.Repeat([]byte{0xd9}, 100)} {
		out, err := p.Process(f.ctx, garbage)
		f.expectRefused(out, err, signer.StageDecode, signer.CodeMalformed)
	}
}

// TestRefuseUnreadable: input that could not be read is answered with a
// signed, audited decode refusal naming the cause.
func TestRefuseUnreadable(t *testing.T) {
	f := newFixture(t)
	out, err := f.pipeline(f.hsm).RefuseUnreadable(f.ctx, errors.New("inbox big.icebox: too large: 99 bytes, limit 9"))
	f.expectRefused(out, err, signer.StageDecode, signer.CodeMalformed, "too large: 99 bytes")
}
