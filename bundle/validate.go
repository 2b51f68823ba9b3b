package bundle

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/icebox-custody/icebox/sigkey"
)

// Validate checks every field rule of a request against lim (zero fields
// take DefaultLimits). It never modifies r. It does not verify signatures.
// The first broken rule is returned as a *FieldError such as
// "request.transactions[3].network: invalid: empty".
func (r *Request) Validate(lim Limits) error {
	lim, err := lim.resolve()
	if err != nil {
		return err
	}
	if r == nil {
		return fieldErr("request", fmt.Errorf("%w: nil", ErrInvalid))
	}
	if r.Version != Version {
		return fieldErr("request.version", fmt.Errorf("%w: %d (only %d)", ErrVersion, r.Version, Version))
	}
	if err := checkToken("request.id", r.ID, lim.MaxIDLen); err != nil {
		return err
	}
	if r.Created <= 0 {
		return fieldErr("request.created", fmt.Errorf("%w: %d is not a positive unix time", ErrInvalid, r.Created))
	}
	if r.Expires <= r.Created {
		return fieldErr("request.expires", fmt.Errorf("%w: %d is not after created %d", ErrInvalid, r.Expires, r.Created))
	}
	if err := checkToken("request.requester", r.Requester, lim.MaxNameLen); err != nil {
		return err
	}
	switch r.Kind {
	case KindWithdrawal, KindSweep, KindConsolidation:
	default:
		return fieldErr("request.kind", fmt.Errorf("%w: %q (want withdrawal, sweep or consolidation)", ErrInvalid, truncate(string(r.Kind))))
	}
	if err := checkText("request.reason", r.Reason, lim.MaxReasonLen); err != nil {
		return err
	}
	if err := checkTxs("request.transactions", r.Transactions, lim); err != nil {
		return err
	}
	if !r.RequesterSig.isZero() {
		if err := checkSig("request.requester_sig", r.RequesterSig, lim); err != nil {
			return err
		}
		if r.RequesterSig.Signer != r.Requester {
			return fieldErr("request.requester_sig.signer", fmt.Errorf("%w: %q is not the requester %q", ErrSignerMismatch, r.RequesterSig.Signer, r.Requester))
		}
	}
	if len(r.Approvals) > lim.MaxApprovals {
		return fieldErr("request.approvals", fmt.Errorf("%w: %d approvals, limit %d", ErrTooLarge, len(r.Approvals), lim.MaxApprovals))
	}
	seen := make(map[string]int, len(r.Approvals))
	for i := range r.Approvals {
		path := fmt.Sprintf("request.approvals[%d]", i)
		if err := checkApproval(path, &r.Approvals[i], lim); err != nil {
			return err
		}
		if j, dup := seen[r.Approvals[i].Officer]; dup {
			return fieldErr(path+".officer", fmt.Errorf("%w: %q already approved in approvals[%d]", ErrInvalid, r.Approvals[i].Officer, j))
		}
		seen[r.Approvals[i].Officer] = i
	}
	return nil
}

// Validate checks a detached approval's field rules. It never modifies a
// and does not verify the signature.
func (a *DetachedApproval) Validate(lim Limits) error {
	lim, err := lim.resolve()
	if err != nil {
		return err
	}
	if a == nil {
		return fieldErr("approval", fmt.Errorf("%w: nil", ErrInvalid))
	}
	if a.Version != Version {
		return fieldErr("approval.version", fmt.Errorf("%w: %d (only %d)", ErrVersion, a.Version, Version))
	}
	if err := checkToken("approval.request_id", a.RequestID, lim.MaxIDLen); err != nil {
		return err
	}
	if a.RequestDigest.IsZero() {
		return fieldErr("approval.request_digest", fmt.Errorf("%w: all zero", ErrInvalid))
	}
	return checkApproval("approval.approval", &a.Approval, lim)
}

// Validate checks a response's field rules. It never modifies r and does
// not verify the signature. A refusal may leave RequestID empty and
// RequestDigest, PolicyHash, RosterHash and AuditHead zero (the request may
// not even have decoded); a signed response must set all of them.
func (r *Response) Validate(lim Limits) error {
	lim, err := lim.resolve()
	if err != nil {
		return err
	}
	if r == nil {
		return fieldErr("response", fmt.Errorf("%w: nil", ErrInvalid))
	}
	if r.Version != Version {
		return fieldErr("response.version", fmt.Errorf("%w: %d (only %d)", ErrVersion, r.Version, Version))
	}
	if r.Created <= 0 {
		return fieldErr("response.created", fmt.Errorf("%w: %d is not a positive unix time", ErrInvalid, r.Created))
	}
	switch r.Status {
	case StatusSigned:
		if err := checkToken("response.request_id", r.RequestID, lim.MaxIDLen); err != nil {
			return err
		}
		for _, d := range []struct {
			name string
			d    Digest
		}{{"request_digest", r.RequestDigest}, {"policy_hash", r.PolicyHash}, {"roster_hash", r.RosterHash}, {"audit_head", r.AuditHead}} {
			if d.d.IsZero() {
				return fieldErr("response."+d.name, fmt.Errorf("%w: all zero in a signed response", ErrInvalid))
			}
		}
		if r.Refusal != nil {
			return fieldErr("response.refusal", fmt.Errorf("%w: set on a signed response", ErrInvalid))
		}
		if err := checkTxs("response.signed", r.Signed, lim); err != nil {
			return err
		}
	case StatusRefused:
		if r.RequestID != "" {
			if err := checkToken("response.request_id", r.RequestID, lim.MaxIDLen); err != nil {
				return err
			}
		}
		if len(r.Signed) != 0 {
			return fieldErr("response.signed", fmt.Errorf("%w: %d transactions in a refusal", ErrInvalid, len(r.Signed)))
		}
		if r.Refusal == nil {
			return fieldErr("response.refusal", fmt.Errorf("%w: missing on a refused response", ErrInvalid))
		}
		if err := checkToken("response.refusal.stage", r.Refusal.Stage, lim.MaxNameLen); err != nil {
			return err
		}
		if err := checkToken("response.refusal.code", r.Refusal.Code, lim.MaxNameLen); err != nil {
			return err
		}
		if err := checkText("response.refusal.reason", r.Refusal.Reason, lim.MaxReasonLen); err != nil {
			return err
		}
	default:
		return fieldErr("response.status", fmt.Errorf("%w: %q (want signed or refused)", ErrInvalid, truncate(string(r.Status))))
	}
	if !r.SignerSig.isZero() {
		if err := checkSig("response.signer_sig", r.SignerSig, lim); err != nil {
			return err
		}
	}
	return nil
}

