package bundle

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/icebox-custody/icebox/sigkey"
)

// Wire structs: the CBOR schema. Every map uses small unsigned integer keys
// (docs/bundle-format.md lists them). Required fields are always encoded;
// fields tagged omitempty are absent when empty and must then be absent in
// the input too (the canonical re-encoding check enforces it).

type txWire struct {
	Network string `cbor:"1,keyasint"`
	Format  string `cbor:"2,keyasint"`
	Payload []byte `cbor:"3,keyasint"`
}

type sigWire struct {
	Signer    string `cbor:"1,keyasint"`
	Algorithm uint8  `cbor:"2,keyasint"`
	Value     []byte `cbor:"3,keyasint"`
}

type approvalWire struct {
	Officer    string `cbor:"1,keyasint"`
	Expires    int64  `cbor:"2,keyasint"`
	PolicyHash []byte `cbor:"3,keyasint"`
	RosterHash []byte `cbor:"4,keyasint"`
	Algorithm  uint8  `cbor:"5,keyasint"`
	Value      []byte `cbor:"6,keyasint"`
}

type requestWire struct {
	Version      int            `cbor:"1,keyasint"`
	ID           string         `cbor:"2,keyasint"`
	Created      int64          `cbor:"3,keyasint"`
	Expires      int64          `cbor:"4,keyasint"`
	Requester    string         `cbor:"5,keyasint"`
	Kind         string         `cbor:"6,keyasint"`
	Reason       string         `cbor:"7,keyasint,omitempty"`
	Transactions []txWire       `cbor:"8,keyasint"`
	RequesterSig *sigWire       `cbor:"9,keyasint,omitempty"`
	Approvals    []approvalWire `cbor:"10,keyasint,omitempty"`
}

type detachedWire struct {
	Version       int          `cbor:"1,keyasint"`
	RequestID     string       `cbor:"2,keyasint"`
	RequestDigest []byte       `cbor:"3,keyasint"`
	Approval      approvalWire `cbor:"4,keyasint"`
}

type refusalWire struct {
	Stage  string `cbor:"1,keyasint"`
	Code   string `cbor:"2,keyasint"`
	Reason string `cbor:"3,keyasint"`
}

type responseWire struct {
	Version       int          `cbor:"1,keyasint"`
	RequestID     string       `cbor:"2,keyasint"`
	RequestDigest []byte       `cbor:"3,keyasint"`
	Status        string       `cbor:"4,keyasint"`
	Signed        []txWire     `cbor:"5,keyasint,omitempty"`
	Refusal       *refusalWire `cbor:"6,keyasint,omitempty"`
	PolicyHash    []byte       `cbor:"7,keyasint"`
	RosterHash    []byte       `cbor:"8,keyasint"`
	AuditSeq      uint64       `cbor:"9,keyasint"`
	AuditHead     []byte       `cbor:"10,keyasint"`
	Created       int64        `cbor:"11,keyasint"`
	SignerSig     *sigWire     `cbor:"12,keyasint,omitempty"`
}

// versionWire peeks at the version before the strict decode, so that a
// future format is refused as "unsupported version" rather than as
// "unknown field".
type versionWire struct {
	Version int `cbor:"1,keyasint"`
}

var encMode = func() cbor.EncMode {
	opts := cbor.CoreDetEncOptions()
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		panic("bundle: invalid CBOR encoding options: " + err.Error())
	}
	return em
}()

// decMode builds the strict decoder for the given limits.
func (l Limits) decMode() (cbor.DecMode, error) {
	maxArray := max(l.MaxTransactions, l.MaxApprovals, 16)
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4, // bundle map → array → map is three levels
		MaxArrayElements:  maxArray,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("bundle: CBOR decoding options: %w", err)
	}
	return dm, nil
}

// peekMode is like decMode but ignores unknown fields; only used to read the
// version.
func (l Limits) peekMode() (cbor.DecMode, error) {
	return cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  4,
		MaxArrayElements: max(l.MaxTransactions, l.MaxApprovals, 16),
		MaxMapPairs:      16,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
}

// ---- public → wire (never fails) ----

func txsToWire(txs []Transaction) []txWire {
	if len(txs) == 0 {
		return nil
	}
	out := make([]txWire, len(txs))
	for i, t := range txs {
		out[i] = txWire{Network: t.Network, Format: string(t.Format), Payload: t.Payload}
	}
	return out
}

func sigToWire(s Signature) *sigWire {
	if s.Signer == "" && s.Algorithm == sigkey.AlgorithmUnknown && len(s.Value) == 0 {
		return nil
	}
	return &sigWire{Signer: s.Signer, Algorithm: uint8(s.Algorithm), Value: s.Value}
}

func approvalToWire(a Approval) approvalWire {
	return approvalWire{
		Officer:    a.Officer,
		Expires:    a.Expires,
		PolicyHash: a.PolicyHash[:],
		RosterHash: a.RosterHash[:],
		Algorithm:  uint8(a.Algorithm),
		Value:      a.Value,
	}
}

