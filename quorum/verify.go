package quorum

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/sigkey"
)

// ReasonCode says why an approval (or an admin signature) did not count.
type ReasonCode string

// Reason codes. One approval can have several.
const (
	ReasonUnknownOfficer   ReasonCode = "unknown-officer"
	ReasonWrongRole        ReasonCode = "wrong-role"
	ReasonRevoked          ReasonCode = "revoked"
	ReasonNotYetValid      ReasonCode = "not-yet-valid"
	ReasonMemberExpired    ReasonCode = "roster-entry-expired"
	ReasonApprovalExpired  ReasonCode = "approval-expired"
	ReasonRequester        ReasonCode = "requester-self-approval"
	ReasonExcluded         ReasonCode = "excluded"
	ReasonPolicyMismatch   ReasonCode = "policy-hash-mismatch"
	ReasonRosterMismatch   ReasonCode = "roster-hash-mismatch"
	ReasonAlgorithm        ReasonCode = "algorithm-mismatch"
	ReasonBadSignature     ReasonCode = "bad-signature"
	ReasonDuplicate        ReasonCode = "duplicate"
	ReasonNotInRequirement ReasonCode = "not-in-requirement"
)

// Reason is one reason with a plain-language detail.
type Reason struct {
	Code   ReasonCode
	Detail string
}

// String renders "code: detail".
func (r Reason) String() string { return string(r.Code) + ": " + r.Detail }

// Rejection is one approval that did not count, with every reason why.
type Rejection struct {
	Officer string // as claimed by the approval
	Expires int64
	Reasons []Reason
}

// String renders the rejection on one line.
func (r Rejection) String() string {
	var s []string
	for _, x := range r.Reasons {
		s = append(s, x.String())
	}
	if r.Expires == 0 {
		return fmt.Sprintf("signature by %q did not count: %s", r.Officer, strings.Join(s, "; "))
	}
	return fmt.Sprintf("approval by %q (expires %s) did not count: %s", r.Officer,
		time.Unix(r.Expires, 0).UTC().Format(time.RFC3339), strings.Join(s, "; "))
}

// Result is the outcome of Verify. It is identical for any order of the
// same approvals.
type Result struct {
	// Satisfied is true only when the requirement is met.
	Satisfied bool
	// Counted are the officers whose approval counted, sorted.
	Counted []string
	// Rejected are the approvals that did not count, sorted by officer,
	// expiry and signature bytes, each with every reason.
	Rejected []Rejection
	// Missing says in plain language what is still needed (empty when
	// Satisfied).
	Missing []string
}

// Explain renders the result for an officer.
func (r Result) Explain() string {
	var b strings.Builder
	if r.Satisfied {
		b.WriteString("quorum: satisfied\n")
	} else {
		b.WriteString("quorum: NOT satisfied\n")
	}
	fmt.Fprintf(&b, "  counted: %s\n", listOrNone(r.Counted))
	for _, x := range r.Rejected {
		fmt.Fprintf(&b, "  %s\n", x)
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "  missing: %s\n", m)
	}
	return b.String()
}

// VerifyInput is everything Verify needs.
type VerifyInput struct {
	// RequestDigest is the digest of the request being approved.
	RequestDigest bundle.Digest
	// PolicyHash and RosterHash are the ACTIVE policy and roster hashes;
	// approvals made under others never count.
	PolicyHash, RosterHash bundle.Digest
	Approvals              []bundle.Approval
	Requirement            Requirement
	// Requester is the roster id of the requester: their approval never counts.
	Requester string
	Now       time.Time
}

