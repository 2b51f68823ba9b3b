package policy

import (
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
)

// Wednesday 2026-07-01 10:00 in New York (EDT, UTC-4).
var wed = time.Date(2026, 7, 1, 14, 0, 0, 0, time.UTC)

func failed(d Decision) []string {
	var out []string
	for _, c := range d.Checks {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestEvaluateTable(t *testing.T) {
	p := mustParse(t, "ok_full.yaml")
	e, err := NewEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	cold := []string{"btc-cold-1"}
	hot := func(amounts ...int64) []chain.Summary {
		var txs []chain.Summary
		for _, a := range amounts {
			txs = append(txs, btcTx(cold, out{hotAddr, a, false}, out{ownAddr, 3 * btc, true}))
		}
		return txs
	}
	exch := func(amounts ...int64) []chain.Summary {
		var txs []chain.Summary
		for _, a := range amounts {
			txs = append(txs, withFee(btcTx([]string{"btc-hot-9"}, out{exchAddr, a, false}, out{ownAddr, 7 * btc, true}), 1000, 10_000))
		}
		return txs
	}
	type usageFn func(u *memUsage)
	ruleBTC := func(r string) string { return RuleCounter(r, chain.AssetBTC) }
	cases := []struct {
		name      string
		kind      bundle.RequestKind
		requester string
		txs       []chain.Summary
		now       time.Time
		usage     usageFn
		allow     bool
		rule      string
		fails     []string
	}{
		{"refill ok", "withdrawal", "hot-1", hot(btc / 2), wed, nil, true, "refill-hot", nil},
		{"per_tx exactly at limit", "withdrawal", "hot-1", hot(btc / 2), wed, nil, true, "refill-hot", nil},
		{"per_tx one sat over", "withdrawal", "hot-1", hot(btc/2 + 1), wed, nil, false, "refill-hot", []string{"per_tx"}},
		{"per_batch exactly at limit", "withdrawal", "hot-1", hot(btc/2, btc/2), wed, nil, true, "refill-hot", nil},
		{"per_batch over by splitting", "withdrawal", "hot-1", hot(btc/3, btc/3, btc/3+2), wed, nil, false, "refill-hot", []string{"per_batch"}},
		{"max_transactions", "withdrawal", "hot-1", hot(1, 1, 1, 1), wed, nil, false, "refill-hot", []string{"max_transactions"}},
		{"velocity exactly at limit", "withdrawal", "hot-1", hot(btc / 2), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-23*time.Hour), 3*btc/2) }, true, "refill-hot", nil},
		{"velocity one sat over", "withdrawal", "hot-1", hot(btc/4, btc/4+1), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-23*time.Hour), 3*btc/2) }, false, "refill-hot", []string{"velocity[0] per rule over 24h0m0s"}},
		{"velocity window edge: exactly 24h ago counts", "withdrawal", "hot-1", hot(1), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-24*time.Hour), 2*btc) }, false, "refill-hot", []string{"velocity[0] per rule over 24h0m0s"}},
		{"velocity window edge: older does not count", "withdrawal", "hot-1", hot(btc / 2), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-24*time.Hour-time.Second), 2*btc) }, true, "refill-hot", nil},
		{"min_interval too soon", "withdrawal", "hot-1", hot(1), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-10*time.Minute+time.Second), 0) }, false, "refill-hot", []string{"min_interval"}},
		{"min_interval exactly", "withdrawal", "hot-1", hot(1), wed, func(u *memUsage) { u.add(ruleBTC("refill-hot"), wed.Add(-10*time.Minute), 0) }, true, "refill-hot", nil},
		{"max_fee at limit", "withdrawal", "hot-1", []chain.Summary{withFee(hot(1)[0], 100000, 50_000)}, wed, nil, true, "refill-hot", nil},
		{"max_fee over and fee rate over", "withdrawal", "hot-1", []chain.Summary{withFee(hot(1)[0], 100001, 50_001)}, wed, nil, false, "refill-hot", []string{"max_fee", "max_fee_rate"}},
		{"unknown fee fails closed", "withdrawal", "hot-1", []chain.Summary{func() chain.Summary { s := hot(1)[0]; s.Fee, s.FeeRate = nil, nil; return s }()}, wed, nil, false, "refill-hot", []string{"max_fee", "max_fee_rate"}},
		{"max_inputs", "withdrawal", "hot-1", []chain.Summary{btcTx([]string{"btc-cold-1", "btc-cold-1", "btc-cold-1", "btc-cold-1"}, out{hotAddr, 1, false})}, wed, nil, false, "refill-hot", []string{"max_inputs"}},
		{"max_outputs counts change", "withdrawal", "hot-1", []chain.Summary{btcTx(cold, out{hotAddr, 1, false}, out{hotAddr, 1, false}, out{ownAddr, 1, true})}, wed, nil, false, "refill-hot", []string{"max_outputs"}},
		{"key id alias in key group", "sweep", "hot-2", []chain.Summary{btcTx([]string{"#c0ffee"}, out{hotAddr, 1000, false})}, wed, nil, true, "refill-hot", nil},
		{"source outside key group", "withdrawal", "hot-1", []chain.Summary{btcTx([]string{"btc-hot-9"}, out{hotAddr, 1000, false})}, wed, nil, false, "everything-else", nil},
		{"requester outside group", "withdrawal", "mallory", hot(1000), wed, nil, false, "everything-else", nil},
		{"kind not listed", "consolidation", "hot-1", []chain.Summary{btcTx(cold, out{ownAddr, 1000, true})}, wed, nil, true, "consolidate", nil},
		{"exchange small ok", "withdrawal", "ops-desk", exch(btc / 2), wed, nil, true, "exchange-small", nil},
		{"amount range edge: exactly 1 BTC is small", "withdrawal", "ops-desk", exch(btc), wed, nil, true, "exchange-small", nil},
		{"amount range edge: 1 sat more is large", "withdrawal", "ops-desk", exch(btc + 1), wed, nil, true, "exchange-large", nil},
		{"splitting across txs uses the batch total", "withdrawal", "ops-desk", exch(btc*6/10, btc*6/10), wed, nil, true, "exchange-large", nil},
		{"fee percent exactly 1%", "withdrawal", "ops-desk", []chain.Summary{withFee(exch(btc / 2)[0], btc/200, 10_000)}, wed, nil, true, "exchange-small", nil},
		{"fee percent over", "withdrawal", "ops-desk", []chain.Summary{withFee(exch(btc / 2)[0], btc/200+1, 10_000)}, wed, nil, false, "exchange-small", []string{"max_fee_percent"}},
		{"destination velocity", "withdrawal", "ops-desk", exch(btc * 6 / 10), wed, func(u *memUsage) {
			u.add(ScopeCounter(PerDestination, exchAddr, chain.AssetBTC), wed.Add(-6*24*time.Hour), btc)
		}, false, "exchange-small", []string{"velocity[0] per destination over 168h0m0s"}},
		{"requester velocity counts all rules", "withdrawal", "ops-desk", exch(btc / 2), wed, func(u *memUsage) {
			u.add(ScopeCounter(PerRequester, "ops-desk", chain.AssetBTC), wed.Add(-time.Hour), btc*7/10+1)
		}, false, "exchange-small", []string{"velocity[1] per requester over 24h0m0s"}},
		{"lifetime at cap", "withdrawal", "ops-desk", exch(btc / 2), wed, func(u *memUsage) { u.add(ruleBTC("exchange-small"), wed.Add(-900*24*time.Hour), 5*btc/2) }, true, "exchange-small", nil},
		{"lifetime over", "withdrawal", "ops-desk", exch(btc/2 + 1), wed, func(u *memUsage) { u.add(ruleBTC("exchange-small"), wed.Add(-900*24*time.Hour), 5*btc/2) }, false, "exchange-small", []string{"lifetime"}},
		{"window: 08:59 EDT", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 7, 1, 12, 59, 0, 0, time.UTC), nil, false, "exchange-small", []string{"time_window"}},
		{"window: 09:00 EDT", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC), nil, true, "exchange-small", nil},
		{"window: 16:59:59 EDT", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 7, 1, 20, 59, 59, 0, time.UTC), nil, true, "exchange-small", nil},
		{"window: 17:00 EDT", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 7, 1, 21, 0, 0, 0, time.UTC), nil, false, "exchange-small", []string{"time_window"}},
		{"window: Saturday", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 7, 4, 14, 0, 0, 0, time.UTC), nil, false, "exchange-small", []string{"time_window"}},
		{"DST: Friday before (EST) 09:00 = 14:00Z", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC), nil, true, "exchange-small", nil},
		{"DST: Friday before (EST) 13:30Z is 08:30", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 3, 6, 13, 30, 0, 0, time.UTC), nil, false, "exchange-small", []string{"time_window"}},
		{"DST: Monday after (EDT) 13:30Z is 09:30", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC), nil, true, "exchange-small", nil},
		{"blackout day", "withdrawal", "ops-desk", exch(btc / 10), time.Date(2026, 12, 25, 15, 0, 0, 0, time.UTC), nil, false, "exchange-small", []string{"blackout"}},
		{"contract call denied", "withdrawal", "ops-desk", []chain.Summary{{Network: "eth-1337", Kind: chain.KindContractCall, From: ethFrom, To: ethTo, Fee: big.NewInt(1), FeeRate: big.NewInt(1)}}, wed, nil, false, "no-contract-calls", nil},
		{"usdc at per_tx", "withdrawal", "ops-desk", []chain.Summary{usdcTx(1_000_500_000)}, wed, nil, true, "usdc-exchange", nil},
		{"usdc over per_tx", "withdrawal", "ops-desk", []chain.Summary{usdcTx(1_000_500_001)}, wed, nil, false, "usdc-exchange", []string{"per_tx"}},
		{"usdc source velocity", "withdrawal", "ops-desk", []chain.Summary{usdcTx(1_000_000_000)}, wed, func(u *memUsage) {
			u.add(ScopeCounter(PerSource, ethFrom, chain.ERC20(usdc)), wed.Add(-time.Hour), 500_000_001)
		}, false, "usdc-exchange", []string{"velocity[0] per source over 24h0m0s"}},
		{"usdc fee rate over", "withdrawal", "ops-desk", []chain.Summary{func() chain.Summary {
			s := usdcTx(1)
			s.FeeRate = big.NewInt(100_000_000_001)
			return s
		}()}, wed, nil, false, "usdc-exchange", []string{"max_fee_rate"}},
		{"eth-from not in key group", "withdrawal", "ops-desk", []chain.Summary{func() chain.Summary { s := usdcTx(1); s.From = ethTo; return s }()}, wed, nil, false, "everything-else", nil},
		{"consolidation sending out is refused", "consolidation", "hot-1", []chain.Summary{btcTx(cold, out{exchAddr, 1, false})}, wed, nil, false, "", []string{"request-kind"}},
		{"mixed networks match no allow rule", "withdrawal", "ops-desk", append(exch(btc/10), usdcTx(1)), wed, nil, false, "everything-else", nil},
		{"stranger destination", "withdrawal", "ops-desk", []chain.Summary{btcTx([]string{"k"}, out{strayAddr, 1000, false})}, wed, nil, false, "everything-else", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := &memUsage{}
			if c.usage != nil {
				c.usage(u)
			}
			d, err := e.Evaluate(Input{Kind: c.kind, Requester: c.requester, Transactions: c.txs, Now: c.now, Usage: u})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != c.allow || d.Rule != c.rule || !slices.Equal(failed(d), c.fails) {
				t.Fatalf("allow=%v rule=%q fails=%v, want allow=%v rule=%q fails=%v\n%s", d.Allow, d.Rule, failed(d), c.allow, c.rule, c.fails, d.Explain())
			}
			if d.Allow {
				if d.Quorum.Validate() != nil || !slices.Contains(d.Quorum.Excluded, c.requester) || len(d.Charges) == 0 {
					t.Fatalf("allowed without a valid quorum / requester exclusion / charges: %+v", d)
				}
			} else if d.Charges != nil || d.Reason == "" {
				t.Fatalf("denied decision has charges or no reason: %+v", d)
			}
			if d.PolicyHash != p.Hash() {
				t.Fatal("decision lacks the policy hash")
			}
		})
	}
}

