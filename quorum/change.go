package quorum

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/sigkey"
)

// ChangeKind says what a change proposal replaces.
type ChangeKind uint8

const (
	// ChangeInvalid is the zero value and never accepted.
	ChangeInvalid ChangeKind = iota
	// ChangePolicy replaces the withdrawal policy.
	ChangePolicy
	// ChangeRoster replaces the roster.
	ChangeRoster
	// ChangeRollbackAck acknowledges that the signer continues from a store
	// older than its HSM anchor (see RollbackAck). It changes no rule.
	ChangeRollbackAck
)

// String returns "policy", "roster" or "invalid".
func (k ChangeKind) String() string {
	switch k {
	case ChangePolicy:
		return "policy"
	case ChangeRoster:
		return "roster"
	case ChangeRollbackAck:
		return "rollback-ack"
	}
	return "invalid"
}

// ParseChangeKind is the inverse of String.
func ParseChangeKind(s string) (ChangeKind, error) {
	switch s {
	case "policy":
		return ChangePolicy, nil
	case "roster":
		return ChangeRoster, nil
	case "rollback-ack":
		return ChangeRollbackAck, nil
	}
	return ChangeInvalid, fmt.Errorf("%w: unknown change kind %q (want policy, roster or rollback-ack)", ErrBadChange, s)
}

// ContentHash is the hash of a policy or roster file:
// SHA-256("icebox/policy/v1" || 0x00 || bytes) or
// SHA-256("icebox/roster/v1" || 0x00 || bytes), or for a rollback
// acknowledgement SHA-256("icebox/rollback-ack/v1" || 0x00 || bytes). An
// invalid kind hashes to a value no valid kind produces.
func ContentHash(k ChangeKind, data []byte) bundle.Digest {
	switch k {
	case ChangePolicy:
		return contentHash("icebox/policy/v1", data)
	case ChangeRoster:
		return contentHash("icebox/roster/v1", data)
	case ChangeRollbackAck:
		return contentHash("icebox/rollback-ack/v1", data)
	}
	return contentHash("icebox/invalid/v1", data)
}

// Size caps for change bundles, enforced before decoding.
const (
	MaxChangeSize       = 1 << 20
	MaxChangeContent    = 256 << 10
	MaxChangeSignatures = 64
	maxSigValue         = 256
	maxSignerID         = 64
)

// ChangeProposal replaces the active policy or roster. Admins sign
// ChangeProposal.Digest.
type ChangeProposal struct {
	Kind ChangeKind
	// Content is the exact bytes of the new policy or roster file.
	Content []byte
	// PreviousHash is the hash of the policy/roster this change replaces
	// (zero only when there is none yet: the founding install).
	PreviousHash bundle.Digest
	// ActivateAt is when the change takes effect (unix seconds; 0 = as soon
	// as it is installed).
	ActivateAt int64
	// Created is when the proposal was written (unix seconds, informational).
	Created int64
}

// ContentHash returns the policy or roster hash of the proposed content.
func (p ChangeProposal) ContentHash() bundle.Digest { return ContentHash(p.Kind, p.Content) }

// Digest is what admins sign: SHA-256 of
// "icebox/change/v1" || 0x00 || kind (1 byte) || ContentHash (32) ||
// PreviousHash (32) || ActivateAt (int64 BE) || Created (int64 BE).
func (p ChangeProposal) Digest() bundle.Digest {
	h := sha256.New()
	h.Write([]byte("icebox/change/v1"))
	h.Write([]byte{0, byte(p.Kind)})
	ch := p.ContentHash()
	h.Write(ch[:])
	h.Write(p.PreviousHash[:])
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(p.ActivateAt))
	binary.BigEndian.PutUint64(b[8:], uint64(p.Created))
	h.Write(b[:])
	var d bundle.Digest
	copy(d[:], h.Sum(nil))
	return d
}

// ChangeBundle is a proposal with the admin signatures collected so far;
// each signature signs Proposal.Digest() (the 32 bytes).
type ChangeBundle struct {
	Proposal   ChangeProposal
	Signatures []bundle.Signature
}

// changeMagic starts every encoded change bundle.
var changeMagic = []byte("icebox-change\x00")

