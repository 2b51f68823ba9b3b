package quorum

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/icebox-custody/icebox/bundle"
)

// A rollback acknowledgement is a change bundle (EncodeChange/DecodeChange,
// SignChange, `icebox admin sign`) of kind ChangeRollbackAck:
//
//   - Content is the canonical text of a RollbackAck (below): the store
//     head as found and the HSM anchor it contradicts, and a reason.
//   - PreviousHash is the hash of the roster whose admins sign: the roster
//     active in the RESTORED store (the only roster available offline after
//     a rollback).
//   - ActivateAt must be 0; Created is when the acknowledgement was written.
//
// Admins sign ChangeProposal.Digest, which covers the kind byte and
// ContentHash(ChangeRollbackAck, content) = SHA-256("icebox/rollback-ack/v1"
// || 0x00 || content): a signature on an acknowledgement can never count
// for a policy or roster change, nor the other way round.

// rollbackAckHeader is the first line of the canonical text.
const rollbackAckHeader = "icebox rollback acknowledgement v1"

// Caps of a rollback acknowledgement's content.
const (
	// MaxRollbackReason caps the reason text in bytes.
	MaxRollbackReason = 512
	// MaxRollbackAckContent caps the whole canonical text.
	MaxRollbackAckContent = 1024
)

// RollbackAck is what admins acknowledge: the store was found at
// StoreSeq/StoreHead while the HSM anchor holds a checkpoint at
// AnchorSeq/AnchorHead that the store does not contain.
type RollbackAck struct {
	StoreSeq   uint64
	StoreHead  bundle.Digest
	AnchorSeq  uint64
	AnchorHead bundle.Digest
	// Reason is one line of printable UTF-8 (1..MaxRollbackReason bytes):
	// why the old store is the one to continue with.
	Reason string
}

// Encode returns the canonical text of a (the exact Content of the
// change proposal):
//
//	icebox rollback acknowledgement v1
//	store_seq: <decimal>
//	store_head: <64 lower-case hex>
//	anchor_seq: <decimal>
//	anchor_head: <64 lower-case hex>
//	reason: <text>
//
// each line ending in "\n". It fails on values ParseRollbackAck refuses.
func (a RollbackAck) Encode() ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	return []byte(a.text()), nil
}

func (a RollbackAck) text() string {
	return fmt.Sprintf("%s\nstore_seq: %d\nstore_head: %s\nanchor_seq: %d\nanchor_head: %s\nreason: %s\n",
		rollbackAckHeader, a.StoreSeq, a.StoreHead, a.AnchorSeq, a.AnchorHead, a.Reason)
}

func (a RollbackAck) validate() error {
	r := a.Reason
	if len(r) == 0 || len(r) > MaxRollbackReason {
		return fmt.Errorf("%w: rollback acknowledgement reason: %d bytes, want 1..%d", ErrBadChange, len(r), MaxRollbackReason)
	}
	if !utf8.ValidString(r) || strings.TrimSpace(r) != r {
		return fmt.Errorf("%w: rollback acknowledgement reason: must be UTF-8 without leading or trailing space", ErrBadChange)
	}
	for _, c := range r {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("%w: rollback acknowledgement reason: control character %U (one line of text)", ErrBadChange, c)
		}
	}
	if a.AnchorSeq == 0 || a.AnchorHead.IsZero() {
		return fmt.Errorf("%w: rollback acknowledgement anchor_seq/anchor_head: must be set", ErrBadChange)
	}
	if a.StoreSeq == a.AnchorSeq && a.StoreHead == a.AnchorHead {
		return fmt.Errorf("%w: rollback acknowledgement: store head equals the anchor, nothing to acknowledge", ErrBadChange)
	}
	return nil
}

// ParseRollbackAck parses the canonical text strictly: size capped first,
// exact header and field order, decimal without leading zeros, lower-case
// hex, one reason line, nothing after it. Anything Encode would not
// produce byte for byte is refused with an error wrapping ErrBadChange that
// names the field. It never panics.
func ParseRollbackAck(content []byte) (RollbackAck, error) {
	if len(content) > MaxRollbackAckContent {
		return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement: %d bytes, the limit is %d", ErrBadChange, len(content), MaxRollbackAckContent)
	}
	if !bytes.HasSuffix(content, []byte("\n")) {
		return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement: must end with a newline", ErrBadChange)
	}
	lines := strings.Split(string(content[:len(content)-1]), "\n")
	fields := []string{"", "store_seq", "store_head", "anchor_seq", "anchor_head", "reason"}
	if len(lines) != len(fields) {
		return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement: %d lines, want %d", ErrBadChange, len(lines), len(fields))
	}
	if lines[0] != rollbackAckHeader {
		return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement header: want %q", ErrBadChange, rollbackAckHeader)
	}
	vals := make([]string, len(fields))
	for i := 1; i < len(fields); i++ {
		v, ok := strings.CutPrefix(lines[i], fields[i]+": ")
		if !ok {
			return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement line %d: want field %q", ErrBadChange, i+1, fields[i])
		}
		vals[i] = v
	}
	var a RollbackAck
	var err error
	if a.StoreSeq, err = parseSeq(fields[1], vals[1]); err != nil {
		return RollbackAck{}, err
	}
	if a.StoreHead, err = parseHexDigest(fields[2], vals[2]); err != nil {
		return RollbackAck{}, err
	}
	if a.AnchorSeq, err = parseSeq(fields[3], vals[3]); err != nil {
		return RollbackAck{}, err
	}
	if a.AnchorHead, err = parseHexDigest(fields[4], vals[4]); err != nil {
		return RollbackAck{}, err
	}
	a.Reason = vals[5]
	if err := a.validate(); err != nil {
		return RollbackAck{}, err
	}
	if a.text() != string(content) {
		return RollbackAck{}, fmt.Errorf("%w: rollback acknowledgement: not in canonical form", ErrBadChange)
	}
	return a, nil
}

