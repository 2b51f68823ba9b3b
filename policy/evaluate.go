package policy

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/quorum"
)

// Usage is read-only access to past charges (implemented by the store).
type Usage interface {
	// Spent returns the sum of all charges on counter at or after since.
	Spent(counter string, since time.Time) (*big.Int, error)
	// LastCharge returns the time of the latest charge on counter; ok is false when none.
	LastCharge(counter string) (at time.Time, ok bool, err error)
}

// Charge is one amount to add to a velocity counter when the request is reserved.
type Charge struct {
	Counter string
	Amount  *big.Int
}

// Check is one check of the matched rule.
type Check struct {
	Name   string
	Pass   bool
	Detail string
}

// Skip says why a rule before the matched one did not match.
type Skip struct {
	Rule string
	Why  string
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Allow is true only when a rule with action allow matched and every
	// check passed. The request still needs Quorum.
	Allow bool
	// Rule is the name of the rule that decided ("" when none matched).
	Rule string
	// Reason is a one-line plain-language reason for the outcome.
	Reason string
	// Checks are every check run, in order, with pass/fail and detail.
	Checks []Check
	// Skipped are the rules tried before Rule, with why each did not match.
	Skipped []Skip
	// Quorum is the approval requirement (set only when Allow). The
	// requester is listed in Quorum.Excluded.
	Quorum quorum.Requirement
	// Charges are the velocity counters to add when the request is
	// reserved (set only when Allow), sorted by Counter. Amounts may be
	// zero: a zero charge on the rule counter still records the time for
	// min_interval.
	Charges []Charge
	// PolicyHash is the hash of the policy that decided.
	PolicyHash bundle.Digest
	// AllowFeeBump (only when Allow): the deciding rule lets this request
	// re-spend Bitcoin outpoints held by an earlier signed request of ours
	// (replace-by-fee). Never set for Ethereum: nonces are not replaceable.
	AllowFeeBump bool
}

// Input is everything one evaluation needs.
type Input struct {
	// Kind is the request kind claimed by the hot wallet; the engine
	// checks it against the decoded transactions.
	Kind      bundle.RequestKind
	Requester string
	// Transactions are the decoded summaries of every transaction of the
	// batch (from the chain adapters, never from request claims).
	Transactions []chain.Summary
	Now          time.Time
	// Usage gives past charges; required when the matched rule has
	// velocity, lifetime or min_interval limits.
	Usage Usage
	// OwnAddresses are addresses of our own (cold) keys from manifests,
	// matched by the destination "own-cold". Outputs the adapter already
	// marked as change need not be listed.
	OwnAddresses []string
	// HotWallet are hot-wallet addresses matched by "hot-wallet", in
	// addition to the policy's hot_wallet list.
	HotWallet []string
}

// Engine evaluates batches against one policy.
type Engine struct {
	p *Policy
}

// NewEngine returns an engine for p.
func NewEngine(p *Policy) (*Engine, error) {
	if p == nil || len(p.Rules) == 0 {
		return nil, fmt.Errorf("%w: no policy", ErrBadPolicy)
	}
	return &Engine{p: p}, nil
}

// Policy returns the engine's policy.
func (e *Engine) Policy() *Policy { return e.p }

type dest struct {
	addr   string
	asset  chain.Asset
	amount *big.Int
}

type txView struct {
	i       int
	s       chain.Summary
	kind    Kind
	moved   map[chain.Asset]*big.Int // leaving us (change excluded), approvals included
	assets  map[chain.Asset]bool     // every asset touched with a non-zero amount
	dests   []dest                   // where value (or an allowance, or a call) goes
	sources []string                 // canonical source ids (counter values)
	aliases [][]string               // names each source can be matched by in key_groups
}

func (v *txView) label() string {
	id := v.s.ID
	if len(id) > 16 {
		id = id[:16] + "…"
	}
	return fmt.Sprintf("transaction %d (%s %s)", v.i, v.s.Network, id)
}

func nativeAsset(n chain.Network) chain.Asset {
	if n.Family() == chain.FamilyBTC {
		return chain.AssetBTC
	}
	return chain.AssetETH
}

func addTo(m map[chain.Asset]*big.Int, a chain.Asset, v *big.Int) {
	t, ok := m[a]
	if !ok {
		t = new(big.Int)
		m[a] = t
	}
	t.Add(t, v)
}

