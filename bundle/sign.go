package bundle

import (
	"crypto/sha256"
	"fmt"

	"github.com/icebox-custody/icebox/sigkey"
)

// Digest domains. Each digest is SHA-256(domain || canonical encoding).
const (
	RequestDomain  = "icebox/request/v1"
	ResponseDomain = "icebox/response/v1"
)

// RequestDigest returns SHA-256("icebox/request/v1" || E) where E is the
// canonical encoding (tag included) of r without RequesterSig and
// Approvals. It is what the requester signs and what officers approve. It
// does not validate r: call Validate (or use a decoded request) first.
func RequestDigest(r *Request) Digest {
	h := sha256.New()
	h.Write([]byte(RequestDomain))
	h.Write(marshal(TypeRequest, requestToWire(r, false)))
	return Digest(h.Sum(nil))
}

// ResponseDigest returns SHA-256("icebox/response/v1" || E) where E is the
// canonical encoding of r without SignerSig. It is what the signer identity
// key signs.
func ResponseDigest(r *Response) Digest {
	h := sha256.New()
	h.Write([]byte(ResponseDomain))
	h.Write(marshal(TypeResponse, responseToWire(r, false)))
	return Digest(h.Sum(nil))
}

// SignRequest validates r, signs RequestDigest(r) with s and stores the
// signature in r.RequesterSig (Signer = requesterID). requesterID must equal
// r.Requester. The new signature is verified before SignRequest returns; on
// any error r is left unchanged.
func SignRequest(r *Request, s sigkey.Signer, requesterID string) error {
	if err := r.Validate(Limits{}); err != nil {
		return err
	}
	if requesterID != r.Requester {
		return fieldErr("request.requester", fmt.Errorf("%w: request names %q, signing as %q", ErrSignerMismatch, r.Requester, requesterID))
	}
	d := RequestDigest(r)
	sig, err := signAndCheck(s, d[:])
	if err != nil {
		return fieldErr("request.requester_sig", err)
	}
	r.RequesterSig = Signature{Signer: requesterID, Algorithm: s.Public().Algorithm, Value: sig}
	return nil
}

// VerifyRequestSignature checks that r carries a requester signature by pub
// over RequestDigest(r). pub must be the roster key of r.Requester; the
// caller looks it up, never trusting anything inside r. It does not check
// approvals.
func VerifyRequestSignature(r *Request, pub sigkey.PublicKey) error {
	if err := r.Validate(Limits{}); err != nil {
		return err
	}
	if r.RequesterSig.isZero() {
		return fieldErr("request.requester_sig", ErrMissingSignature)
	}
	if r.RequesterSig.Algorithm != pub.Algorithm {
		return fieldErr("request.requester_sig.algorithm", fmt.Errorf("%w: signature is %s, key is %s", ErrSignerMismatch, r.RequesterSig.Algorithm, pub.Algorithm))
	}
	d := RequestDigest(r)
	if err := pub.Verify(d[:], r.RequesterSig.Value); err != nil {
		return fieldErr("request.requester_sig", fmt.Errorf("by %q: %w", r.Requester, err))
	}
	return nil
}

// SignResponse validates resp, signs ResponseDigest(resp) with the signer
// identity key s and stores it in resp.SignerSig. fingerprint must equal
// s.Public().Fingerprint() (a guard against wiring the wrong key). On any
// error resp is left unchanged.
func SignResponse(resp *Response, s sigkey.Signer, fingerprint string) error {
	if err := resp.Validate(Limits{}); err != nil {
		return err
	}
	if fp := s.Public().Fingerprint(); fp != fingerprint {
		return fieldErr("response.signer_sig.signer", fmt.Errorf("%w: key fingerprint is %s, expected %s", ErrSignerMismatch, fp, fingerprint))
	}
	d := ResponseDigest(resp)
	sig, err := signAndCheck(s, d[:])
	if err != nil {
		return fieldErr("response.signer_sig", err)
	}
	resp.SignerSig = Signature{Signer: fingerprint, Algorithm: s.Public().Algorithm, Value: sig}
	return nil
}

