package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
)

func FuzzParsePolicy(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		if p.Hash() != Hash(data) || len(p.Rules) == 0 {
			t.Fatal("accepted policy breaks invariants")
		}
		for _, r := range p.Rules {
			if r.Action == ActionAllow && r.Approvals.Validate() != nil {
				t.Fatalf("allow rule %s without a valid quorum", r.Name)
			}
		}
		_ = p.Explain()
		// Whatever was accepted evaluates without panicking.
		e, err := NewEngine(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = e.Evaluate(Input{Kind: bundle.KindWithdrawal, Requester: "r", Now: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Usage: &memUsage{},
			Transactions: []chain.Summary{btcTx([]string{"k"}, out{exchAddr, 1000, false})}})
	})
}
