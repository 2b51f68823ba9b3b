package quorum

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/bundle"
)

var foundAck = RollbackAck{
	StoreSeq: 12, StoreHead: bundle.Digest{0x12, 0x34},
	AnchorSeq: 20, AnchorHead: bundle.Digest{0x20, 0xff},
}

func okAck() RollbackAck {
	a := foundAck
	a.Reason = "disk failed; restored backup of 2026-06-30 (ticket 4711)"
	return a
}

func TestRollbackAckTextRoundTrip(t *testing.T) {
	content, err := okAck().Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "icebox rollback acknowledgement v1\nstore_seq: 12\nstore_head: 1234" + strings.Repeat("0", 60) +
		"\nanchor_seq: 20\nanchor_head: 20ff" + strings.Repeat("0", 60) + "\nreason: disk failed; restored backup of 2026-06-30 (ticket 4711)\n"
	if string(content) != want {
		t.Fatalf("canonical text:\n%s\nwant:\n%s", content, want)
	}
	back, err := ParseRollbackAck(content)
	if err != nil || back != okAck() {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	golden, err := os.ReadFile("testdata/ok_rollback_ack.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, content) {
		t.Fatalf("testdata/ok_rollback_ack.txt differs from the canonical encoding")
	}
}

func TestParseRollbackAckRefuses(t *testing.T) {
	good, _ := okAck().Encode()
	g := string(good)
	cases := map[string]struct{ text, field string }{
		"leading zero":      {strings.Replace(g, "store_seq: 12", "store_seq: 012", 1), "store_seq"},
		"upper-case hex":    {strings.Replace(g, "20ff", "20FF", 1), "anchor_head"},
		"short hex":         {strings.Replace(g, "anchor_head: 20ff", "anchor_head: 20f", 1), "anchor_head"},
		"field order":       {strings.Replace(strings.Replace(g, "store_seq: 12", "XX", 1), "anchor_seq: 20", "store_seq: 12", 1), "line 2"},
		"unknown field":     {strings.Replace(g, "reason:", "comment:", 1), "reason"},
		"extra line":        {g + "reason: again\n", "lines"},
		"no final newline":  {strings.TrimSuffix(g, "\n"), "newline"},
		"empty reason":      {strings.Replace(g, "reason: disk failed; restored backup of 2026-06-30 (ticket 4711)", "reason: ", 1), "reason"},
		"padded reason":     {strings.Replace(g, "reason: disk", "reason:  disk", 1), "reason"},
		"control character": {strings.Replace(g, "ticket", "tick\tet", 1), "reason"},
		"header":            {strings.Replace(g, "v1", "v2", 1), "header"},
		"too large":         {g + strings.Repeat("x", MaxRollbackAckContent), "limit"},
		"store is anchor":   {strings.Replace(strings.Replace(g, "store_seq: 12", "store_seq: 20", 1), "store_head: 1234", "store_head: 20ff", 1), "nothing to acknowledge"},
		"zero anchor":       {strings.Replace(g, "anchor_seq: 20", "anchor_seq: 0", 1), "anchor_seq"},
		"long reason":       {strings.Replace(g, "reason: disk", "reason: "+strings.Repeat("d", MaxRollbackReason), 1), "reason"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRollbackAck([]byte(c.text))
			if !errors.Is(err, ErrBadChange) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("got %v, want ErrBadChange naming %q", err, c.field)
			}
		})
	}
}