func parseSeq(field, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return 0, fmt.Errorf("%w: rollback acknowledgement %s: %q is not a decimal sequence number", ErrBadChange, field, v)
	}
	return n, nil
}

func parseHexDigest(field, v string) (bundle.Digest, error) {
	var d bundle.Digest
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(d) || hex.EncodeToString(b) != v {
		return d, fmt.Errorf("%w: rollback acknowledgement %s: want 64 lower-case hex digits", ErrBadChange, field)
	}
	copy(d[:], b)
	return d, nil
}

// NewRollbackAckProposal returns the unsigned proposal acknowledging a,
// signed under the roster with hash rosterHash, created at created.
func NewRollbackAckProposal(a RollbackAck, rosterHash bundle.Digest, created time.Time) (ChangeProposal, error) {
	content, err := a.Encode()
	if err != nil {
		return ChangeProposal{}, err
	}
	if rosterHash.IsZero() {
		return ChangeProposal{}, fmt.Errorf("%w: previous_hash: the roster hash must be set", ErrBadChange)
	}
	if created.Unix() < 0 {
		return ChangeProposal{}, fmt.Errorf("%w: created: negative time", ErrBadChange)
	}
	return ChangeProposal{Kind: ChangeRollbackAck, Content: content, PreviousHash: rosterHash, Created: created.Unix()}, nil
}

// RollbackAckInput is what VerifyRollbackAck needs.
type RollbackAckInput struct {
	Proposal   ChangeProposal
	Signatures []bundle.Signature
	// Found is what the signer itself found: the store head and the anchor
	// read from the HSM (Reason is ignored). The acknowledgement must name
	// exactly these.
	Found RollbackAck
	Now   time.Time
}

// VerifyRollbackAck checks a rollback acknowledgement against this roster
// (the roster active in the restored store): kind rollback-ack, previous
// hash = this roster's hash, no activation time, content in canonical form
// naming exactly the store head and anchor in in.Found, and at least
// AdminQuorum distinct admins of this roster, valid at now and not revoked.
// The roster's change_delay does not apply (an acknowledgement changes no
// rule; it lets the signer continue from the store it has). Any failure
// returns an error (ErrBadChange or ErrChangeNotApproved) and the caller
// must stay quarantined; the result is filled in as far as verification got.
func (r *Roster) VerifyRollbackAck(in RollbackAckInput) (RollbackAck, ChangeResult, error) {
	if r == nil || in.Now.IsZero() {
		return RollbackAck{}, ChangeResult{}, fmt.Errorf("%w: roster and time must be set", ErrBadInput)
	}
	p := in.Proposal
	if p.Kind != ChangeRollbackAck {
		return RollbackAck{}, ChangeResult{}, fmt.Errorf("%w: kind: %s, want rollback-ack", ErrBadChange, p.Kind)
	}
	if err := (ChangeBundle{Proposal: p, Signatures: in.Signatures}).validate(); err != nil {
		return RollbackAck{}, ChangeResult{}, err
	}
	a, err := ParseRollbackAck(p.Content)
	if err != nil {
		return RollbackAck{}, ChangeResult{}, err
	}
	res := ChangeResult{Kind: p.Kind, ContentHash: p.ContentHash(), Digest: p.Digest(), ActivateAt: in.Now}
	if p.PreviousHash != r.hash {
		return a, res, fmt.Errorf("%w: previous_hash %s is not the roster %s active in this store", ErrBadChange, p.PreviousHash, r.hash)
	}
	f := in.Found
	if a.StoreSeq != f.StoreSeq || a.StoreHead != f.StoreHead {
		return a, res, fmt.Errorf("%w: store_seq/store_head: the acknowledgement names store seq %d head %s, this store is at seq %d head %s",
			ErrBadChange, a.StoreSeq, a.StoreHead, f.StoreSeq, f.StoreHead)
	}
	if a.AnchorSeq != f.AnchorSeq || a.AnchorHead != f.AnchorHead {
		return a, res, fmt.Errorf("%w: anchor_seq/anchor_head: the acknowledgement names anchor seq %d head %s, the HSM anchor is at seq %d head %s",
			ErrBadChange, a.AnchorSeq, a.AnchorHead, f.AnchorSeq, f.AnchorHead)
	}
	if err := r.countAdmins(&res, in.Signatures, in.Now); err != nil {
		return a, res, err
	}
	return a, res, nil
}