// Verify checks every approval against the roster and the requirement. It
// returns an error (wrapping ErrBadInput or ErrBadRequirement) only for a
// malformed input; the caller must refuse in that case too.
func (r *Roster) Verify(in VerifyInput) (Result, error) {
	if r == nil {
		return Result{}, fmt.Errorf("%w: no roster", ErrBadInput)
	}
	if in.RequestDigest.IsZero() || in.PolicyHash.IsZero() || in.RosterHash.IsZero() {
		return Result{}, fmt.Errorf("%w: request digest, policy hash and roster hash must all be set", ErrBadInput)
	}
	if in.Now.IsZero() {
		return Result{}, fmt.Errorf("%w: no time given", ErrBadInput)
	}
	if err := in.Requirement.Validate(); err != nil {
		return Result{}, err
	}
	if in.RosterHash != r.hash {
		return Result{}, fmt.Errorf("%w: active roster hash %s is not the hash of this roster %s", ErrBadInput, in.RosterHash, r.hash)
	}
	excluded := map[string]bool{in.Requester: true}
	for _, e := range in.Requirement.Excluded {
		excluded[e] = true
	}
	wanted := in.Requirement.members()

	// Canonical order: results never depend on the order given.
	apps := slices.Clone(in.Approvals)
	sort.SliceStable(apps, func(i, j int) bool { return approvalLess(apps[i], apps[j]) })

	var res Result
	counted := map[string]bool{}
	for _, a := range apps {
		reasons := r.checkApproval(in, a, excluded)
		if len(reasons) == 0 && counted[a.Officer] {
			reasons = append(reasons, Reason{ReasonDuplicate, fmt.Sprintf("%s already counted once", a.Officer)})
		}
		if len(reasons) == 0 && !wanted[a.Officer] {
			reasons = append(reasons, Reason{ReasonNotInRequirement, fmt.Sprintf("%s is a valid officer but not in any group or named approver of this rule", a.Officer)})
		}
		if len(reasons) > 0 {
			res.Rejected = append(res.Rejected, Rejection{Officer: a.Officer, Expires: a.Expires, Reasons: reasons})
			continue
		}
		counted[a.Officer] = true
		res.Counted = append(res.Counted, a.Officer)
	}
	sort.Strings(res.Counted)

	ok := true
	if in.Requirement.hasExpr() {
		ok = in.Requirement.Expr.eval(counted, r.ineligible(excluded, in.Now), &res.Missing)
	}
	for _, id := range in.Requirement.Required {
		if counted[id] {
			continue
		}
		ok = false
		switch {
		case id == in.Requester:
			res.Missing = append(res.Missing, fmt.Sprintf("%s must approve but is the requester; this request cannot reach quorum", id))
		default:
			res.Missing = append(res.Missing, fmt.Sprintf("%s must approve", id))
		}
	}
	res.Satisfied = ok
	return res, nil
}

// ineligible reports ids that can no longer produce a counting approval:
// excluded ids, ids not in the roster, and entries that are revoked,
// outside their validity period or not officers.
func (r *Roster) ineligible(excluded map[string]bool, now time.Time) func(string) bool {
	return func(id string) bool {
		if excluded[id] {
			return true
		}
		m, ok := r.Member(id)
		if !ok {
			return true
		}
		c, _ := m.validAt(now)
		return m.Revoked || c != "" || !m.HasRole(RoleOfficer)
	}
}

func approvalLess(a, b bundle.Approval) bool {
	if a.Officer != b.Officer {
		return a.Officer < b.Officer
	}
	if a.Expires != b.Expires {
		return a.Expires > b.Expires // the longest-lived valid approval counts
	}
	if c := bytes.Compare(a.PolicyHash[:], b.PolicyHash[:]); c != 0 {
		return c < 0
	}
	if c := bytes.Compare(a.RosterHash[:], b.RosterHash[:]); c != 0 {
		return c < 0
	}
	if a.Algorithm != b.Algorithm {
		return a.Algorithm < b.Algorithm
	}
	return bytes.Compare(a.Value, b.Value) < 0
}

