package quorum

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
)

func twoOfThree() Requirement {
	return Requirement{Expr: Node{Op: OpGroup, Group: "treasury", Members: []string{"alice", "bob", "carol"}, Threshold: 2}}
}

func verify(t *testing.T, r *Roster, req Requirement, requester string, now time.Time, apps ...bundle.Approval) Result {
	t.Helper()
	res, err := r.Verify(VerifyInput{RequestDigest: reqA, PolicyHash: polH, RosterHash: r.Hash(), Approvals: apps, Requirement: req, Requester: requester, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func hasReason(res Result, officer string, code ReasonCode) bool {
	for _, x := range res.Rejected {
		if x.Officer != officer {
			continue
		}
		for _, r := range x.Reasons {
			if r.Code == code {
				return true
			}
		}
	}
	return false
}

func TestVerifyTable(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	exp := t0.Add(time.Hour)
	ok := func(who string) bundle.Approval { return approve(t, r, who, reqA, exp) }
	tamper := func(a bundle.Approval, f func(*bundle.Approval)) bundle.Approval {
		a.Value = slices.Clone(a.Value)
		f(&a)
		return a
	}
	frankReq := Requirement{Expr: Node{Op: OpGroup, Group: "g", Members: []string{"frank", "carol"}, Threshold: 2}}
	cases := []struct {
		name      string
		req       Requirement
		requester string
		now       time.Time
		apps      []bundle.Approval
		satisfied bool
		counted   []string
		reasons   map[string][]ReasonCode
	}{
		{"two valid", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), ok("bob")}, true, []string{"alice", "bob"}, nil},
		{"one valid", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice")}, false, []string{"alice"}, nil},
		{"duplicate counts once", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), ok("alice")}, false, []string{"alice"},
			map[string][]ReasonCode{"alice": {ReasonDuplicate}}},
		{"requester approves own", Requirement{Expr: Node{Op: OpGroup, Group: "g", Members: []string{"carol", "dave"}, Threshold: 2}}, "dave", t0,
			[]bundle.Approval{ok("carol"), ok("dave")}, false, []string{"carol"}, map[string][]ReasonCode{"dave": {ReasonRequester}}},
		{"replay other request", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), approve(t, r, "bob", reqB, exp)}, false, []string{"alice"},
			map[string][]ReasonCode{"bob": {ReasonBadSignature}}},
		{"other policy hash", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), tamper(ok("bob"), func(a *bundle.Approval) { a.PolicyHash = otherP })}, false, []string{"alice"},
			map[string][]ReasonCode{"bob": {ReasonPolicyMismatch, ReasonBadSignature}}},
		{"signed under other policy", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), func() bundle.Approval {
			a, _ := Approve(keys["bob"], ApproveInput{Officer: "bob", RequestDigest: reqA, PolicyHash: otherP, RosterHash: r.Hash(), Expires: exp})
			return a
		}()}, false, []string{"alice"}, map[string][]ReasonCode{"bob": {ReasonPolicyMismatch}}},
		{"other roster hash", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), func() bundle.Approval {
			a, _ := Approve(keys["bob"], ApproveInput{Officer: "bob", RequestDigest: reqA, PolicyHash: polH, RosterHash: bundle.Digest{9}, Expires: exp})
			return a
		}()}, false, []string{"alice"}, map[string][]ReasonCode{"bob": {ReasonRosterMismatch}}},
		{"approval expired", twoOfThree(), "hot-1", exp.Add(time.Second), []bundle.Approval{ok("alice"), ok("bob")}, false, nil,
			map[string][]ReasonCode{"alice": {ReasonApprovalExpired}, "bob": {ReasonApprovalExpired}}},
		{"approval at expiry second counts", twoOfThree(), "hot-1", exp, []bundle.Approval{ok("alice"), ok("bob")}, true, []string{"alice", "bob"}, nil},
		{"roster entry expired", twoOfThree(), "hot-1", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC), []bundle.Approval{
			approve(t, r, "alice", reqA, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)), approve(t, r, "bob", reqA, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))},
			false, []string{"bob"}, map[string][]ReasonCode{"alice": {ReasonMemberExpired}}},
		{"revoked officer", Requirement{Expr: Node{Op: OpGroup, Group: "g", Members: []string{"erin", "carol"}, Threshold: 1}}, "hot-1", t0,
			[]bundle.Approval{ok("erin")}, false, nil, map[string][]ReasonCode{"erin": {ReasonRevoked}}},
		{"unknown officer", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), tamper(ok("bob"), func(a *bundle.Approval) { a.Officer = "mallory" })}, false, []string{"alice"},
			map[string][]ReasonCode{"mallory": {ReasonUnknownOfficer}}},
		{"wrong role", Requirement{Expr: Node{Op: OpGroup, Group: "g", Members: []string{"hot-1", "carol"}, Threshold: 1}}, "dave", t0,
			[]bundle.Approval{func() bundle.Approval {
				a, _ := Approve(keys["hot-1"], ApproveInput{Officer: "hot-1", RequestDigest: reqA, PolicyHash: polH, RosterHash: r.Hash(), Expires: exp})
				return a
			}()}, false, nil, map[string][]ReasonCode{"hot-1": {ReasonWrongRole}}},
		{"someone else's key", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), func() bundle.Approval {
			a, _ := Approve(keys["carol"], ApproveInput{Officer: "bob", RequestDigest: reqA, PolicyHash: polH, RosterHash: r.Hash(), Expires: exp})
			return a
		}()}, false, []string{"alice"}, map[string][]ReasonCode{"bob": {ReasonBadSignature}}},
		{"p256 officer before validity", frankReq, "hot-1", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), []bundle.Approval{
			approve(t, r, "frank", reqA, time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)), approve(t, r, "carol", reqA, time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC))},
			false, []string{"carol"}, map[string][]ReasonCode{"frank": {ReasonNotYetValid}}},
		{"p256 officer valid", frankReq, "hot-1", t0, []bundle.Approval{ok("frank"), ok("carol")}, true, []string{"carol", "frank"}, nil},
		{"algorithm mismatch", frankReq, "hot-1", t0, []bundle.Approval{ok("carol"), tamper(ok("frank"), func(a *bundle.Approval) { a.Algorithm = 1 })}, false, []string{"carol"},
			map[string][]ReasonCode{"frank": {ReasonAlgorithm}}},
		{"not in requirement", twoOfThree(), "hot-1", t0, []bundle.Approval{ok("alice"), ok("bob"), ok("dave")}, true, []string{"alice", "bob"},
			map[string][]ReasonCode{"dave": {ReasonNotInRequirement}}},
		{"and/or tree", Requirement{Expr: Node{Op: OpAll, Children: []Node{
			{Op: OpGroup, Group: "a", Members: []string{"alice", "bob"}, Threshold: 1},
			{Op: OpAny, Children: []Node{
				{Op: OpGroup, Group: "c", Members: []string{"carol"}, Threshold: 1},
				{Op: OpGroup, Group: "d", Members: []string{"dave"}, Threshold: 1}}}}}},
			"hot-1", t0, []bundle.Approval{ok("bob"), ok("dave")}, true, []string{"bob", "dave"}, nil},
		{"and/or tree missing", Requirement{Expr: Node{Op: OpAll, Children: []Node{
			{Op: OpGroup, Group: "a", Members: []string{"alice", "bob"}, Threshold: 1},
			{Op: OpAny, Children: []Node{
				{Op: OpGroup, Group: "c", Members: []string{"carol"}, Threshold: 1},
				{Op: OpGroup, Group: "d", Members: []string{"dave"}, Threshold: 1}}}}}},
			"hot-1", t0, []bundle.Approval{ok("bob")}, false, []string{"bob"}, nil},
		{"required approver missing", Requirement{Expr: twoOfThree().Expr, Required: []string{"dave"}}, "hot-1", t0,
			[]bundle.Approval{ok("alice"), ok("bob")}, false, []string{"alice", "bob"}, nil},
		{"required approver present", Requirement{Expr: twoOfThree().Expr, Required: []string{"dave"}}, "hot-1", t0,
			[]bundle.Approval{ok("alice"), ok("bob"), ok("dave")}, true, []string{"alice", "bob", "dave"}, nil},
		{"only required", Requirement{Required: []string{"carol"}}, "hot-1", t0, []bundle.Approval{ok("carol")}, true, []string{"carol"}, nil},
		{"excluded", Requirement{Expr: twoOfThree().Expr, Excluded: []string{"alice"}}, "hot-1", t0, []bundle.Approval{ok("alice"), ok("bob")}, false, []string{"bob"},
			map[string][]ReasonCode{"alice": {ReasonExcluded}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := verify(t, r, c.req, c.requester, c.now, c.apps...)
			if res.Satisfied != c.satisfied {
				t.Errorf("satisfied = %v, want %v\n%s", res.Satisfied, c.satisfied, res.Explain())
			}
			if !slices.Equal(res.Counted, c.counted) {
				t.Errorf("counted = %v, want %v", res.Counted, c.counted)
			}
			for who, codes := range c.reasons {
				for _, code := range codes {
					if !hasReason(res, who, code) {
						t.Errorf("%s lacks reason %s:\n%s", who, code, res.Explain())
					}
				}
			}
			if !res.Satisfied && len(res.Missing) == 0 {
				t.Error("unsatisfied result says nothing is missing")
			}
			if res.Satisfied && len(res.Missing) != 0 {
				t.Errorf("satisfied but missing %v", res.Missing)
			}
		})
	}
}