// EncodeChange returns the one binary encoding of a change bundle:
//
//	magic "icebox-change\x00" | version u8 (1) | kind u8 |
//	previous hash [32] | activate_at i64 | created i64 |
//	content length u32 | content |
//	signature count u16 | per signature: signer length u16 | signer |
//	algorithm u8 | value length u16 | value
//
// Integers are big-endian. It fails on values DecodeChange would refuse.
func EncodeChange(b ChangeBundle) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	out := append([]byte{}, changeMagic...)
	out = append(out, 1, byte(b.Proposal.Kind))
	out = append(out, b.Proposal.PreviousHash[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(b.Proposal.ActivateAt))
	out = binary.BigEndian.AppendUint64(out, uint64(b.Proposal.Created))
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Proposal.Content)))
	out = append(out, b.Proposal.Content...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.Signatures)))
	for _, s := range b.Signatures {
		out = binary.BigEndian.AppendUint16(out, uint16(len(s.Signer)))
		out = append(out, s.Signer...)
		out = append(out, byte(s.Algorithm))
		out = binary.BigEndian.AppendUint16(out, uint16(len(s.Value)))
		out = append(out, s.Value...)
	}
	return out, nil
}

func (b ChangeBundle) validate() error {
	p := b.Proposal
	if p.Kind != ChangePolicy && p.Kind != ChangeRoster && p.Kind != ChangeRollbackAck {
		return fmt.Errorf("%w: kind: unknown change kind %d", ErrBadChange, p.Kind)
	}
	if p.Kind == ChangeRollbackAck {
		if p.ActivateAt != 0 {
			return fmt.Errorf("%w: activate_at: must be 0 for a rollback acknowledgement", ErrBadChange)
		}
		if _, err := ParseRollbackAck(p.Content); err != nil {
			return fmt.Errorf("content: %w", err)
		}
	}
	if len(p.Content) == 0 || len(p.Content) > MaxChangeContent {
		return fmt.Errorf("%w: content: %d bytes, want 1..%d", ErrBadChange, len(p.Content), MaxChangeContent)
	}
	if p.ActivateAt < 0 || p.Created < 0 {
		return fmt.Errorf("%w: activate_at/created: negative time", ErrBadChange)
	}
	if len(b.Signatures) > MaxChangeSignatures {
		return fmt.Errorf("%w: signatures: %d, the limit is %d", ErrBadChange, len(b.Signatures), MaxChangeSignatures)
	}
	for i, s := range b.Signatures {
		if !ValidID(s.Signer) || len(s.Signer) > maxSignerID {
			return fmt.Errorf("%w: signatures[%d].signer: %q is not a valid roster id", ErrBadChange, i, s.Signer)
		}
		if s.Algorithm != sigkey.Ed25519 && s.Algorithm != sigkey.P256 {
			return fmt.Errorf("%w: signatures[%d].algorithm: unknown algorithm %d", ErrBadChange, i, s.Algorithm)
		}
		if len(s.Value) == 0 || len(s.Value) > maxSigValue {
			return fmt.Errorf("%w: signatures[%d].value: %d bytes, want 1..%d", ErrBadChange, i, len(s.Value), maxSigValue)
		}
	}
	return nil
}