func TestEvaluateChargesAndQuorum(t *testing.T) {
	e, _ := NewEngine(mustParse(t, "ok_full.yaml"))
	txs := []chain.Summary{
		withFee(btcTx([]string{"k1", "k2"}, out{exchAddr, btc / 4, false}, out{ownAddr, 9 * btc, true}), 1000, 1000),
		withFee(btcTx([]string{"k2"}, out{exchAddr, btc / 4, false}, out{strings.ToUpper(exchAddr), 1, false}), 1000, 1000),
	}
	txs[1].Outputs[1].Address = "BCRT1QEXCHANGE0000000000000000000000000" // bech32 is case-insensitive
	d, err := e.Evaluate(Input{Kind: "withdrawal", Requester: "ops-desk", Transactions: txs, Now: wed, Usage: &memUsage{}})
	if err != nil || !d.Allow {
		t.Fatalf("%v\n%s", err, d.Explain())
	}
	got := map[string]string{}
	for _, c := range d.Charges {
		got[c.Counter] = c.Amount.String()
	}
	want := map[string]string{
		"rule/exchange-small/asset/BTC":                                 "50000001",
		"asset/BTC/requester/ops-desk":                                  "50000001",
		"asset/BTC/source/k1":                                           "25000000",
		"asset/BTC/source/k2":                                           "50000001",
		"asset/BTC/destination/bcrt1qexchange0000000000000000000000000": "50000001",
	}
	if len(got) != len(want) {
		t.Fatalf("charges %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if !slices.IsSortedFunc(d.Charges, func(a, b Charge) int { return strings.Compare(a.Counter, b.Counter) }) {
		t.Error("charges not sorted")
	}
	q := d.Quorum.String()
	for _, w := range []string{"2 of treasury", "1 of risk", "1 of officers (frank)", " OR ", " AND "} {
		if !strings.Contains(q, w) {
			t.Errorf("quorum %q lacks %q", q, w)
		}
	}
	// The decision's quorum is a copy: mutating it never changes the policy.
	d.Quorum.Expr.Children[0].Members[0] = "mallory"
	d2, _ := e.Evaluate(Input{Kind: "withdrawal", Requester: "ops-desk", Transactions: txs, Now: wed, Usage: &memUsage{}})
	if strings.Contains(d2.Quorum.String(), "mallory") {
		t.Fatal("decision aliases the policy")
	}
	large, _ := e.Evaluate(Input{Kind: "withdrawal", Requester: "dave", Transactions: []chain.Summary{btcTx([]string{"k"}, out{exchAddr, 2 * btc, false})}, Now: wed})
	if !large.Allow || !slices.Equal(large.Quorum.Required, []string{"dave"}) || !slices.Contains(large.Quorum.Excluded, "dave") {
		t.Fatalf("large: %+v", large.Quorum)
	}
}

func TestEvaluateErrors(t *testing.T) {
	e, _ := NewEngine(mustParse(t, "ok_full.yaml"))
	good := Input{Kind: "withdrawal", Requester: "hot-1", Transactions: []chain.Summary{btcTx([]string{"btc-cold-1"}, out{hotAddr, 1, false})}, Now: wed, Usage: &memUsage{}}
	if _, err := e.Evaluate(good); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*Input){
		"no time":         func(in *Input) { in.Now = time.Time{} },
		"no requester":    func(in *Input) { in.Requester = "" },
		"no transactions": func(in *Input) { in.Transactions = nil },
		"bad kind":        func(in *Input) { in.Kind = "gift" },
		"no usage":        func(in *Input) { in.Usage = nil },
		"usage fails":     func(in *Input) { in.Usage = &memUsage{fail: errStore} },
		"unknown tx kind": func(in *Input) { in.Transactions = []chain.Summary{{Network: chain.BTCRegtest, Kind: "mystery"}} },
		"nil amount": func(in *Input) {
			in.Transactions = []chain.Summary{{Network: chain.BTCRegtest, Kind: chain.KindTransfer, Outputs: []chain.Output{{Address: hotAddr, Asset: "BTC"}}}}
		},
	} {
		in := good
		f(&in)
		if _, err := e.Evaluate(in); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "usage fails" && !errors.Is(err, ErrUsage) {
			t.Errorf("usage error not wrapped: %v", err)
		}
	}
	if _, err := NewEngine(nil); err == nil {
		t.Error("nil policy accepted")
	}
}