func (r *Roster) checkApproval(in VerifyInput, a bundle.Approval, excluded map[string]bool) []Reason {
	var out []Reason
	add := func(c ReasonCode, f string, args ...any) { out = append(out, Reason{c, fmt.Sprintf(f, args...)}) }
	m, known := r.Member(a.Officer)
	if !known {
		add(ReasonUnknownOfficer, "%q is not in the active roster", a.Officer)
	} else {
		if !m.HasRole(RoleOfficer) {
			add(ReasonWrongRole, "%s does not have the officer role", m.ID)
		}
		if m.Revoked {
			add(ReasonRevoked, "%s is revoked in the roster", m.ID)
		}
		if c, d := m.validAt(in.Now); c != "" {
			add(c, "%s", d)
		}
	}
	if in.Now.After(time.Unix(a.Expires, 0)) {
		add(ReasonApprovalExpired, "approval expired at %s", time.Unix(a.Expires, 0).UTC().Format(time.RFC3339))
	}
	if a.Officer == in.Requester {
		add(ReasonRequester, "%s is the requester and may not approve their own request", a.Officer)
	} else if excluded[a.Officer] {
		add(ReasonExcluded, "%s is excluded from approving this request", a.Officer)
	}
	if a.PolicyHash != in.PolicyHash {
		add(ReasonPolicyMismatch, "approved under policy %s, active policy is %s", a.PolicyHash, in.PolicyHash)
	}
	if a.RosterHash != in.RosterHash {
		add(ReasonRosterMismatch, "approved under roster %s, active roster is %s", a.RosterHash, in.RosterHash)
	}
	if known {
		if a.Algorithm != m.Key.Algorithm {
			add(ReasonAlgorithm, "signature algorithm %s, roster key of %s is %s", a.Algorithm, m.ID, m.Key.Algorithm)
		} else {
			msg := bundle.ApprovalMessage(in.RequestDigest, a.PolicyHash, a.RosterHash, a.Expires, a.Officer)
			if err := m.Key.Verify(msg, a.Value); err != nil {
				add(ReasonBadSignature, "signature does not verify with %s's roster key for this request", m.ID)
			}
		}
	}
	return out
}

// ApproveInput is what an officer signs.
type ApproveInput struct {
	Officer                string
	RequestDigest          bundle.Digest
	PolicyHash, RosterHash bundle.Digest
	Expires                time.Time
}

// Approve signs an approval with s. It does not check the roster.
func Approve(s sigkey.Signer, in ApproveInput) (bundle.Approval, error) {
	if s == nil || in.Officer == "" || in.RequestDigest.IsZero() || in.PolicyHash.IsZero() || in.RosterHash.IsZero() || in.Expires.IsZero() {
		return bundle.Approval{}, fmt.Errorf("%w: approve needs a signer, officer id, request digest, policy hash, roster hash and expiry", ErrBadInput)
	}
	exp := in.Expires.Unix()
	msg := bundle.ApprovalMessage(in.RequestDigest, in.PolicyHash, in.RosterHash, exp, in.Officer)
	sig, err := s.Sign(msg)
	if err != nil {
		return bundle.Approval{}, fmt.Errorf("sign approval for %s: %w", in.Officer, err)
	}
	return bundle.Approval{
		Officer: in.Officer, Expires: exp, PolicyHash: in.PolicyHash, RosterHash: in.RosterHash,
		Algorithm: s.Public().Algorithm, Value: sig,
	}, nil
}

// VerifyRequester checks the requester signature over the request digest:
// the signer must be in the roster with the requester role, valid at now,
// not revoked, and the signature must verify with the roster key. The
// signed message is the 32 digest bytes. Every failure wraps ErrRequester.
func (r *Roster) VerifyRequester(digest bundle.Digest, sig bundle.Signature, now time.Time) error {
	if r == nil || digest.IsZero() || now.IsZero() {
		return fmt.Errorf("%w: %w: roster, digest and time must be set", ErrRequester, ErrBadInput)
	}
	m, ok := r.Member(sig.Signer)
	if !ok {
		return fmt.Errorf("%w: %q is not in the active roster", ErrRequester, sig.Signer)
	}
	var why []string
	if !m.HasRole(RoleRequester) {
		why = append(why, fmt.Sprintf("%s does not have the requester role", m.ID))
	}
	if m.Revoked {
		why = append(why, fmt.Sprintf("%s is revoked", m.ID))
	}
	if c, d := m.validAt(now); c != "" {
		why = append(why, d)
	}
	if sig.Algorithm != m.Key.Algorithm {
		why = append(why, fmt.Sprintf("signature algorithm %s, roster key is %s", sig.Algorithm, m.Key.Algorithm))
	} else if err := m.Key.Verify(digest[:], sig.Value); err != nil {
		why = append(why, fmt.Sprintf("signature by %s does not verify for request digest %s", m.ID, digest))
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: %s", ErrRequester, strings.Join(why, "; "))
	}
	return nil
}
