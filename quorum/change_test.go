package quorum

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
)

func signAll(t *testing.T, p ChangeProposal, who ...string) []bundle.Signature {
	t.Helper()
	var out []bundle.Signature
	for _, w := range who {
		s, err := SignChange(p, w, keys[w])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestFoundingAndChange(t *testing.T) {
	_, data := loadRoster(t, "ok_basic.yaml")
	founding := ChangeProposal{Kind: ChangeRoster, Content: data, Created: t0.Unix()}
	if _, _, err := VerifyFoundingRoster(founding, signAll(t, founding, "alice"), t0); !errors.Is(err, ErrChangeNotApproved) {
		t.Fatalf("one admin of two: %v", err)
	}
	// erin is revoked; carol is no admin: neither counts.
	_, res, err := VerifyFoundingRoster(founding, signAll(t, founding, "alice", "erin", "carol", "alice"), t0)
	if !errors.Is(err, ErrChangeNotApproved) || len(res.Counted) != 1 {
		t.Fatalf("revoked/non-admin counted: %v %+v", err, res)
	}
	r, res, err := VerifyFoundingRoster(founding, signAll(t, founding, "bob", "alice"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash() != RosterHash(data) || res.ContentHash != r.Hash() || !slicesEq(res.Counted, []string{"alice", "bob"}) {
		t.Fatalf("%+v", res)
	}

	// A policy change: previous hash must be the active policy.
	pol := []byte("version: 1\n")
	pc := ChangeProposal{Kind: ChangePolicy, Content: pol, ActivateAt: t0.Add(25 * time.Hour).Unix(), Created: t0.Unix()}
	if _, err := r.VerifyChange(ChangeInput{Proposal: pc, Signatures: signAll(t, pc, "alice", "bob"), Now: t0}); err != nil {
		t.Fatalf("founding policy: %v", err)
	}
	if _, err := r.VerifyChange(ChangeInput{Proposal: pc, Signatures: signAll(t, pc, "alice", "bob"), ActivePolicy: bundle.Digest{7}, Now: t0}); !errors.Is(err, ErrBadChange) {
		t.Fatalf("stale previous hash: %v", err)
	}
	// change_delay 24h: activation too early.
	early := pc
	early.ActivateAt = t0.Add(time.Hour).Unix()
	if _, err := r.VerifyChange(ChangeInput{Proposal: early, Signatures: signAll(t, early, "alice", "bob"), Now: t0}); err == nil || !strings.Contains(err.Error(), "change_delay") {
		t.Fatalf("early activation: %v", err)
	}
	// Signatures over another proposal never count (replay).
	other := pc
	other.Content = []byte("version: 1\n# other\n")
	if _, err := r.VerifyChange(ChangeInput{Proposal: pc, Signatures: signAll(t, other, "alice", "bob"), Now: t0}); !errors.Is(err, ErrChangeNotApproved) {
		t.Fatalf("replayed signatures: %v", err)
	}
	// A roster change must chain from this roster and parse.
	rc := ChangeProposal{Kind: ChangeRoster, Content: []byte("version: 1\nadmin_quorum: 1\nmembers: []\n"), PreviousHash: r.Hash(), ActivateAt: t0.Add(48 * time.Hour).Unix()}
	if _, err := r.VerifyChange(ChangeInput{Proposal: rc, Signatures: signAll(t, rc, "alice", "bob"), Now: t0}); !errors.Is(err, ErrBadChange) {
		t.Fatalf("invalid roster content accepted: %v", err)
	}
	min, _ := os.ReadFile("testdata/ok_minimal.yaml")
	rc.Content = min
	res, err = r.VerifyChange(ChangeInput{Proposal: rc, Signatures: signAll(t, rc, "alice", "bob"), Now: t0})
	if err != nil || res.NewRoster == nil || !res.ActivateAt.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("roster change: %v %+v", err, res)
	}
	rc.PreviousHash = bundle.Digest{1}
	if _, err := r.VerifyChange(ChangeInput{Proposal: rc, Signatures: signAll(t, rc, "alice", "bob"), Now: t0}); !errors.Is(err, ErrBadChange) {
		t.Fatalf("wrong previous roster: %v", err)
	}
}

func slicesEq(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestChangeDigestBindsEveryField(t *testing.T) {
	base := ChangeProposal{Kind: ChangePolicy, Content: []byte("a"), PreviousHash: bundle.Digest{1}, ActivateAt: 5, Created: 6}
	d := base.Digest()
	for name, f := range map[string]func(*ChangeProposal){
		"kind":     func(p *ChangeProposal) { p.Kind = ChangeRoster },
		"content":  func(p *ChangeProposal) { p.Content = []byte("b") },
		"previous": func(p *ChangeProposal) { p.PreviousHash = bundle.Digest{2} },
		"activate": func(p *ChangeProposal) { p.ActivateAt = 7 },
		"created":  func(p *ChangeProposal) { p.Created = 7 },
	} {
		p := base
		f(&p)
		if p.Digest() == d {
			t.Errorf("%s not bound into the digest", name)
		}
	}
}

func TestChangeEncodeDecode(t *testing.T) {
	_, data := loadRoster(t, "ok_basic.yaml")
	p := ChangeProposal{Kind: ChangeRoster, Content: data, ActivateAt: 10, Created: 9}
	b := ChangeBundle{Proposal: p, Signatures: signAll(t, p, "alice", "bob")}
	enc, err := EncodeChange(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeChange(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := EncodeChange(got)
	if !bytes.Equal(enc, enc2) || got.Proposal.Digest() != p.Digest() {
		t.Fatal("round trip changed the bundle")
	}
	// Golden bytes: Ed25519 signatures are deterministic, so the encoding is too.
	const golden = "testdata/ok_change.bin"
	if os.Getenv("ICEBOX_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || !bytes.Equal(want, enc) {
		t.Fatalf("encoding differs from %s (%v); regenerate with ICEBOX_UPDATE_GOLDEN=1 only for an intended format change", golden, err)
	}
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("icebox-chang3\x00"), enc[14:]...),
		"trailing":  append(clone(enc), 0),
		"truncated": enc[:len(enc)-1],
		"version":   func() []byte { e := clone(enc); e[14] = 2; return e }(),
		"kind":      func() []byte { e := clone(enc); e[15] = 9; return e }(),
		"too large": make([]byte, MaxChangeSize+1),
	}
	for name, in := range bad {
		if _, err := DecodeChange(in); !errors.Is(err, ErrBadChange) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