func requestToWire(r *Request, withSigs bool) *requestWire {
	w := &requestWire{
		Version:      r.Version,
		ID:           r.ID,
		Created:      r.Created,
		Expires:      r.Expires,
		Requester:    r.Requester,
		Kind:         string(r.Kind),
		Reason:       r.Reason,
		Transactions: txsToWire(r.Transactions),
	}
	if withSigs {
		w.RequesterSig = sigToWire(r.RequesterSig)
		for _, a := range r.Approvals {
			w.Approvals = append(w.Approvals, approvalToWire(a))
		}
	}
	return w
}

func detachedToWire(a *DetachedApproval) *detachedWire {
	return &detachedWire{
		Version:       a.Version,
		RequestID:     a.RequestID,
		RequestDigest: a.RequestDigest[:],
		Approval:      approvalToWire(a.Approval),
	}
}

func responseToWire(r *Response, withSig bool) *responseWire {
	w := &responseWire{
		Version:       r.Version,
		RequestID:     r.RequestID,
		RequestDigest: r.RequestDigest[:],
		Status:        string(r.Status),
		Signed:        txsToWire(r.Signed),
		PolicyHash:    r.PolicyHash[:],
		RosterHash:    r.RosterHash[:],
		AuditSeq:      r.AuditSeq,
		AuditHead:     r.AuditHead[:],
		Created:       r.Created,
	}
	if r.Refusal != nil {
		w.Refusal = &refusalWire{Stage: r.Refusal.Stage, Code: r.Refusal.Code, Reason: r.Refusal.Reason}
	}
	if withSig {
		w.SignerSig = sigToWire(r.SignerSig)
	}
	return w
}

// ---- wire → public (fails on wrong digest lengths) ----

func digestFrom(field string, b []byte) (Digest, error) {
	var d Digest
	if len(b) != len(d) {
		return d, fieldErr(field, fmt.Errorf("%w: %d bytes, want %d", ErrInvalid, len(b), len(d)))
	}
	copy(d[:], b)
	return d, nil
}

func txsFromWire(txs []txWire) []Transaction {
	if len(txs) == 0 {
		return nil
	}
	out := make([]Transaction, len(txs))
	for i, t := range txs {
		out[i] = Transaction{Network: t.Network, Format: TxFormat(t.Format), Payload: t.Payload}
	}
	return out
}

func sigFromWire(s *sigWire) Signature {
	if s == nil {
		return Signature{}
	}
	return Signature{Signer: s.Signer, Algorithm: sigkey.Algorithm(s.Algorithm), Value: s.Value}
}

func approvalFromWire(path string, w approvalWire) (Approval, error) {
	a := Approval{Officer: w.Officer, Expires: w.Expires, Algorithm: sigkey.Algorithm(w.Algorithm), Value: w.Value}
	var err error
	if a.PolicyHash, err = digestFrom(path+".policy_hash", w.PolicyHash); err != nil {
		return a, err
	}
	if a.RosterHash, err = digestFrom(path+".roster_hash", w.RosterHash); err != nil {
		return a, err
	}
	return a, nil
}

func (w *requestWire) toRequest() (*Request, error) {
	r := &Request{
		Version:      w.Version,
		ID:           w.ID,
		Created:      w.Created,
		Expires:      w.Expires,
		Requester:    w.Requester,
		Kind:         RequestKind(w.Kind),
		Reason:       w.Reason,
		Transactions: txsFromWire(w.Transactions),
		RequesterSig: sigFromWire(w.RequesterSig),
	}
	for i, aw := range w.Approvals {
		a, err := approvalFromWire(fmt.Sprintf("request.approvals[%d]", i), aw)
		if err != nil {
			return nil, err
		}
		r.Approvals = append(r.Approvals, a)
	}
	return r, nil
}

func (w *detachedWire) toDetached() (*DetachedApproval, error) {
	d := &DetachedApproval{Version: w.Version, RequestID: w.RequestID}
	var err error
	if d.RequestDigest, err = digestFrom("approval.request_digest", w.RequestDigest); err != nil {
		return nil, err
	}
	if d.Approval, err = approvalFromWire("approval.approval", w.Approval); err != nil {
		return nil, err
	}
	return d, nil
}

func (w *responseWire) toResponse() (*Response, error) {
	r := &Response{
		Version:   w.Version,
		RequestID: w.RequestID,
		Status:    Status(w.Status),
		Signed:    txsFromWire(w.Signed),
		AuditSeq:  w.AuditSeq,
		Created:   w.Created,
		SignerSig: sigFromWire(w.SignerSig),
	}
	if w.Refusal != nil {
		r.Refusal = &Refusal{Stage: w.Refusal.Stage, Code: w.Refusal.Code, Reason: w.Refusal.Reason}
	}
	var err error
	if r.RequestDigest, err = digestFrom("response.request_digest", w.RequestDigest); err != nil {
		return nil, err
	}
	if r.PolicyHash, err = digestFrom("response.policy_hash", w.PolicyHash); err != nil {
		return nil, err
	}
	if r.RosterHash, err = digestFrom("response.roster_hash", w.RosterHash); err != nil {
		return nil, err
	}
	if r.AuditHead, err = digestFrom("response.audit_head", w.AuditHead); err != nil {
		return nil, err
	}
	return r, nil
}
