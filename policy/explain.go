package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/chain"
)

// Explain renders the policy in plain language for a custody officer.
func (p *Policy) Explain() string {
	var b strings.Builder
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(&b, "Policy %s\nhash %s\n", name, p.hash)
	if p.Description != "" {
		fmt.Fprintf(&b, "%s\n", p.Description)
	}
	b.WriteString("\nRules are tried in order; the first rule that matches every transaction of a request decides.\nA request that no rule matches is denied.\n")
	for i, r := range p.Rules {
		fmt.Fprintf(&b, "\n%d. %s", i+1, r.Name)
		if r.Description != "" {
			fmt.Fprintf(&b, " — %s", r.Description)
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "   applies to: %s\n", p.explainMatch(&r.Match))
		if r.Action == ActionDeny {
			fmt.Fprintf(&b, "   DENY: %s\n", r.Reason)
			continue
		}
		b.WriteString("   ALLOW")
		for _, l := range p.explainLimits(&r) {
			fmt.Fprintf(&b, "\n   - %s", l)
		}
		if r.AllowFeeBump {
			b.WriteString("\n   - may replace our own unconfirmed Bitcoin transaction with one paying a higher fee (fee bump)")
		}
		fmt.Fprintf(&b, "\n   approvals: %s\n", r.Approvals)
	}
	p.explainNames(&b)
	return b.String()
}

// Explain is an alias of p.Explain for callers holding a *Policy as a value.
func Explain(p *Policy) string { return p.Explain() }

func (p *Policy) explainMatch(m *Match) string {
	var parts []string
	if len(m.Networks) > 0 {
		parts = append(parts, "network "+joinNets(m.Networks))
	} else {
		parts = append(parts, "any network")
	}
	if m.Asset != "" {
		parts = append(parts, "asset "+p.assetName(m.Asset))
	} else {
		parts = append(parts, "any asset")
	}
	if len(m.Kinds) > 0 {
		parts = append(parts, "kind "+joinKinds(m.Kinds))
	}
	if len(m.Sources) > 0 {
		parts = append(parts, "from key group(s) "+strings.Join(m.Sources, ", "))
	}
	if len(m.Destinations) > 0 {
		parts = append(parts, "to "+strings.Join(m.Destinations, ", "))
	}
	if len(m.Requesters) > 0 || len(m.RequesterGroups) > 0 {
		parts = append(parts, "requested by "+strings.Join(append(append([]string{}, m.Requesters...), prefixAll("group ", m.RequesterGroups)...), ", "))
	}
	if m.AmountMin != nil && m.AmountMax != nil {
		parts = append(parts, fmt.Sprintf("batch total between %s and %s", p.FormatAmount(m.Asset, m.AmountMin), p.FormatAmount(m.Asset, m.AmountMax)))
	} else if m.AmountMin != nil {
		parts = append(parts, "batch total at least "+p.FormatAmount(m.Asset, m.AmountMin))
	} else if m.AmountMax != nil {
		parts = append(parts, "batch total at most "+p.FormatAmount(m.Asset, m.AmountMax))
	}
	return strings.Join(parts, "; ")
}

func prefixAll(pre string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = pre + x
	}
	return out
}

func (p *Policy) assetName(a chain.Asset) string {
	s := string(a)
	for sym, t := range p.Tokens {
		if t.Asset == a {
			return sym + " (" + s + ")"
		}
	}
	return s
}