func view(i int, s chain.Summary, reqKind bundle.RequestKind) (*txView, error) {
	v := &txView{i: i, s: s, moved: map[chain.Asset]*big.Int{}, assets: map[chain.Asset]bool{}}
	if s.Network.Family() == "" {
		return nil, fmt.Errorf("%w: transaction %d: unknown network %q", ErrBadInput, i, s.Network)
	}
	switch s.Kind {
	case chain.KindContractCall:
		v.kind = KindContractCall
	case chain.KindTokenApprove:
		v.kind = KindTokenApprove
	case chain.KindTransfer, chain.KindTokenTransfer:
		v.kind = Kind(reqKind)
	default:
		return nil, fmt.Errorf("%w: transaction %d: unknown transaction kind %q", ErrBadInput, i, s.Kind)
	}
	for j, o := range s.Outputs {
		if o.Amount == nil || o.Amount.Sign() < 0 || o.Asset == "" {
			return nil, fmt.Errorf("%w: transaction %d output %d: missing or negative amount or asset", ErrBadInput, i, j)
		}
		if o.Amount.Sign() == 0 {
			continue
		}
		v.assets[o.Asset] = true
		if o.Change {
			continue
		}
		addTo(v.moved, o.Asset, o.Amount)
		v.dests = append(v.dests, dest{normAddr(o.Address), o.Asset, o.Amount})
	}
	if s.Kind == chain.KindTokenApprove {
		if s.Approval == nil || s.Approval.Amount == nil || s.Approval.Amount.Sign() < 0 {
			return nil, fmt.Errorf("%w: transaction %d: token approve without an allowance", ErrBadInput, i)
		}
		v.assets[s.Approval.Asset] = true
		addTo(v.moved, s.Approval.Asset, s.Approval.Amount)
		v.dests = append(v.dests, dest{normAddr(s.Approval.Address), s.Approval.Asset, s.Approval.Amount})
	}
	if s.Kind == chain.KindContractCall {
		v.dests = append(v.dests, dest{normAddr(s.To), nativeAsset(s.Network), new(big.Int)})
	}
	if len(v.assets) == 0 {
		v.assets[nativeAsset(s.Network)] = true
	}
	if s.Network.Family() == chain.FamilyETH {
		if s.From != "" {
			v.sources = append(v.sources, normAddr(s.From))
			v.aliases = append(v.aliases, []string{normAddr(s.From)})
		}
	} else {
		seen := map[string]bool{}
		for _, in := range s.Inputs {
			if !in.Ours {
				continue
			}
			id := in.Key.String()
			if seen[id] {
				continue
			}
			seen[id] = true
			al := []string{id}
			if in.Key.Label != "" {
				al = append(al, in.Key.Label)
			}
			if len(in.Key.ID) > 0 {
				al = append(al, "#"+in.Key.IDHex())
			}
			v.sources = append(v.sources, id)
			v.aliases = append(v.aliases, al)
		}
	}
	return v, nil
}

