package signer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store"
)

// ErrInterrupted: the context was cancelled while signing. The reservation
// was aborted, nothing was output, and the request can be submitted again.
var ErrInterrupted = errors.New("signing interrupted before completion; nothing was output")

// ErrNoOutput: the decision could not be recorded in the audit log (or the
// response could not be signed), so no response may be released.
var ErrNoOutput = errors.New("decision could not be recorded; no response was produced")

// Config wires the pipeline's parts. Every field except Progress and
// Logger is required.
type Config struct {
	// Adapters parse transactions, one per configured network. A
	// transaction for any other network is refused.
	Adapters map[chain.Network]chain.Adapter
	Policy   *policy.Engine
	Roster   *quorum.Roster
	Store    *store.Store
	HSM      hsm.Signer
	// Identity is the signer identity key that signs every response.
	Identity sigkey.Signer
	Clock    func() time.Time
	// ClockSkew is how far in the future a request's creation time may lie.
	ClockSkew time.Duration
	Limits    bundle.Limits
	// Workers is the number of concurrent HSM signing calls (the session pool size).
	Workers int
	// OwnAddresses are our manifest addresses (policy destination "own-cold").
	OwnAddresses []string
	// Progress, if set, is called as batch signatures complete.
	Progress chain.Progress
	Logger   *slog.Logger
}

// Pipeline runs requests through every stage. Create it with New.
type Pipeline struct {
	cfg         Config
	fingerprint string
	mu          sync.Mutex
}

// Outcome is the result of one Process call.
type Outcome struct {
	// Encoded is the signed response bundle to release (signed or refusal).
	Encoded []byte
	// Response is Encoded, decoded.
	Response *bundle.Response
	// Replayed: the identical request had been completed before; Encoded is
	// the stored response, byte for byte.
	Replayed bool
}

// Refused reports whether the outcome is a refusal.
func (o Outcome) Refused() bool {
	return o.Response != nil && o.Response.Status == bundle.StatusRefused
}

// New checks cfg and returns a pipeline.
func New(cfg Config) (*Pipeline, error) {
	switch {
	case len(cfg.Adapters) == 0:
		return nil, errors.New("signer: no chain adapters configured")
	case cfg.Policy == nil:
		return nil, errors.New("signer: no policy engine")
	case cfg.Roster == nil:
		return nil, errors.New("signer: no roster")
	case cfg.Store == nil:
		return nil, errors.New("signer: no store")
	case cfg.HSM == nil:
		return nil, errors.New("signer: no HSM signer")
	case cfg.Identity == nil:
		return nil, errors.New("signer: no identity key")
	case cfg.Clock == nil:
		return nil, errors.New("signer: no clock")
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pipeline{cfg: cfg, fingerprint: cfg.Identity.Public().Fingerprint()}, nil
}

// refusal is a decision not to sign, with what the refusal bundle shows.
type refusal struct {
	stage  Stage
	code   string
	reason string
}

func refuse(stage Stage, code string, format string, args ...any) *refusal {
	return &refusal{stage: stage, code: code, reason: fmt.Sprintf(format, args...)}
}

// request is the state carried between stages.
type request struct {
	raw     []byte
	req     *bundle.Request
	digest  bundle.Digest
	txs     []chain.Tx
	sums    []chain.Summary
	dec     policy.Decision
	quorum  quorum.Result
	reserve *store.Reservation
}

// Process runs one request bundle through the pipeline. It returns an
// Outcome holding a signed response — signatures or a refusal — after the
// decision is in the audit log. It returns an error (ErrNoOutput,
// ErrInterrupted, or a store error) only when no response may be released.
func (p *Pipeline) Process(ctx context.Context, data []byte) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	r := &request{raw: data}
	now := p.cfg.Clock().UTC()

	req, err := bundle.DecodeRequest(data, p.cfg.Limits)
	if err != nil {
		return p.refuse(ctx, r, refuse(StageDecode, CodeMalformed, "request bundle: %v", err))
	}
	r.req = req
	r.digest = bundle.RequestDigest(req)
	log := p.cfg.Logger.With("request", req.ID, "digest", r.digest.String())

	// An identical request that was completed returns its stored response;
	// the same id with other content is refused.
	st, err := p.cfg.Store.LookupRequest(req.ID)
	switch {
	case errors.Is(err, store.ErrRequestNotFound):
	case err != nil:
		return Outcome{}, fmt.Errorf("look up request %q in the ledger: %w", req.ID, err)
	case bundle.Digest(st.Digest) != r.digest:
		return p.refuse(ctx, r, refuse(StageReplay, CodeRequestIDReused,
			"request id %q was already used for a request with digest %s; this one has digest %s",
			req.ID, bundle.Digest(st.Digest), r.digest))
	case st.State == store.StateDone:
		resp, err := bundle.DecodeResponse(st.Response, p.cfg.Limits)
		if err != nil {
			return Outcome{}, fmt.Errorf("stored response for request %q: %w", req.ID, err)
		}
		log.Info("identical request already signed; returning the stored response")
		return Outcome{Encoded: st.Response, Response: resp, Replayed: true}, nil
	}

	if rf := p.checkTime(r, now); rf != nil {
		return p.refuse(ctx, r, rf)
	}
	if rf := p.checkRequester(r, now); rf != nil {
		return p.refuse(ctx, r, rf)
	}
	if rf := p.parse(r); rf != nil {
		return p.refuse(ctx, r, rf)
	}
	if rf := p.evaluate(r, now); rf != nil {
		return p.refuse(ctx, r, rf)
	}
	if rf := p.checkQuorum(r, now); rf != nil {
		return p.refuse(ctx, r, rf)
	}
	if rf, err := p.reserve(r); err != nil {
		return Outcome{}, err
	} else if rf != nil {
		return p.refuse(ctx, r, rf)
	}
	log.Info("reserved; signing in the HSM", "transactions", len(r.txs))

	signed, err := chain.SignBatch(ctx, p.cfg.HSM, r.txs, p.cfg.Workers, p.cfg.Progress)
	if err != nil {
		if ctx.Err() != nil {
			if _, aerr := p.cfg.Store.Abort(r.reserve, p.record(r, "interrupted", []string{"signing interrupted: " + err.Error()})); aerr != nil {
				return Outcome{}, fmt.Errorf("%w (and the abort could not be recorded: %v)", ErrInterrupted, aerr)
			}
			return Outcome{}, ErrInterrupted
		}
		code := CodeHSM
		stage := StageSign
		if !isHSMError(err) {
			code = CodeSelfVerifyFailed
		}
		return p.refuse(ctx, r, refuse(stage, code, "%v (nothing was signed; the request may be submitted again)", err))
	}
	return p.complete(ctx, r, signed)
}