func (p *Policy) explainLimits(r *Rule) []string {
	l := &r.Limits
	a := r.Match.Asset
	var out []string
	if l.PerTx != nil {
		out = append(out, "at most "+p.FormatAmount(a, l.PerTx)+" per transaction")
	}
	if l.PerBatch != nil {
		out = append(out, "at most "+p.FormatAmount(a, l.PerBatch)+" per request (all transactions together)")
	}
	for _, v := range l.Velocity {
		out = append(out, fmt.Sprintf("at most %s %s in any %s (including what this request sends)", p.FormatAmount(a, v.Max), scopeText[v.Per], humanDuration(v.Window)))
	}
	if l.Lifetime != nil {
		out = append(out, "at most "+p.FormatAmount(a, l.Lifetime)+" under this rule, ever")
	}
	if l.MinInterval > 0 {
		out = append(out, "at least "+humanDuration(l.MinInterval)+" between two signings under this rule")
	}
	native := nativeOfAsset(a)
	if l.MaxFee != nil {
		out = append(out, "fee at most "+p.FormatAmount(native, l.MaxFee)+" per transaction")
	}
	if l.MaxFeeRate != nil {
		out = append(out, "fee rate at most "+formatFeeRate(assetFamily(a), l.MaxFeeRate))
	}
	if l.MaxFeePercent != nil {
		out = append(out, "fee at most "+pct(l.MaxFeePercent)+"% of the amount sent")
	}
	if l.MaxInputs > 0 {
		out = append(out, fmt.Sprintf("at most %d inputs per transaction", l.MaxInputs))
	}
	if l.MaxOutputs > 0 {
		out = append(out, fmt.Sprintf("at most %d outputs per transaction", l.MaxOutputs))
	}
	if l.MaxTransactions > 0 {
		out = append(out, fmt.Sprintf("at most %d transactions per request", l.MaxTransactions))
	}
	if t := r.Time; t != nil {
		for _, w := range t.Windows {
			out = append(out, fmt.Sprintf("only on %s between %s and %s (%s time)", days(w.Days), hhmm(w.From), hhmm(w.To), t.Zone))
		}
		if len(t.Blackout) > 0 {
			out = append(out, fmt.Sprintf("never on %s (%s)", strings.Join(t.Blackout, ", "), t.Zone))
		}
	}
	if len(out) == 0 {
		out = append(out, "no amount, fee or time limits")
	}
	return out
}

func nativeOfAsset(a chain.Asset) chain.Asset {
	if a == chain.AssetBTC {
		return chain.AssetBTC
	}
	return chain.AssetETH
}

func (p *Policy) explainNames(b *strings.Builder) {
	section := func(title string, m map[string][]string) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(b, "\n%s:\n", title)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "  %s: %s\n", k, strings.Join(m[k], ", "))
		}
	}
	section("Approver groups", p.Approvers)
	section("Requester groups", p.Requesters)
	section("Key groups", p.KeyGroups)
	section("Allowlists", p.Allowlists)
	if len(p.HotWallet) > 0 {
		fmt.Fprintf(b, "\nHot wallet addresses: %s\n", strings.Join(p.HotWallet, ", "))
	}
}

func days(d [7]bool) string {
	names := []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	var out []string
	for _, i := range []int{1, 2, 3, 4, 5, 6, 0} {
		if d[i] {
			out = append(out, names[i])
		}
	}
	return strings.Join(out, ", ")
}

var scopeText = map[Scope]string{
	PerRule:        "under this rule",
	PerSource:      "from any one of our keys",
	PerDestination: "to any one destination",
	PerRequester:   "for any one requester (all rules)",
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func humanDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := d / (24 * time.Hour)
		if n == 1 {
			return "24 hours"
		}
		return fmt.Sprintf("%d days", n)
	}
	s := d.String() // "30m0s", "2h0m0s", "1h30m0s"
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Explain renders the decision for a custody officer: outcome, rule,
// every check, the rules skipped, the approvals required and the charges.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Allow {
		b.WriteString("ALLOWED (pending approvals)\n")
	} else {
		b.WriteString("DENIED\n")
	}
	fmt.Fprintf(&b, "reason: %s\n", d.Reason)
	if !d.PolicyHash.IsZero() {
		fmt.Fprintf(&b, "policy: %s\n", d.PolicyHash)
	}
	for _, s := range d.Skipped {
		fmt.Fprintf(&b, "  rule %s did not match: %s\n", s.Rule, s.Why)
	}
	if d.Rule != "" {
		fmt.Fprintf(&b, "matched rule: %s\n", d.Rule)
	}
	for _, c := range d.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  [%s] %s: %s\n", mark, c.Name, c.Detail)
	}
	if d.Allow {
		fmt.Fprintf(&b, "approvals required: %s\n", d.Quorum)
		for _, c := range d.Charges {
			fmt.Fprintf(&b, "  will charge %s to %s\n", c.Amount, c.Counter)
		}
	}
	return b.String()
}