// Evaluate decides a batch. It returns an error (wrapping ErrBadInput or
// ErrUsage) when the input cannot be evaluated; the caller must refuse.
func (e *Engine) Evaluate(in Input) (Decision, error) {
	dec := Decision{PolicyHash: e.p.hash}
	if in.Now.IsZero() {
		return dec, fmt.Errorf("%w: no time given", ErrBadInput)
	}
	switch in.Kind {
	case bundle.KindWithdrawal, bundle.KindSweep, bundle.KindConsolidation:
	default:
		return dec, fmt.Errorf("%w: unknown request kind %q", ErrBadInput, in.Kind)
	}
	if in.Requester == "" {
		return dec, fmt.Errorf("%w: no requester", ErrBadInput)
	}
	if len(in.Transactions) == 0 {
		return dec, fmt.Errorf("%w: no transactions", ErrBadInput)
	}
	txs := make([]*txView, len(in.Transactions))
	for i, s := range in.Transactions {
		v, err := view(i, s, in.Kind)
		if err != nil {
			return dec, err
		}
		txs[i] = v
	}
	// The claimed kind must fit what the transactions do.
	if in.Kind == bundle.KindConsolidation {
		for _, v := range txs {
			if len(v.moved) > 0 || v.s.Kind != chain.KindTransfer {
				dec.Checks = append(dec.Checks, Check{"request-kind", false, fmt.Sprintf("the request says consolidation but %s sends value out of our keys", v.label())})
				dec.Reason = "denied: the request kind does not match what the transactions do"
				return dec, nil
			}
		}
		dec.Checks = append(dec.Checks, Check{"request-kind", true, "consolidation: every output goes back to our own keys"})
	}
	ev := &evaluation{p: e.p, in: in, txs: txs, own: set(in.OwnAddresses), hot: set(in.HotWallet)}
	for _, a := range e.p.HotWallet {
		ev.hot[a] = true
	}
	for i := range e.p.Rules {
		r := &e.p.Rules[i]
		if why := ev.match(r); why != "" {
			dec.Skipped = append(dec.Skipped, Skip{r.Name, why})
			continue
		}
		dec.Rule = r.Name
		if r.Action == ActionDeny {
			dec.Reason = "denied by rule " + r.Name + ": " + r.Reason
			return dec, nil
		}
		checks, charges, err := ev.run(r)
		dec.Checks = append(dec.Checks, checks...)
		if err != nil {
			return dec, err
		}
		var failed []string
		for _, c := range checks {
			if !c.Pass {
				failed = append(failed, c.Name)
			}
		}
		if len(failed) > 0 {
			dec.Reason = fmt.Sprintf("denied by rule %s: failed %s", r.Name, strings.Join(failed, ", "))
			return dec, nil
		}
		dec.Allow = true
		dec.Reason = fmt.Sprintf("allowed by rule %s, subject to approvals: %s", r.Name, r.Approvals)
		dec.Quorum = r.Approvals.Clone()
		if !slices.Contains(dec.Quorum.Excluded, in.Requester) {
			dec.Quorum.Excluded = append(dec.Quorum.Excluded, in.Requester)
		}
		dec.Charges = charges
		dec.AllowFeeBump = r.AllowFeeBump
		return dec, nil
	}
	dec.Reason = "denied: no rule matches this request (the default is deny)"
	return dec, nil
}

func set(s []string) map[string]bool {
	m := map[string]bool{}
	for _, a := range s {
		m[normAddr(a)] = true
	}
	return m
}

type evaluation struct {
	p        *Policy
	in       Input
	txs      []*txView
	own, hot map[string]bool
}

// match returns "" when every transaction matches r, else why not.
func (ev *evaluation) match(r *Rule) string {
	m := &r.Match
	if len(m.Requesters) > 0 || len(m.RequesterGroups) > 0 {
		ok := slices.Contains(m.Requesters, ev.in.Requester)
		for _, g := range m.RequesterGroups {
			ok = ok || slices.Contains(ev.p.Requesters[g], ev.in.Requester)
		}
		if !ok {
			return fmt.Sprintf("requester %s is not listed", ev.in.Requester)
		}
	}
	for _, v := range ev.txs {
		if len(m.Networks) > 0 && !slices.Contains(m.Networks, v.s.Network) {
			return fmt.Sprintf("%s is on network %s, not %s", v.label(), v.s.Network, joinNets(m.Networks))
		}
		if m.Asset != "" {
			for a := range v.assets {
				if a != m.Asset {
					return fmt.Sprintf("%s moves %s, the rule is for %s", v.label(), a, m.Asset)
				}
			}
		}
		if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, v.kind) {
			return fmt.Sprintf("%s is a %s, the rule is for %s", v.label(), v.kind, joinKinds(m.Kinds))
		}
		if len(m.Sources) > 0 && !slices.Contains(m.Sources, DestAny) {
			if len(v.sources) == 0 {
				return fmt.Sprintf("%s spends none of our keys", v.label())
			}
			for k, al := range v.aliases {
				if !ev.inKeyGroups(al, m.Sources) {
					return fmt.Sprintf("%s spends from key %s, which is not in key group(s) %s", v.label(), v.sources[k], strings.Join(m.Sources, ", "))
				}
			}
		}
		if len(m.Destinations) > 0 && !slices.Contains(m.Destinations, DestAny) {
			for _, d := range v.dests {
				if !ev.destAllowed(d.addr, m.Destinations) {
					return fmt.Sprintf("%s goes to %s, which is not in %s", v.label(), d.addr, strings.Join(m.Destinations, ", "))
				}
			}
		}
	}
	if m.AmountMin != nil || m.AmountMax != nil {
		total := ev.batchTotal(m.Asset)
		if m.AmountMin != nil && total.Cmp(m.AmountMin) < 0 {
			return fmt.Sprintf("batch total %s is below the rule's minimum %s", ev.p.FormatAmount(m.Asset, total), ev.p.FormatAmount(m.Asset, m.AmountMin))
		}
		if m.AmountMax != nil && total.Cmp(m.AmountMax) > 0 {
			return fmt.Sprintf("batch total %s is above the rule's maximum %s", ev.p.FormatAmount(m.Asset, total), ev.p.FormatAmount(m.Asset, m.AmountMax))
		}
	}
	return ""
}