// RefuseUnreadable answers input that could not be read at all (larger
// than the cap, not a regular file, a read error) with a signed refusal at
// the decode stage whose reason is cause, recorded in the audit log like
// every refusal. It returns an error only when no response may be released.
func (p *Pipeline) RefuseUnreadable(ctx context.Context, cause error) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refuse(ctx, &request{}, refuse(StageDecode, CodeMalformed, "request bundle: %v", cause))
}

func isHSMError(err error) bool {
	for _, e := range []error{hsm.ErrSessionFailed, hsm.ErrKeyNotFound, hsm.ErrAmbiguousKey,
		hsm.ErrMechanismUnsupported, hsm.ErrPINLocked, hsm.ErrPINIncorrect, hsm.ErrBadSignature, hsm.ErrTokenNotPresent} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (p *Pipeline) checkTime(r *request, now time.Time) *refusal {
	if err := p.cfg.Store.CheckClock(now); err != nil {
		return refuse(StageClock, CodeClockBehind, "%v", err)
	}
	if exp := time.Unix(r.req.Expires, 0).UTC(); !now.Before(exp) {
		return refuse(StageRequest, CodeExpired, "request expired at %s (signer time %s)",
			exp.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if created := time.Unix(r.req.Created, 0).UTC(); created.After(now.Add(p.cfg.ClockSkew)) {
		return refuse(StageRequest, CodeNotYetValid, "request created at %s, later than signer time %s",
			created.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	return nil
}

func (p *Pipeline) checkRequester(r *request, now time.Time) *refusal {
	if r.req.RequesterSig.Signer != r.req.Requester {
		return refuse(StageRequester, CodeBadRequester, "request.requester_sig is by %q but the request names requester %q",
			r.req.RequesterSig.Signer, r.req.Requester)
	}
	if err := p.cfg.Roster.VerifyRequester(r.digest, r.req.RequesterSig, now); err != nil {
		return refuse(StageRequester, CodeBadRequester, "%v", err)
	}
	return nil
}

func (p *Pipeline) parse(r *request) *refusal {
	r.txs = make([]chain.Tx, len(r.req.Transactions))
	r.sums = make([]chain.Summary, len(r.req.Transactions))
	for i, t := range r.req.Transactions {
		ad, ok := p.cfg.Adapters[chain.Network(t.Network)]
		if !ok {
			return refuse(StageParse, CodeNetwork, "request.transactions[%d].network: %q is not a network this signer serves", i, t.Network)
		}
		want := bundle.FormatPSBT
		if ad.Network().Family() == chain.FamilyETH {
			want = bundle.FormatEthRLP
		}
		if t.Format != want {
			return refuse(StageParse, CodeBadTransaction, "request.transactions[%d].format: %q is not valid for %s (want %q)", i, t.Format, t.Network, want)
		}
		tx, err := ad.Parse(t.Payload)
		if err != nil {
			return refuse(StageParse, CodeBadTransaction, "request.transactions[%d] (%s): %v", i, t.Network, err)
		}
		r.txs[i] = tx
		r.sums[i] = tx.Summary()
	}
	return nil
}

func (p *Pipeline) evaluate(r *request, now time.Time) *refusal {
	dec, err := p.cfg.Policy.Evaluate(policy.Input{
		Kind:         r.req.Kind,
		Requester:    r.req.Requester,
		Transactions: r.sums,
		Now:          now,
		Usage:        p.cfg.Store,
		OwnAddresses: p.cfg.OwnAddresses,
	})
	if err != nil {
		return refuse(StagePolicy, CodePolicyDenied, "policy could not be evaluated: %v", err)
	}
	r.dec = dec
	if !dec.Allow {
		return refuse(StagePolicy, CodePolicyDenied, "%s", denialReason(dec))
	}
	return nil
}

// denialReason is the decision's reason plus every failed check.
func denialReason(d policy.Decision) string {
	parts := []string{d.Reason}
	for _, c := range d.Checks {
		if !c.Pass {
			parts = append(parts, c.Name+": "+c.Detail)
		}
	}
	if d.Rule != "" {
		parts[0] = fmt.Sprintf("rule %q: %s", d.Rule, d.Reason)
	}
	return strings.Join(parts, "; ")
}

func (p *Pipeline) checkQuorum(r *request, now time.Time) *refusal {
	res, err := p.cfg.Roster.Verify(quorum.VerifyInput{
		RequestDigest: r.digest,
		PolicyHash:    p.cfg.Policy.Policy().Hash(),
		RosterHash:    p.cfg.Roster.Hash(),
		Approvals:     r.req.Approvals,
		Requirement:   r.dec.Quorum,
		Requester:     r.req.Requester,
		Now:           now,
	})
	if err != nil {
		return refuse(StageQuorum, CodeNoQuorum, "approvals could not be verified: %v", err)
	}
	r.quorum = res
	if !res.Satisfied {
		var why []string
		why = append(why, "requirement "+r.dec.Quorum.String()+" not met")
		if len(res.Counted) > 0 {
			why = append(why, "counted: "+strings.Join(res.Counted, ", "))
		}
		for _, rj := range res.Rejected {
			why = append(why, rj.String())
		}
		for _, m := range res.Missing {
			why = append(why, "missing: "+m)
		}
		return refuse(StageQuorum, CodeNoQuorum, "%s", strings.Join(why, "; "))
	}
	return nil
}

// reserve takes the request id, outpoints/nonces and velocity charges and
// writes the audit intent in one durable transaction. A conflict is a
// refusal; a store that cannot be written is an error (no output).
func (p *Pipeline) reserve(r *request) (*refusal, error) {
	consumes := consumesOf(r.sums, r.dec.AllowFeeBump)
	if r.dec.AllowFeeBump {
		if rf, err := p.checkFeeBump(r); rf != nil || err != nil {
			return rf, err
		}
	}
	charges := make([]store.Charge, len(r.dec.Charges))
	for i, c := range r.dec.Charges {
		charges[i] = store.Charge{Counter: c.Counter, Amount: new(big.Int).Set(c.Amount)}
	}
	intent := p.record(r, "allow", p.allowReasons(r))
	res, err := p.cfg.Store.Reserve(store.ReserveRequest{
		RequestID:     r.req.ID,
		RequestDigest: r.digest,
		Consumes:      consumes,
		Charges:       charges,
		Intent:        intent,
	})
	var conflict *store.ConflictError
	switch {
	case err == nil:
		r.reserve = res
		return nil, nil
	case errors.As(err, &conflict):
		return refuse(StageReserve, CodeConflict, "%v", err), nil
	case errors.Is(err, store.ErrClockBehind):
		return refuse(StageClock, CodeClockBehind, "%v", err), nil
	case errors.Is(err, store.ErrInProgress), errors.Is(err, store.ErrAlreadyCompleted):
		return refuse(StageReplay, CodeConflict, "%v", err), nil
	default:
		return nil, fmt.Errorf("%w: reserve request %q: %w", ErrNoOutput, r.req.ID, err)
	}
}

func (p *Pipeline) allowReasons(r *request) []string {
	out := []string{fmt.Sprintf("rule %q: %s", r.dec.Rule, r.dec.Reason)}
	for _, c := range r.dec.Checks {
		out = append(out, c.Name+": "+c.Detail)
	}
	return out
}

// record builds an audit record carrying everything known about r.
func (p *Pipeline) record(r *request, decision string, reasons []string) store.Record {
	rec := store.Record{
		Decision:   decision,
		Reasons:    reasons,
		PolicyHash: store.Digest(p.cfg.Policy.Policy().Hash()),
		RosterHash: store.Digest(p.cfg.Roster.Hash()),
		Approvers:  append([]string(nil), r.quorum.Counted...),
	}
	if r.req != nil {
		rec.RequestID = r.req.ID
		rec.RequestDigest = store.Digest(r.digest)
	}
	for _, s := range r.sums {
		rec.TxIDs = append(rec.TxIDs, s.ID)
	}
	return rec
}

func (p *Pipeline) baseResponse(r *request, now time.Time) *bundle.Response {
	resp := &bundle.Response{
		Version:    bundle.Version,
		PolicyHash: p.cfg.Policy.Policy().Hash(),
		RosterHash: p.cfg.Roster.Hash(),
		Created:    now.Unix(),
	}
	if r.req != nil {
		resp.RequestID = r.req.ID
		resp.RequestDigest = r.digest
	}
	return resp
}

// complete records the outcome, builds and signs the response naming that
// audit record, stores it for replay and checkpoints the audit chain.
func (p *Pipeline) complete(ctx context.Context, r *request, signed [][]byte) (Outcome, error) {
	now := p.cfg.Clock().UTC()
	resp := p.baseResponse(r, now)
	resp.Status = bundle.StatusSigned
	for i, t := range r.req.Transactions {
		resp.Signed = append(resp.Signed, bundle.Transaction{Network: t.Network, Format: t.Format, Payload: signed[i]})
	}
	var encoded []byte
	_, err := p.cfg.Store.Complete(r.reserve, store.CompleteRequest{
		Outcome: p.record(r, "signed", []string{fmt.Sprintf("%d transactions signed", len(signed))}),
		Build: func(rec store.Record) ([]byte, error) {
			resp.AuditSeq = rec.Seq
			resp.AuditHead = bundle.Digest(rec.Hash)
			if err := bundle.SignResponse(resp, p.cfg.Identity, p.fingerprint); err != nil {
				return nil, err
			}
			b, err := bundle.EncodeResponse(resp)
			encoded = b
			return b, err
		},
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: complete request %q: %w", ErrNoOutput, r.req.ID, err)
	}
	if _, err := p.cfg.Store.Checkpoint(ctx); err != nil {
		return Outcome{}, fmt.Errorf("%w: checkpoint after request %q: %w", ErrNoOutput, r.req.ID, err)
	}
	p.cfg.Logger.Info("signed", "request", r.req.ID, "transactions", len(signed), "audit_seq", resp.AuditSeq)
	return Outcome{Encoded: encoded, Response: resp}, nil
}

// refuse records the refusal (aborting the reservation if there is one),
// then builds and signs a refusal response naming that audit record.
func (p *Pipeline) refuse(ctx context.Context, r *request, rf *refusal) (Outcome, error) {
	now := p.cfg.Clock().UTC()
	reason := fmt.Sprintf("%s: %s: %s", rf.stage, rf.code, rf.reason)
	rec := p.record(r, "refused", []string{reason})
	var (
		out store.Record
		err error
	)
	if r.reserve != nil {
		out, err = p.cfg.Store.Abort(r.reserve, rec)
	} else {
		out, err = p.cfg.Store.RecordRefusal(rec)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: record refusal (%s): %w", ErrNoOutput, reason, err)
	}
	resp := p.baseResponse(r, now)
	resp.Status = bundle.StatusRefused
	resp.Refusal = &bundle.Refusal{Stage: string(rf.stage), Code: rf.code, Reason: truncate(rf.reason, 4000)}
	resp.AuditSeq = out.Seq
	resp.AuditHead = bundle.Digest(out.Hash)
	if err := bundle.SignResponse(resp, p.cfg.Identity, p.fingerprint); err != nil {
		return Outcome{}, fmt.Errorf("%w: sign refusal: %w", ErrNoOutput, err)
	}
	encoded, err := bundle.EncodeResponse(resp)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: encode refusal: %w", ErrNoOutput, err)
	}
	if _, err := p.cfg.Store.Checkpoint(ctx); err != nil {
		return Outcome{}, fmt.Errorf("%w: checkpoint after refusal: %w", ErrNoOutput, err)
	}
	p.cfg.Logger.Warn("refused", "request", resp.RequestID, "stage", rf.stage, "code", rf.code, "reason", rf.reason)
	return Outcome{Encoded: encoded, Response: resp}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