func (s Signature) isZero() bool {
	return s.Signer == "" && s.Algorithm == sigkey.AlgorithmUnknown && len(s.Value) == 0
}

func checkTxs(path string, txs []Transaction, lim Limits) error {
	if len(txs) == 0 {
		return fieldErr(path, fmt.Errorf("%w: no transactions", ErrInvalid))
	}
	if len(txs) > lim.MaxTransactions {
		return fieldErr(path, fmt.Errorf("%w: %d transactions, limit %d", ErrTooLarge, len(txs), lim.MaxTransactions))
	}
	for i, t := range txs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := checkToken(p+".network", t.Network, lim.MaxNameLen); err != nil {
			return err
		}
		switch t.Format {
		case FormatPSBT, FormatEthRLP:
		default:
			return fieldErr(p+".format", fmt.Errorf("%w: %q (want psbt or eth-rlp)", ErrInvalid, truncate(string(t.Format))))
		}
		if len(t.Payload) == 0 {
			return fieldErr(p+".payload", fmt.Errorf("%w: empty", ErrInvalid))
		}
		if len(t.Payload) > lim.MaxPayloadBytes {
			return fieldErr(p+".payload", fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(t.Payload), lim.MaxPayloadBytes))
		}
	}
	return nil
}

func checkSig(path string, s Signature, lim Limits) error {
	if err := checkToken(path+".signer", s.Signer, lim.MaxNameLen); err != nil {
		return err
	}
	if err := checkAlgorithm(path+".algorithm", s.Algorithm); err != nil {
		return err
	}
	return checkSigValue(path+".value", s.Value, lim)
}

func checkApproval(path string, a *Approval, lim Limits) error {
	if err := checkToken(path+".officer", a.Officer, lim.MaxNameLen); err != nil {
		return err
	}
	if a.Expires <= 0 {
		return fieldErr(path+".expires", fmt.Errorf("%w: %d is not a positive unix time", ErrInvalid, a.Expires))
	}
	if a.PolicyHash.IsZero() {
		return fieldErr(path+".policy_hash", fmt.Errorf("%w: all zero", ErrInvalid))
	}
	if a.RosterHash.IsZero() {
		return fieldErr(path+".roster_hash", fmt.Errorf("%w: all zero", ErrInvalid))
	}
	if err := checkAlgorithm(path+".algorithm", a.Algorithm); err != nil {
		return err
	}
	return checkSigValue(path+".value", a.Value, lim)
}

func checkAlgorithm(path string, a sigkey.Algorithm) error {
	switch a {
	case sigkey.Ed25519, sigkey.P256:
		return nil
	default:
		return fieldErr(path, fmt.Errorf("%w: %d (want %d ed25519 or %d p256)", sigkey.ErrUnknownAlgorithm, a, sigkey.Ed25519, sigkey.P256))
	}
}

func checkSigValue(path string, v []byte, lim Limits) error {
	if len(v) == 0 {
		return fieldErr(path, fmt.Errorf("%w: empty", ErrInvalid))
	}
	if len(v) > lim.MaxSignatureLen {
		return fieldErr(path, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(v), lim.MaxSignatureLen))
	}
	return nil
}

// checkToken enforces identifiers: 1..max bytes of printable ASCII without
// spaces (0x21–0x7e).
func checkToken(path, s string, maxLen int) error {
	if s == "" {
		return fieldErr(path, fmt.Errorf("%w: empty", ErrInvalid))
	}
	if len(s) > maxLen {
		return fieldErr(path, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(s), maxLen))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return fieldErr(path, fmt.Errorf("%w: byte %d is 0x%02x, want printable ASCII without spaces", ErrInvalid, i, c))
		}
	}
	return nil
}

// checkText enforces free text: at most max bytes of UTF-8 without control
// characters (newline and tab allowed) and without bidirectional overrides,
// so that a reason cannot rewrite what a terminal shows.
func checkText(path, s string, maxLen int) error {
	if len(s) > maxLen {
		return fieldErr(path, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(s), maxLen))
	}
	if !utf8.ValidString(s) {
		return fieldErr(path, fmt.Errorf("%w: not valid UTF-8", ErrInvalid))
	}
	for i, c := range s {
		if c == '\n' || c == '\t' {
			continue
		}
		if unicode.IsControl(c) || isBidiControl(c) {
			return fieldErr(path, fmt.Errorf("%w: control character %U at byte %d", ErrInvalid, c, i))
		}
	}
	return nil
}

func isBidiControl(c rune) bool {
	return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f || c == 0x061c
}

// truncate shortens untrusted strings quoted in errors.
func truncate(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