func TestVerifyEveryReasonReported(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	// erin: revoked, approving her own request, under another policy, expired.
	a, _ := Approve(keys["erin"], ApproveInput{Officer: "erin", RequestDigest: reqA, PolicyHash: otherP, RosterHash: r.Hash(), Expires: t0.Add(-time.Minute)})
	res := verify(t, r, twoOfThree(), "erin", t0, a)
	for _, code := range []ReasonCode{ReasonRevoked, ReasonRequester, ReasonPolicyMismatch, ReasonApprovalExpired} {
		if !hasReason(res, "erin", code) {
			t.Errorf("missing %s in %s", code, res.Explain())
		}
	}
}

func TestVerifyUnreachableSaysSo(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	req := Requirement{Expr: Node{Op: OpGroup, Group: "g", Members: []string{"erin", "dave", "carol"}, Threshold: 2}}
	res := verify(t, r, req, "dave", t0) // erin revoked, dave is the requester
	if res.Satisfied || !strings.Contains(strings.Join(res.Missing, " "), "cannot reach quorum") {
		t.Fatalf("%s", res.Explain())
	}
}

func TestVerifyBadInput(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	good := VerifyInput{RequestDigest: reqA, PolicyHash: polH, RosterHash: r.Hash(), Requirement: twoOfThree(), Requester: "hot-1", Now: t0}
	for name, f := range map[string]func(*VerifyInput){
		"zero digest":       func(v *VerifyInput) { v.RequestDigest = bundle.Digest{} },
		"zero policy":       func(v *VerifyInput) { v.PolicyHash = bundle.Digest{} },
		"stale roster hash": func(v *VerifyInput) { v.RosterHash = bundle.Digest{1} },
		"no time":           func(v *VerifyInput) { v.Now = time.Time{} },
		"empty requirement": func(v *VerifyInput) { v.Requirement = Requirement{} },
		"threshold 0":       func(v *VerifyInput) { v.Requirement.Expr.Threshold = 0 },
		"threshold > size":  func(v *VerifyInput) { v.Requirement.Expr.Threshold = 4 },
		"empty all":         func(v *VerifyInput) { v.Requirement.Expr = Node{Op: OpAll} },
	} {
		in := good
		in.Requirement = good.Requirement.Clone()
		f(&in)
		if _, err := r.Verify(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := (*Roster)(nil).Verify(good); err == nil {
		t.Error("nil roster verified")
	}
}

// Property: permuting and duplicating approvals never changes the result.
func TestVerifyPermutationAndDuplicates(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	exp := t0.Add(time.Hour)
	pool := []bundle.Approval{
		approve(t, r, "alice", reqA, exp), approve(t, r, "alice", reqA, exp.Add(time.Minute)),
		approve(t, r, "bob", reqB, exp), approve(t, r, "carol", reqA, exp), approve(t, r, "dave", reqA, exp),
		approve(t, r, "erin", reqA, exp), approve(t, r, "frank", reqA, t0.Add(-time.Hour)),
	}
	req := Requirement{Expr: Node{Op: OpAny, Children: []Node{
		{Op: OpGroup, Group: "t", Members: []string{"alice", "bob", "carol"}, Threshold: 2},
		{Op: OpGroup, Group: "r", Members: []string{"dave", "erin", "frank"}, Threshold: 3}}}}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		n := rng.IntN(len(pool) + 1)
		sub := slices.Clone(pool[:n])
		base := verify(t, r, req, "hot-1", t0, sub...)
		perm := slices.Clone(sub)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		if got := verify(t, r, req, "hot-1", t0, perm...); !reflect.DeepEqual(got, base) {
			t.Fatalf("permutation changed the result:\n%s\nvs\n%s", base.Explain(), got.Explain())
		}
		dup := append(slices.Clone(perm), perm...)
		got := verify(t, r, req, "hot-1", t0, dup...)
		if got.Satisfied != base.Satisfied || !slices.Equal(got.Counted, base.Counted) || !reflect.DeepEqual(got.Missing, base.Missing) {
			t.Fatalf("duplicates changed the outcome:\n%s\nvs\n%s", base.Explain(), got.Explain())
		}
		seen := map[string]bool{}
		for _, c := range got.Counted {
			if seen[c] {
				t.Fatalf("%s counted twice", c)
			}
			seen[c] = true
		}
	}
}

func TestVerifyRequester(t *testing.T) {
	r, _ := loadRoster(t, "ok_basic.yaml")
	sign := func(who string, d bundle.Digest) bundle.Signature {
		v, _ := keys[who].Sign(d[:])
		return bundle.Signature{Signer: who, Algorithm: keys[who].Public().Algorithm, Value: v}
	}
	if err := r.VerifyRequester(reqA, sign("hot-1", reqA), t0); err != nil {
		t.Fatalf("valid requester refused: %v", err)
	}
	if err := r.VerifyRequester(reqA, sign("dave", reqA), t0); err != nil {
		t.Fatalf("dave (officer+requester) refused: %v", err)
	}
	bad := map[string]bundle.Signature{
		"other digest": sign("hot-1", reqB),
		"officer only": sign("carol", reqA),
		"unknown":      {Signer: "mallory", Algorithm: 1, Value: make([]byte, 64)},
		"wrong key":    func() bundle.Signature { s := sign("carol", reqA); s.Signer = "hot-1"; return s }(),
		"algorithm":    func() bundle.Signature { s := sign("hot-1", reqA); s.Algorithm = 2; return s }(),
	}
	for name, s := range bad {
		if err := r.VerifyRequester(reqA, s, t0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Revoked requester and expired validity.
	data := []byte(`version: 1
admin_quorum: 1
members:
  - {id: root, key: "ed25519:8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c", roles: [admin]}
  - {id: hot-1, key: "ed25519:6e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1", roles: [requester], revoked: true}
  - {id: dave, key: "ed25519:ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c", roles: [requester], not_after: 2026-06-30T00:00:00Z}
`)
	r2, err := ParseRoster("r2", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.VerifyRequester(reqA, sign("hot-1", reqA), t0); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked requester: %v", err)
	}
	if err := r2.VerifyRequester(reqA, sign("dave", reqA), t0); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired requester: %v", err)
	}
}
