package bundle

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Describe writes a plain-text rendering of b for a person (`icebox
// inspect`): header fields, times in UTC, the digest as hex and as words,
// approvals, and for responses the status or refusal. Signatures are shown
// as present or absent — Describe verifies nothing, and says so. What the
// transactions do is not described here: the caller adds that from the
// chain adapters. Untrusted text is printed quoted when it holds anything
// but printable characters, so it cannot drive the terminal. It returns the
// first write error.
func Describe(w io.Writer, b Bundle) error {
	p := &printer{w: w}
	switch v := b.(type) {
	case *Request:
		describeRequest(p, v)
	case *DetachedApproval:
		describeApproval(p, v)
	case *Response:
		describeResponse(p, v)
	default:
		return fmt.Errorf("bundle: cannot describe %T", b)
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) field(name string, value string) {
	p.line("  %-16s %s", name+":", value)
}

func describeRequest(p *printer, r *Request) {
	p.line("Icebox request (format version %d)", r.Version)
	p.field("id", safe(r.ID))
	p.field("kind", safe(string(r.Kind)))
	p.field("requester", safe(r.Requester))
	p.field("created", utc(r.Created))
	p.field("expires", utc(r.Expires))
	nets := r.Networks()
	for i := range nets {
		nets[i] = safe(nets[i])
	}
	p.field("networks", strings.Join(nets, ", "))
	p.field("transactions", txCount(r.Transactions))
	if r.Reason == "" {
		p.field("reason", "(none)")
	} else {
		p.field("reason", safe(r.Reason)+"  (free text from the requester, not checked)")
	}
	d := RequestDigest(r)
	p.field("digest", d.String())
	p.field("digest words", DigestWords(d))
	p.field("requester sig", sigLine(r.RequesterSig))
	p.field("approvals", strconv.Itoa(len(r.Approvals))+notVerified(len(r.Approvals) > 0))
	for i, a := range r.Approvals {
		p.line("    [%d] %s", i, approvalLine(a))
	}
}

func describeApproval(p *printer, a *DetachedApproval) {
	p.line("Icebox approval (format version %d)", a.Version)
	p.field("request id", safe(a.RequestID))
	p.field("request digest", a.RequestDigest.String())
	p.field("digest words", DigestWords(a.RequestDigest))
	p.field("approval", approvalLine(a.Approval)+notVerified(true))
}

func describeResponse(p *printer, r *Response) {
	p.line("Icebox response (format version %d)", r.Version)
	switch r.Status {
	case StatusSigned:
		p.field("status", "signed")
	case StatusRefused:
		p.field("status", "REFUSED")
	default:
		p.field("status", safe(string(r.Status)))
	}
	p.field("request id", orNone(safe(r.RequestID), r.RequestID == ""))
	p.field("request digest", orNone(r.RequestDigest.String(), r.RequestDigest.IsZero()))
	if !r.RequestDigest.IsZero() {
		p.field("request words", DigestWords(r.RequestDigest))
	}
	p.field("created", utc(r.Created))
	if r.Status == StatusSigned || len(r.Signed) > 0 {
		p.field("signed txs", txCount(r.Signed))
	}
	if f := r.Refusal; f != nil {
		p.field("refused at", safe(f.Stage))
		p.field("refusal code", safe(f.Code))
		p.field("refusal reason", safe(f.Reason))
	}
	p.field("policy hash", prefix(r.PolicyHash))
	p.field("roster hash", prefix(r.RosterHash))
	p.field("audit record", fmt.Sprintf("#%d, chain head %s", r.AuditSeq, prefix(r.AuditHead)))
	d := ResponseDigest(r)
	p.field("digest", d.String())
	p.field("digest words", DigestWords(d))
	p.field("signer sig", sigLine(r.SignerSig))
}

func txCount(txs []Transaction) string {
	counts := map[TxFormat]int{}
	var order []TxFormat
	for _, t := range txs {
		if counts[t.Format] == 0 {
			order = append(order, t.Format)
		}
		counts[t.Format]++
	}
	parts := make([]string, len(order))
	for i, f := range order {
		parts[i] = fmt.Sprintf("%s %d", safe(string(f)), counts[f])
	}
	s := strconv.Itoa(len(txs))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func approvalLine(a Approval) string {
	return fmt.Sprintf("officer %s, expires %s, policy %s, roster %s, %s signature",
		safe(a.Officer), utc(a.Expires), prefix(a.PolicyHash), prefix(a.RosterHash), a.Algorithm)
}

func sigLine(s Signature) string {
	if s.isZero() {
		return "ABSENT"
	}
	return fmt.Sprintf("%s by %s (present, not verified by this view)", s.Algorithm, safe(s.Signer))
}

func notVerified(any bool) string {
	if any {
		return " (signatures not verified by this view)"
	}
	return ""
}

func orNone(s string, none bool) string {
	if none {
		return "(none)"
	}
	return s
}

// prefix shows the first 8 bytes of a digest, enough to compare by eye.
func prefix(d Digest) string {
	if d.IsZero() {
		return "(none)"
	}
	return d.String()[:16] + "…"
}

func utc(t int64) string {
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// safe returns s as is when it is printable (spaces allowed, no control or
// bidi characters), and Go-quoted otherwise.
func safe(s string) string {
	for _, c := range s {
		if c == unicode.ReplacementChar || !unicode.IsPrint(c) && c != ' ' || isBidiControl(c) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