func TestVerifyRollbackAck(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	p, err := NewRollbackAckProposal(okAck(), r.Hash(), t0)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeChange(ChangeBundle{Proposal: p, Signatures: signAll(t, p, "alice", "bob")})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := DecodeChange(enc)
	if err != nil {
		t.Fatal(err)
	}
	a, res, err := r.VerifyRollbackAck(RollbackAckInput{Proposal: cb.Proposal, Signatures: cb.Signatures, Found: foundAck, Now: t0})
	if err != nil || a != okAck() || !slicesEq(res.Counted, []string{"alice", "bob"}) || res.Digest != p.Digest() {
		t.Fatalf("valid acknowledgement: %+v %+v %v", a, res, err)
	}

	otherHead := foundAck
	otherHead.StoreHead = bundle.Digest{0x99}
	otherAnchor := foundAck
	otherAnchor.AnchorSeq = 21
	otherRoster := p
	otherRoster.PreviousHash = bundle.Digest{0x77}
	policyKind := p
	policyKind.Kind = ChangePolicy
	cases := []struct {
		name  string
		p     ChangeProposal
		who   []string
		found RollbackAck
		err   error
		msg   string
	}{
		{"one admin of two", p, []string{"alice"}, foundAck, ErrChangeNotApproved, "1 of 2"},
		{"non-admins and revoked", p, []string{"alice", "carol", "dave", "erin"}, foundAck, ErrChangeNotApproved, "carol does not have the admin role"},
		{"same admin twice", p, []string{"alice", "alice"}, foundAck, ErrChangeNotApproved, "1 of 2"},
		{"outsider", p, []string{"alice", "nobody"}, foundAck, ErrChangeNotApproved, "not in the roster"},
		{"signed for another store head", p, []string{"alice", "bob"}, otherHead, ErrBadChange, "store_seq/store_head"},
		{"signed for another anchor", p, []string{"alice", "bob"}, otherAnchor, ErrBadChange, "anchor_seq/anchor_head"},
		{"under another roster", otherRoster, []string{"alice", "bob"}, foundAck, ErrBadChange, "previous_hash"},
		{"policy kind", policyKind, []string{"alice", "bob"}, foundAck, ErrBadChange, "want rollback-ack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sigs []bundle.Signature
			for _, w := range c.who {
				if w == "nobody" {
					s, _ := SignChange(c.p, "nobody", seedKey(9))
					sigs = append(sigs, s)
					continue
				}
				sigs = append(sigs, signAll(t, c.p, w)...)
			}
			_, _, err := r.VerifyRollbackAck(RollbackAckInput{Proposal: c.p, Signatures: sigs, Found: c.found, Now: t0})
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %v containing %q", err, c.err, c.msg)
			}
		})
	}

	// Signatures made for the acknowledgement do not count for anything else,
	// and a rollback-ack bundle is never a policy or roster change.
	sigs := signAll(t, p, "alice", "bob")
	if _, err := r.VerifyChange(ChangeInput{Proposal: p, Signatures: sigs, Now: t0}); !errors.Is(err, ErrBadChange) {
		t.Fatalf("VerifyChange accepted a rollback acknowledgement: %v", err)
	}
	if _, _, err := r.VerifyRollbackAck(RollbackAckInput{Proposal: policyKind, Signatures: sigs, Found: foundAck, Now: t0}); err == nil {
		t.Fatal("acknowledgement signatures counted for another kind")
	}
	// Another head means another digest: old signatures do not carry over.
	moved := okAck()
	moved.StoreSeq = 13
	p2, _ := NewRollbackAckProposal(moved, r.Hash(), t0)
	if _, _, err := r.VerifyRollbackAck(RollbackAckInput{Proposal: p2, Signatures: sigs, Found: RollbackAck{StoreSeq: 13, StoreHead: moved.StoreHead, AnchorSeq: 20, AnchorHead: moved.AnchorHead}, Now: t0}); !errors.Is(err, ErrChangeNotApproved) {
		t.Fatalf("signatures for one head counted for another: %v", err)
	}
	// activate_at is refused at decode time.
	withAt := p
	withAt.ActivateAt = 5
	if _, err := EncodeChange(ChangeBundle{Proposal: withAt}); err == nil || !strings.Contains(err.Error(), "activate_at") {
		t.Fatalf("activate_at on an acknowledgement: %v", err)
	}
}

// TestWriteRollbackAckSeed keeps the fuzz seed of a signed acknowledgement
// bundle in step with the encoder.
func TestWriteRollbackAckSeed(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	p, err := NewRollbackAckProposal(okAck(), r.Hash(), t0)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeChange(ChangeBundle{Proposal: p, Signatures: signAll(t, p, "alice", "bob")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "ok_rollback_ack.bin")
	if os.Getenv("ICEBOX_UPDATE_SEEDS") != "" {
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := DecodeChange(got)
	if err != nil || cb.Proposal.Kind != ChangeRollbackAck || len(cb.Signatures) != 2 {
		t.Fatalf("%s: %+v %v", path, cb, err)
	}
	if _, _, err := r.VerifyRollbackAck(RollbackAckInput{Proposal: cb.Proposal, Signatures: cb.Signatures, Found: foundAck, Now: t0}); err != nil {
		t.Fatalf("%s does not verify: %v", path, err)
	}
}