// DecodeChange parses an encoded change bundle strictly: size capped before
// parsing, exact lengths, no trailing bytes, known kind and algorithms.
// It never panics. Errors wrap ErrBadChange and name the field.
func DecodeChange(data []byte) (ChangeBundle, error) {
	if len(data) > MaxChangeSize {
		return ChangeBundle{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBadChange, len(data), MaxChangeSize)
	}
	r := &reader{b: data}
	if !bytes.Equal(r.next(len(changeMagic), "magic"), changeMagic) {
		return ChangeBundle{}, fmt.Errorf("%w: magic: not an icebox change bundle", ErrBadChange)
	}
	var b ChangeBundle
	if v := r.u8("version"); r.err == nil && v != 1 {
		return ChangeBundle{}, fmt.Errorf("%w: version: %d is not supported (want 1)", ErrBadChange, v)
	}
	b.Proposal.Kind = ChangeKind(r.u8("kind"))
	copy(b.Proposal.PreviousHash[:], r.next(32, "previous_hash"))
	b.Proposal.ActivateAt = int64(r.u64("activate_at"))
	b.Proposal.Created = int64(r.u64("created"))
	n := r.u32("content length")
	if r.err == nil && n > MaxChangeContent {
		return ChangeBundle{}, fmt.Errorf("%w: content: %d bytes, the limit is %d", ErrBadChange, n, MaxChangeContent)
	}
	b.Proposal.Content = slices.Clone(r.next(int(n), "content"))
	ns := r.u16("signature count")
	if r.err == nil && int(ns) > MaxChangeSignatures {
		return ChangeBundle{}, fmt.Errorf("%w: signatures: %d, the limit is %d", ErrBadChange, ns, MaxChangeSignatures)
	}
	for i := 0; i < int(ns) && r.err == nil; i++ {
		f := fmt.Sprintf("signatures[%d]", i)
		var s bundle.Signature
		s.Signer = string(r.next(int(r.u16(f+".signer length")), f+".signer"))
		s.Algorithm = sigkey.Algorithm(r.u8(f + ".algorithm"))
		s.Value = slices.Clone(r.next(int(r.u16(f+".value length")), f+".value"))
		b.Signatures = append(b.Signatures, s)
	}
	if r.err != nil {
		return ChangeBundle{}, r.err
	}
	if len(r.b) != 0 {
		return ChangeBundle{}, fmt.Errorf("%w: %d trailing bytes after the last signature", ErrBadChange, len(r.b))
	}
	if err := b.validate(); err != nil {
		return ChangeBundle{}, err
	}
	return b, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: %s: truncated (need %d bytes, have %d)", ErrBadChange, field, n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8(f string) uint8 {
	b := r.next(1, f)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(f string) uint16 {
	b := r.next(2, f)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32(f string) uint32 {
	b := r.next(4, f)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64(f string) uint64 {
	b := r.next(8, f)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// SignChange signs p's digest as admin id with s. It does not check roles.
func SignChange(p ChangeProposal, admin string, s sigkey.Signer) (bundle.Signature, error) {
	if s == nil || !ValidID(admin) {
		return bundle.Signature{}, fmt.Errorf("%w: sign change needs a signer and a valid admin id", ErrBadInput)
	}
	d := p.Digest()
	v, err := s.Sign(d[:])
	if err != nil {
		return bundle.Signature{}, fmt.Errorf("sign %s change as %s: %w", p.Kind, admin, err)
	}
	return bundle.Signature{Signer: admin, Algorithm: s.Public().Algorithm, Value: v}, nil
}

// ChangeInput is what VerifyChange needs.
type ChangeInput struct {
	Proposal   ChangeProposal
	Signatures []bundle.Signature
	// ActivePolicy is the hash of the active policy (zero when none is
	// installed yet). Only used for policy changes; a roster change must
	// name the hash of the roster it is verified against.
	ActivePolicy bundle.Digest
	Now          time.Time
}

// ChangeResult is the outcome of verifying a change.
type ChangeResult struct {
	Kind        ChangeKind
	ContentHash bundle.Digest // new policy/roster hash
	Digest      bundle.Digest // proposal digest the admins signed
	ActivateAt  time.Time     // when it takes effect (Now when ActivateAt was 0)
	Counted     []string      // admins whose signature counted, sorted
	Rejected    []Rejection   // signatures that did not count, with every reason
	// NewRoster is the parsed proposed roster (roster changes only).
	NewRoster *Roster
}

// VerifyChange checks a change proposal against this (the CURRENT) roster:
// the previous hash must be the active one, the content must be a valid
// roster (roster changes; policy content must be parsed by the caller with
// policy.Parse before installing), the activation must respect the roster's
// change_delay, and at least AdminQuorum distinct admins of this roster,
// valid at now and not revoked, must have signed. Any failure returns an
// error (ErrBadChange or ErrChangeNotApproved) and the caller must not
// install; the result is filled in as far as verification got.
func (r *Roster) VerifyChange(in ChangeInput) (ChangeResult, error) {
	if r == nil || in.Now.IsZero() {
		return ChangeResult{}, fmt.Errorf("%w: roster and time must be set", ErrBadInput)
	}
	p := in.Proposal
	if p.Kind != ChangePolicy && p.Kind != ChangeRoster {
		return ChangeResult{}, fmt.Errorf("%w: kind: %s is not a policy or roster change (a rollback acknowledgement is verified by VerifyRollbackAck)", ErrBadChange, p.Kind)
	}
	if err := (ChangeBundle{Proposal: p, Signatures: in.Signatures}).validate(); err != nil {
		return ChangeResult{}, err
	}
	res := ChangeResult{Kind: p.Kind, ContentHash: p.ContentHash(), Digest: p.Digest(), ActivateAt: in.Now}
	if p.ActivateAt != 0 {
		res.ActivateAt = time.Unix(p.ActivateAt, 0)
	}
	switch p.Kind {
	case ChangePolicy:
		if p.PreviousHash != in.ActivePolicy {
			return res, fmt.Errorf("%w: previous_hash %s is not the active policy %s", ErrBadChange, p.PreviousHash, in.ActivePolicy)
		}
	case ChangeRoster:
		if p.PreviousHash != r.hash {
			return res, fmt.Errorf("%w: previous_hash %s is not the active roster %s", ErrBadChange, p.PreviousHash, r.hash)
		}
		nr, err := ParseRoster("proposed roster", p.Content)
		if err != nil {
			return res, fmt.Errorf("%w: content: %w", ErrBadChange, err)
		}
		res.NewRoster = nr
	}
	if r.ChangeDelay > 0 && res.ActivateAt.Before(in.Now.Add(r.ChangeDelay)) {
		return res, fmt.Errorf("%w: activate_at %s is earlier than now + the roster's change_delay %s", ErrBadChange,
			res.ActivateAt.UTC().Format(time.RFC3339), r.ChangeDelay)
	}
	if err := r.countAdmins(&res, in.Signatures, in.Now); err != nil {
		return res, err
	}
	return res, nil
}

// VerifyFoundingRoster checks the very first roster: a roster proposal with
// a zero previous hash signed by at least admin_quorum of the admins named
// in that same roster. It returns the parsed roster to install.
func VerifyFoundingRoster(p ChangeProposal, sigs []bundle.Signature, now time.Time) (*Roster, ChangeResult, error) {
	if p.Kind != ChangeRoster {
		return nil, ChangeResult{}, fmt.Errorf("%w: kind: the founding install starts with a roster, got %s", ErrBadChange, p.Kind)
	}
	if !p.PreviousHash.IsZero() {
		return nil, ChangeResult{}, fmt.Errorf("%w: previous_hash: must be zero for the founding roster", ErrBadChange)
	}
	if err := (ChangeBundle{Proposal: p, Signatures: sigs}).validate(); err != nil {
		return nil, ChangeResult{}, err
	}
	nr, err := ParseRoster("founding roster", p.Content)
	if err != nil {
		return nil, ChangeResult{}, fmt.Errorf("%w: content: %w", ErrBadChange, err)
	}
	if now.IsZero() {
		return nil, ChangeResult{}, fmt.Errorf("%w: no time given", ErrBadInput)
	}
	res := ChangeResult{Kind: p.Kind, ContentHash: p.ContentHash(), Digest: p.Digest(), ActivateAt: now, NewRoster: nr}
	if p.ActivateAt != 0 {
		res.ActivateAt = time.Unix(p.ActivateAt, 0)
	}
	if err := nr.countAdmins(&res, sigs, now); err != nil {
		return nil, res, err
	}
	return nr, res, nil
}

func (r *Roster) countAdmins(res *ChangeResult, sigs []bundle.Signature, now time.Time) error {
	ss := slices.Clone(sigs)
	sort.SliceStable(ss, func(i, j int) bool {
		if ss[i].Signer != ss[j].Signer {
			return ss[i].Signer < ss[j].Signer
		}
		if ss[i].Algorithm != ss[j].Algorithm {
			return ss[i].Algorithm < ss[j].Algorithm
		}
		return bytes.Compare(ss[i].Value, ss[j].Value) < 0
	})
	counted := map[string]bool{}
	for _, s := range ss {
		var why []Reason
		add := func(c ReasonCode, f string, a ...any) { why = append(why, Reason{c, fmt.Sprintf(f, a...)}) }
		m, ok := r.Member(s.Signer)
		if !ok {
			add(ReasonUnknownOfficer, "%q is not in the roster", s.Signer)
		} else {
			if !m.HasRole(RoleAdmin) {
				add(ReasonWrongRole, "%s does not have the admin role", m.ID)
			}
			if m.Revoked {
				add(ReasonRevoked, "%s is revoked", m.ID)
			}
			if c, d := m.validAt(now); c != "" {
				add(c, "%s", d)
			}
			if s.Algorithm != m.Key.Algorithm {
				add(ReasonAlgorithm, "signature algorithm %s, roster key is %s", s.Algorithm, m.Key.Algorithm)
			} else if err := m.Key.Verify(res.Digest[:], s.Value); err != nil {
				add(ReasonBadSignature, "signature by %s does not verify for change %s", m.ID, res.Digest)
			}
		}
		if len(why) == 0 && counted[s.Signer] {
			add(ReasonDuplicate, "%s already counted once", s.Signer)
		}
		if len(why) > 0 {
			res.Rejected = append(res.Rejected, Rejection{Officer: s.Signer, Reasons: why})
			continue
		}
		counted[s.Signer] = true
		res.Counted = append(res.Counted, s.Signer)
	}
	sort.Strings(res.Counted)
	if len(res.Counted) < r.AdminQuorum {
		var rej []string
		for _, x := range res.Rejected {
			rej = append(rej, x.String())
		}
		msg := fmt.Sprintf("%d of %d required admin signatures (counted: %s)", len(res.Counted), r.AdminQuorum, listOrNone(res.Counted))
		if len(rej) > 0 {
			msg += "; " + strings.Join(rej, "; ")
		}
		return fmt.Errorf("%w: %s", ErrChangeNotApproved, msg)
	}
	return nil
}