func joinNets(n []chain.Network) string {
	var s []string
	for _, x := range n {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

func joinKinds(n []Kind) string {
	var s []string
	for _, x := range n {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

func (ev *evaluation) inKeyGroups(aliases []string, groups []string) bool {
	for _, g := range groups {
		for _, member := range ev.p.KeyGroups[g] {
			for _, a := range aliases {
				if normAddr(a) == member {
					return true
				}
			}
		}
	}
	return false
}

func (ev *evaluation) destAllowed(addr string, names []string) bool {
	for _, n := range names {
		switch n {
		case DestAny:
			return true
		case DestOwnCold:
			if ev.own[addr] {
				return true
			}
		case DestHotWallet:
			if ev.hot[addr] {
				return true
			}
		default:
			if slices.Contains(ev.p.Allowlists[n], addr) {
				return true
			}
		}
	}
	return false
}

func (ev *evaluation) batchTotal(a chain.Asset) *big.Int {
	t := new(big.Int)
	for _, v := range ev.txs {
		if x, ok := v.moved[a]; ok {
			t.Add(t, x)
		}
	}
	return t
}

func txAmount(v *txView, a chain.Asset) *big.Int {
	if x, ok := v.moved[a]; ok {
		return x
	}
	return new(big.Int)
}

// counters returns, per scope, counter → amount for the whole batch.
func (ev *evaluation) counters(rule string) map[Scope]map[string]*big.Int {
	out := map[Scope]map[string]*big.Int{PerRule: {}, PerRequester: {}, PerSource: {}, PerDestination: {}}
	add := func(s Scope, c string, v *big.Int) {
		t, ok := out[s][c]
		if !ok {
			t = new(big.Int)
			out[s][c] = t
		}
		t.Add(t, v)
	}
	for _, v := range ev.txs {
		for a, amt := range v.moved {
			add(PerRule, RuleCounter(rule, a), amt)
			add(PerRequester, ScopeCounter(PerRequester, ev.in.Requester, a), amt)
			for _, src := range v.sources {
				add(PerSource, ScopeCounter(PerSource, src, a), amt)
			}
		}
		for _, d := range v.dests {
			if d.amount.Sign() > 0 {
				add(PerDestination, ScopeCounter(PerDestination, d.addr, d.asset), d.amount)
			}
		}
	}
	if len(out[PerRule]) == 0 {
		add(PerRule, RuleCounter(rule, nativeAsset(ev.txs[0].s.Network)), new(big.Int))
	}
	return out
}

func (ev *evaluation) usage() (Usage, error) {
	if ev.in.Usage == nil {
		return nil, fmt.Errorf("%w: the rule has velocity, lifetime or interval limits but no usage store was given", ErrBadInput)
	}
	return ev.in.Usage, nil
}

// run performs every check of an allow rule and computes the charges.
func (ev *evaluation) run(r *Rule) ([]Check, []Charge, error) {
	var checks []Check
	add := func(name string, pass bool, f string, a ...any) {
		checks = append(checks, Check{Name: name, Pass: pass, Detail: fmt.Sprintf(f, a...)})
	}
	l := &r.Limits
	asset := r.Match.Asset
	fmtA := func(v *big.Int) string { return ev.p.FormatAmount(asset, v) }
	native := chain.AssetBTC
	if asset != "" {
		native = nativeAsset(ev.txs[0].s.Network)
	}
	fmtN := func(v *big.Int) string { return ev.p.FormatAmount(native, v) }

	if l.MaxTransactions > 0 {
		n := len(ev.txs)
		add("max_transactions", n <= l.MaxTransactions, "%d transaction(s) in the batch, the limit is %d", n, l.MaxTransactions)
	}
	perTx := func(name string, limit string, bad func(v *txView) string) {
		for _, v := range ev.txs {
			if why := bad(v); why != "" {
				add(name, false, "%s: %s", v.label(), why)
				return
			}
		}
		add(name, true, "every transaction is within %s", limit)
	}
	if l.MaxInputs > 0 {
		perTx("max_inputs", fmt.Sprintf("%d inputs", l.MaxInputs), func(v *txView) string {
			if len(v.s.Inputs) > l.MaxInputs {
				return fmt.Sprintf("%d inputs, the limit is %d", len(v.s.Inputs), l.MaxInputs)
			}
			return ""
		})
	}
	if l.MaxOutputs > 0 {
		perTx("max_outputs", fmt.Sprintf("%d outputs", l.MaxOutputs), func(v *txView) string {
			if len(v.s.Outputs) > l.MaxOutputs {
				return fmt.Sprintf("%d outputs, the limit is %d", len(v.s.Outputs), l.MaxOutputs)
			}
			return ""
		})
	}
	if l.PerTx != nil {
		perTx("per_tx", fmtA(l.PerTx), func(v *txView) string {
			if amt := txAmount(v, asset); amt.Cmp(l.PerTx) > 0 {
				return fmt.Sprintf("sends %s, the per-transaction limit is %s", fmtA(amt), fmtA(l.PerTx))
			}
			return ""
		})
	}
	if l.MaxFee != nil {
		perTx("max_fee", fmtN(l.MaxFee), func(v *txView) string {
			if v.s.Fee == nil {
				return "the fee is unknown"
			}
			if v.s.Fee.Cmp(l.MaxFee) > 0 {
				return fmt.Sprintf("fee %s, the limit is %s", fmtN(v.s.Fee), fmtN(l.MaxFee))
			}
			return ""
		})
	}
	if l.MaxFeeRate != nil {
		fam := native
		f := chain.FamilyBTC
		if fam == chain.AssetETH {
			f = chain.FamilyETH
		}
		perTx("max_fee_rate", formatFeeRate(f, l.MaxFeeRate), func(v *txView) string {
			if v.s.FeeRate == nil {
				return "the fee rate is unknown"
			}
			if v.s.FeeRate.Cmp(l.MaxFeeRate) > 0 {
				return fmt.Sprintf("fee rate %s, the limit is %s", formatFeeRate(f, v.s.FeeRate), formatFeeRate(f, l.MaxFeeRate))
			}
			return ""
		})
	}
	if l.MaxFeePercent != nil {
		perTx("max_fee_percent", pct(l.MaxFeePercent)+"% of the amount", func(v *txView) string {
			if v.s.Fee == nil {
				return "the fee is unknown"
			}
			amt := txAmount(v, asset)
			// fee * 100 <= pct * amount, exactly.
			lhs := new(big.Rat).SetInt(new(big.Int).Mul(v.s.Fee, big.NewInt(100)))
			rhs := new(big.Rat).Mul(l.MaxFeePercent, new(big.Rat).SetInt(amt))
			if lhs.Cmp(rhs) > 0 {
				return fmt.Sprintf("fee %s is more than %s%% of %s", fmtN(v.s.Fee), pct(l.MaxFeePercent), fmtA(amt))
			}
			return ""
		})
	}
	if l.PerBatch != nil {
		t := ev.batchTotal(asset)
		add("per_batch", t.Cmp(l.PerBatch) <= 0, "the batch sends %s in total, the limit is %s", fmtA(t), fmtA(l.PerBatch))
	}
	cs := ev.counters(r.Name)
	for i, vl := range l.Velocity {
		name := fmt.Sprintf("velocity[%d] per %s over %s", i, vl.Per, vl.Window)
		u, err := ev.usage()
		if err != nil {
			return checks, nil, err
		}
		since := ev.in.Now.Add(-vl.Window)
		var keys []string
		prefix := RuleCounter(r.Name, asset)
		for c := range cs[vl.Per] {
			if vl.Per == PerRule && c != prefix {
				continue
			}
			if vl.Per != PerRule && !strings.HasPrefix(c, "asset/"+escape(string(asset))+"/") {
				continue
			}
			keys = append(keys, c)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			add(name, true, "nothing counted in this scope")
			continue
		}
		ok, detail := true, ""
		var highest *big.Int
		for _, c := range keys {
			spent, err := u.Spent(c, since)
			if err != nil {
				return checks, nil, fmt.Errorf("%w: spent on %s: %w", ErrUsage, c, err)
			}
			if spent == nil || spent.Sign() < 0 {
				return checks, nil, fmt.Errorf("%w: spent on %s: missing or negative", ErrUsage, c)
			}
			after := new(big.Int).Add(spent, cs[vl.Per][c])
			if after.Cmp(vl.Max) > 0 {
				ok = false
				detail = fmt.Sprintf("%s: %s already charged in the last %s + %s in this request = %s, the limit is %s",
					c, fmtA(spent), humanDuration(vl.Window), fmtA(cs[vl.Per][c]), fmtA(after), fmtA(vl.Max))
				break
			}
			if highest == nil || after.Cmp(highest) > 0 {
				highest = after
				detail = fmt.Sprintf("%s: %s of %s used in the last %s including this request", c, fmtA(after), fmtA(vl.Max), humanDuration(vl.Window))
			}
		}
		add(name, ok, "%s", detail)
	}
	if l.Lifetime != nil {
		u, err := ev.usage()
		if err != nil {
			return checks, nil, err
		}
		c := RuleCounter(r.Name, asset)
		spent, err := u.Spent(c, time.Time{})
		if err != nil {
			return checks, nil, fmt.Errorf("%w: spent on %s: %w", ErrUsage, c, err)
		}
		if spent == nil || spent.Sign() < 0 {
			return checks, nil, fmt.Errorf("%w: spent on %s: missing or negative", ErrUsage, c)
		}
		after := new(big.Int).Add(spent, ev.batchTotal(asset))
		add("lifetime", after.Cmp(l.Lifetime) <= 0, "%s spent under this rule ever, %s with this batch, the lifetime cap is %s", fmtA(spent), fmtA(after), fmtA(l.Lifetime))
	}
	if l.MinInterval > 0 {
		u, err := ev.usage()
		if err != nil {
			return checks, nil, err
		}
		var keys []string
		for c := range cs[PerRule] {
			keys = append(keys, c)
		}
		sort.Strings(keys)
		ok, detail := true, "no earlier signing under this rule"
		for _, c := range keys {
			at, found, err := u.LastCharge(c)
			if err != nil {
				return checks, nil, fmt.Errorf("%w: last charge on %s: %w", ErrUsage, c, err)
			}
			if !found {
				continue
			}
			gap := ev.in.Now.Sub(at)
			if gap < l.MinInterval {
				ok = false
				detail = fmt.Sprintf("the last signing under this rule was %s ago (at %s), the minimum interval is %s", gap.Round(time.Second), at.UTC().Format(time.RFC3339), l.MinInterval)
				break
			}
			detail = fmt.Sprintf("the last signing under this rule was %s ago, the minimum interval is %s", gap.Round(time.Second), l.MinInterval)
		}
		add("min_interval", ok, "%s", detail)
	}
	if t := r.Time; t != nil {
		local := ev.in.Now.In(t.Loc)
		day := local.Format("2006-01-02")
		if len(t.Blackout) > 0 {
			black := slices.Contains(t.Blackout, day)
			if black {
				add("blackout", false, "%s is a blackout date in %s", day, t.Zone)
			} else {
				add("blackout", true, "%s is not a blackout date in %s", day, t.Zone)
			}
		}
		if len(t.Windows) > 0 {
			mins := local.Hour()*60 + local.Minute()
			in := false
			for _, w := range t.Windows {
				if w.Days[local.Weekday()] && mins >= w.From && mins < w.To {
					in = true
				}
			}
			when := local.Format("Mon 2006-01-02 15:04 MST")
			if in {
				add("time_window", true, "%s (%s) is inside an allowed window", when, t.Zone)
			} else {
				add("time_window", false, "%s (%s) is outside every allowed window", when, t.Zone)
			}
		}
	}
	var charges []Charge
	for _, scope := range []Scope{PerRule, PerRequester, PerSource, PerDestination} {
		for c, v := range cs[scope] {
			if v.Sign() == 0 && scope != PerRule {
				continue
			}
			charges = append(charges, Charge{Counter: c, Amount: new(big.Int).Set(v)})
		}
	}
	sort.Slice(charges, func(i, j int) bool { return charges[i].Counter < charges[j].Counter })
	return checks, charges, nil
}

// pct renders a percentage without trailing zeros.
func pct(r *big.Rat) string {
	return strings.TrimRight(strings.TrimRight(r.FloatString(6), "0"), ".")
}