// VerifyResponse checks resp's field rules and that it is signed by pub (the
// pinned signer identity key): SignerSig.Signer must be pub's fingerprint and
// the signature must verify over ResponseDigest(resp). Whether the response
// answers the request you sent (RequestID, RequestDigest) is for the caller
// to compare.
func VerifyResponse(resp *Response, pub sigkey.PublicKey) error {
	if err := resp.Validate(Limits{}); err != nil {
		return err
	}
	if resp.SignerSig.isZero() {
		return fieldErr("response.signer_sig", ErrMissingSignature)
	}
	if fp := pub.Fingerprint(); resp.SignerSig.Signer != fp {
		return fieldErr("response.signer_sig.signer", fmt.Errorf("%w: signed by %q, expected %s", ErrSignerMismatch, resp.SignerSig.Signer, fp))
	}
	if resp.SignerSig.Algorithm != pub.Algorithm {
		return fieldErr("response.signer_sig.algorithm", fmt.Errorf("%w: signature is %s, key is %s", ErrSignerMismatch, resp.SignerSig.Algorithm, pub.Algorithm))
	}
	d := ResponseDigest(resp)
	if err := pub.Verify(d[:], resp.SignerSig.Value); err != nil {
		return fieldErr("response.signer_sig", err)
	}
	return nil
}

// ApprovalInput is what an officer approves: a request digest under a
// policy and roster, until Expires.
type ApprovalInput struct {
	RequestDigest Digest
	Officer       string // the officer's roster id
	Expires       int64  // unix seconds
	PolicyHash    Digest
	RosterHash    Digest
}

// SignApproval returns an Approval: s's signature over ApprovalMessage for
// in. The signature is verified before it is returned.
func SignApproval(in ApprovalInput, s sigkey.Signer) (Approval, error) {
	if in.RequestDigest.IsZero() {
		return Approval{}, fieldErr("approval.request_digest", fmt.Errorf("%w: all zero", ErrInvalid))
	}
	a := Approval{
		Officer:    in.Officer,
		Expires:    in.Expires,
		PolicyHash: in.PolicyHash,
		RosterHash: in.RosterHash,
		Algorithm:  s.Public().Algorithm,
		Value:      []byte{0}, // placeholder so the field check passes
	}
	lim := DefaultLimits()
	if err := checkApproval("approval", &a, lim); err != nil {
		return Approval{}, err
	}
	sig, err := signAndCheck(s, ApprovalMessage(in.RequestDigest, in.PolicyHash, in.RosterHash, in.Expires, in.Officer))
	if err != nil {
		return Approval{}, fieldErr("approval.value", err)
	}
	a.Value = sig
	return a, nil
}

// VerifyApproval checks a's signature by pub over ApprovalMessage for the
// request digest req. It checks nothing else (expiry, roster membership,
// policy and roster hashes are the quorum package's job).
func VerifyApproval(req Digest, a Approval, pub sigkey.PublicKey) error {
	if a.Algorithm != pub.Algorithm {
		return fieldErr("approval.algorithm", fmt.Errorf("%w: signature is %s, key is %s", ErrSignerMismatch, a.Algorithm, pub.Algorithm))
	}
	msg := ApprovalMessage(req, a.PolicyHash, a.RosterHash, a.Expires, a.Officer)
	if err := pub.Verify(msg, a.Value); err != nil {
		return fieldErr("approval", fmt.Errorf("by %q: %w", a.Officer, err))
	}
	return nil
}

// AddApproval adds a to r.Approvals, replacing an existing approval by the
// same officer (so a renewed approval never counts twice). The approval's
// fields are checked, its signature is not. The RequestDigest of r is
// unchanged. On error r is left unchanged.
func AddApproval(r *Request, a Approval) error {
	lim := DefaultLimits()
	if err := checkApproval("approval", &a, lim); err != nil {
		return err
	}
	for i := range r.Approvals {
		if r.Approvals[i].Officer == a.Officer {
			r.Approvals[i] = cloneApproval(a)
			return nil
		}
	}
	if len(r.Approvals) >= lim.MaxApprovals {
		return fieldErr("request.approvals", fmt.Errorf("%w: already %d approvals, limit %d", ErrTooLarge, len(r.Approvals), lim.MaxApprovals))
	}
	r.Approvals = append(r.Approvals, cloneApproval(a))
	return nil
}

// AddDetachedApproval checks that d is for r (same RequestDigest) and adds
// its approval with AddApproval.
func AddDetachedApproval(r *Request, d *DetachedApproval) error {
	if err := d.Validate(Limits{}); err != nil {
		return err
	}
	if got := RequestDigest(r); got != d.RequestDigest {
		return fieldErr("approval.request_digest", fmt.Errorf("%w: approval is for %s, request digest is %s", ErrSignerMismatch, d.RequestDigest, got))
	}
	return AddApproval(r, d.Approval)
}

func cloneApproval(a Approval) Approval {
	a.Value = append([]byte(nil), a.Value...)
	return a
}

func signAndCheck(s sigkey.Signer, msg []byte) ([]byte, error) {
	pub := s.Public()
	if err := pub.Validate(); err != nil {
		return nil, err
	}
	sig, err := s.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := pub.Verify(msg, sig); err != nil {
		return nil, fmt.Errorf("fresh signature does not verify: %w", err)
	}
	return sig, nil
}