func TestEvaluateNoMatchDenies(t *testing.T) {
	p := mustParseText(t, `version: 1
approver_groups: {t: [alice]}
allowlists: {x: ["0x2222222222222222222222222222222222222222"]}
rules:
  - name: eth-only
    match: {network: [eth-1], asset: ETH, destination: [x]}
    action: allow
    approvals: {group: t, threshold: 1}
`)
	e, _ := NewEngine(p)
	d, err := e.Evaluate(Input{Kind: "withdrawal", Requester: "r", Transactions: []chain.Summary{btcTx([]string{"k"}, out{exchAddr, 1, false})}, Now: wed})
	if err != nil || d.Allow || d.Rule != "" || !strings.Contains(d.Reason, "no rule matches") || len(d.Skipped) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
}

func TestBlackoutUsesZoneDate(t *testing.T) {
	p := mustParseText(t, `version: 1
approver_groups: {t: [alice]}
rules:
  - name: tokyo
    match: {network: [btc-regtest], destination: [any]}
    time: {zone: Asia/Tokyo, blackout: [2026-12-25]}
    action: allow
    approvals: {group: t, threshold: 1}
`)
	e, _ := NewEngine(p)
	eval := func(now time.Time) Decision {
		d, err := e.Evaluate(Input{Kind: "withdrawal", Requester: "r", Transactions: []chain.Summary{btcTx([]string{"k"}, out{exchAddr, 1, false})}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// 2026-12-25 00:00 JST = 2026-12-24 15:00 UTC.
	if d := eval(time.Date(2026, 12, 24, 14, 59, 59, 0, time.UTC)); !d.Allow {
		t.Fatalf("23:59:59 JST on the 24th denied:\n%s", d.Explain())
	}
	if d := eval(time.Date(2026, 12, 24, 15, 0, 0, 0, time.UTC)); d.Allow {
		t.Fatal("00:00 JST on the 25th allowed")
	}
	if d := eval(time.Date(2026, 12, 25, 15, 0, 0, 0, time.UTC)); !d.Allow {
		t.Fatal("00:00 JST on the 26th denied")
	}
}

func TestDSTWindowEdges(t *testing.T) {
	// Europe/Zurich: 01:00-04:00 local on Sundays; on 2026-03-29 02:00
	// CET jumps to 03:00 CEST, so the window is only 2 hours long in UTC.
	p := mustParseText(t, `version: 1
approver_groups: {t: [alice]}
rules:
  - name: night
    match: {network: [btc-regtest], destination: [any]}
    time: {zone: Europe/Zurich, windows: [{days: [sun], from: "01:00", to: "04:00"}]}
    action: allow
    approvals: {group: t, threshold: 1}
`)
	e, _ := NewEngine(p)
	for _, c := range []struct {
		utc   time.Time
		allow bool
	}{
		{time.Date(2026, 3, 28, 23, 59, 59, 0, time.UTC), false}, // 00:59:59 CET
		{time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), true},     // 01:00 CET
		{time.Date(2026, 3, 29, 1, 59, 59, 0, time.UTC), true},   // 03:59:59 CEST
		{time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC), false},    // 04:00 CEST
	} {
		d, err := e.Evaluate(Input{Kind: "withdrawal", Requester: "r", Transactions: []chain.Summary{btcTx([]string{"k"}, out{exchAddr, 1, false})}, Now: c.utc})
		if err != nil || d.Allow != c.allow {
			t.Errorf("%s: allow=%v want %v (%v)\n%s", c.utc, d.Allow, c.allow, err, d.Explain())
		}
	}
}

// TestDecisionAllowFeeBump: the flag is carried on an allow decision only
// when the deciding rule grants it; a deny or another rule never carries it.
func TestDecisionAllowFeeBump(t *testing.T) {
	e, err := NewEngine(mustParse(t, "ok_fee_bump.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const vault = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	sweep := btcTx([]string{"k"}, out{vault, 5 * btc, false})
	simnet := sweep
	simnet.Network = chain.BTCSimnet
	stray := btcTx([]string{"k"}, out{strayAddr, 5 * btc, false})
	cases := []struct {
		name  string
		kind  bundle.RequestKind
		tx    chain.Summary
		allow bool
		rule  string
		bump  bool
	}{
		{"sweep under the bump rule", bundle.KindSweep, sweep, true, "btc-bump", true},
		{"simnet sweep under the bump rule", bundle.KindSweep, simnet, true, "btc-bump", true},
		{"withdrawal under the rule without bump", bundle.KindWithdrawal, sweep, true, "btc-no-bump", false},
		{"denied", bundle.KindWithdrawal, stray, false, "rest", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := e.Evaluate(Input{Kind: c.kind, Requester: "hot-1", Transactions: []chain.Summary{c.tx}, Now: wed})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != c.allow || d.Rule != c.rule || d.AllowFeeBump != c.bump {
				t.Fatalf("allow=%v rule=%q bump=%v, want %v %q %v (%s)", d.Allow, d.Rule, d.AllowFeeBump, c.allow, c.rule, c.bump, d.Reason)
			}
		})
	}
	if s := e.p.Explain(); !strings.Contains(s, "may replace our own unconfirmed Bitcoin transaction") {
		t.Errorf("explanation does not mention the fee bump:\n%s", s)
	}
}
