package policy

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
)

// Property: however a withdrawal is split into transactions and batches,
// the total allowed within any window never exceeds the velocity limit,
// for every scope.
func TestSplitsNeverEscapeVelocity(t *testing.T) {
	p := mustParseText(t, `version: 1
approver_groups: {t: [alice]}
rules:
  - name: v
    match: {network: [btc-regtest], asset: BTC, destination: [any]}
    limits:
      velocity:
        - {per: rule, window: 24h, max: "1 BTC"}
        - {per: destination, window: 1h, max: "0.3 BTC"}
        - {per: source, window: 6h, max: "0.6 BTC"}
    action: allow
    approvals: {group: t, threshold: 1}
`)
	e, _ := NewEngine(p)
	dests := []string{exchAddr, payAddr, hotAddr}
	srcs := []string{"k1", "k2"}
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := 0; trial < 60; trial++ {
		u := &memUsage{}
		now := wed
		type rec struct {
			at          time.Time
			dest, src   string
			amount      int64
			multiSource bool
		}
		var allowed []rec
		for step := 0; step < 40; step++ {
			now = now.Add(time.Duration(rng.IntN(90)) * time.Minute)
			ntx := 1 + rng.IntN(4)
			var txs []chain.Summary
			var recs []rec
			for i := 0; i < ntx; i++ {
				amt := int64(1 + rng.IntN(btc/5))
				d := dests[rng.IntN(len(dests))]
				s := srcs[rng.IntN(len(srcs))]
				txs = append(txs, btcTx([]string{s}, out{d, amt, false}, out{ownAddr, int64(rng.IntN(btc)) + 1, true}))
				recs = append(recs, rec{now, d, s, amt, false})
			}
			dec, err := e.Evaluate(Input{Kind: bundle.KindWithdrawal, Requester: "r", Transactions: txs, Now: now, Usage: u})
			if err != nil {
				t.Fatal(err)
			}
			if dec.Allow {
				u.apply(dec, now)
				allowed = append(allowed, recs...)
			}
		}
		// Check every window ending at every allowed time.
		for _, end := range allowed {
			sum := func(win time.Duration, keep func(rec) bool) int64 {
				var s int64
				for _, r := range allowed {
					if !r.at.Before(end.at.Add(-win)) && !r.at.After(end.at) && keep(r) {
						s += r.amount
					}
				}
				return s
			}
			if s := sum(24*time.Hour, func(rec) bool { return true }); s > btc {
				t.Fatalf("trial %d: %d sat allowed in 24h, limit %d", trial, s, btc)
			}
			for _, d := range dests {
				if s := sum(time.Hour, func(r rec) bool { return r.dest == d }); s > 3*btc/10 {
					t.Fatalf("trial %d: %d sat to %s in 1h", trial, s, d)
				}
			}
			for _, src := range srcs {
				if s := sum(6*time.Hour, func(r rec) bool { return r.src == src }); s > 6*btc/10 {
					t.Fatalf("trial %d: %d sat from %s in 6h", trial, s, src)
				}
			}
		}
		if len(allowed) == 0 {
			t.Fatalf("trial %d: nothing was ever allowed; the property is vacuous", trial)
		}
	}
}

// Property: one batch is never allowed when the same transactions sent one
// by one would cross the limit: evaluate random splits of an amount above
// the limit and check the allowed part stays within it.
func TestRandomSplitOfOneWithdrawal(t *testing.T) {
	p := mustParseText(t, `version: 1
approver_groups: {t: [alice]}
rules:
  - name: v
    match: {network: [btc-regtest], asset: BTC, destination: [any]}
    limits:
      velocity: [{per: rule, window: 24h, max: "1 BTC"}]
    action: allow
    approvals: {group: t, threshold: 1}
`)
	e, _ := NewEngine(p)
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := 0; trial < 200; trial++ {
		total := int64(btc + 1 + rng.IntN(2*btc))
		// Random cut points.
		var parts []int64
		left := total
		for left > 0 {
			x := int64(1 + rng.IntN(int(left)))
			if rng.IntN(3) == 0 {
				x = left
			}
			parts = append(parts, x)
			left -= x
		}
		u := &memUsage{}
		var sum int64
		now := wed
		for len(parts) > 0 {
			n := 1 + rng.IntN(len(parts))
			var txs []chain.Summary
			var amt int64
			for _, a := range parts[:n] {
				txs = append(txs, btcTx([]string{"k"}, out{exchAddr, a, false}))
				amt += a
			}
			parts = parts[n:]
			now = now.Add(time.Minute)
			d, err := e.Evaluate(Input{Kind: bundle.KindWithdrawal, Requester: "r", Transactions: txs, Now: now, Usage: u})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow {
				u.apply(d, now)
				sum += amt
			}
		}
		if sum > btc {
			t.Fatalf("trial %d: %d sat of a %d sat withdrawal allowed, limit %d", trial, sum, total, btc)
		}
		spent, _ := u.Spent(RuleCounter("v", chain.AssetBTC), time.Time{})
		if spent.Cmp(big.NewInt(sum)) != 0 {
			t.Fatalf("charges %s != allowed %d", spent, sum)
		}
	}
}
