package policy

import (
	_ "time/tzdata" // time zones must resolve on any machine, offline

	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/quorum/yamlstrict"
)

const (
	maxRules     = 256
	maxListItems = 1000
)

var (
	netPattern     = regexp.MustCompile(`^(btc-(mainnet|testnet|regtest|simnet|signet)|eth-[1-9][0-9]{0,18})$`)
	ethAddrPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	addrPattern    = regexp.MustCompile(`^[A-Za-z0-9]{14,100}$`)
	hhmmPattern    = regexp.MustCompile(`^([01][0-9]|2[0-4]):([0-5][0-9])$`)
)

// Parse parses and validates a policy file. file names it in errors. Every
// error wraps ErrBadPolicy; positioned errors are *yamlstrict.Error with
// file, line, column and field path.
func Parse(file string, data []byte) (*Policy, error) {
	p, err := parse(file, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPolicy, err)
	}
	return p, nil
}

type parser struct {
	d yamlstrict.D
	p *Policy
}

func parse(file string, data []byte) (*Policy, error) {
	d := yamlstrict.D{File: file}
	root, err := d.Parse(data, MaxPolicySize)
	if err != nil {
		return nil, err
	}
	top, err := d.Mapping(root, "", []string{"version", "name", "description", "tokens", "key_groups", "allowlists",
		"hot_wallet", "approver_groups", "requester_groups", "rules"}, []string{"version", "rules"})
	if err != nil {
		return nil, err
	}
	ps := &parser{d: d, p: &Policy{
		hash: Hash(data), Tokens: map[string]Token{}, KeyGroups: map[string][]string{}, Allowlists: map[string][]string{},
		Approvers: map[string][]string{}, Requesters: map[string][]string{},
	}}
	p := ps.p
	v, err := d.Int(top.Get("version"), "version", 1, 1)
	if err != nil {
		return nil, err
	}
	p.Version = int(v)
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &p.Name}, {"description", &p.Description}} {
		if n := top.Get(f.key); n != nil {
			if *f.dst, err = d.String(n, f.key); err != nil {
				return nil, err
			}
		}
	}
	if err := ps.tokens(top.Get("tokens")); err != nil {
		return nil, err
	}
	if err := ps.groups(top.Get("key_groups"), "key_groups", p.KeyGroups, ps.keyMember); err != nil {
		return nil, err
	}
	if err := ps.groups(top.Get("allowlists"), "allowlists", p.Allowlists, ps.address); err != nil {
		return nil, err
	}
	if err := ps.groups(top.Get("approver_groups"), "approver_groups", p.Approvers, ps.id); err != nil {
		return nil, err
	}
	if err := ps.groups(top.Get("requester_groups"), "requester_groups", p.Requesters, ps.id); err != nil {
		return nil, err
	}
	if n := top.Get("hot_wallet"); n != nil {
		list, err := d.Strings(n, "hot_wallet", maxListItems)
		if err != nil {
			return nil, err
		}
		for i, a := range list {
			na, err := ps.address(n.Content[i], yamlstrict.Index("hot_wallet", i), a)
			if err != nil {
				return nil, err
			}
			p.HotWallet = append(p.HotWallet, na)
		}
	}
	items, err := d.Seq(top.Get("rules"), "rules", maxRules)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.Errf(top.Get("rules"), "rules", "at least one rule is required")
	}
	names := map[string]int{}
	for i, it := range items {
		f := yamlstrict.Index("rules", i)
		r, err := ps.rule(it, f)
		if err != nil {
			return nil, err
		}
		if j, dup := names[r.Name]; dup {
			return nil, d.Errf(it, f+".name", "rule name %q is already used by rules[%d]", r.Name, j)
		}
		names[r.Name] = i
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

func (ps *parser) tokens(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	m, err := ps.d.Mapping(n, "tokens", nil, nil)
	if err != nil {
		return err
	}
	seen := map[chain.Asset]string{}
	for _, sym := range m.Keys {
		f := m.Sub(sym)
		if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]{0,15}$`).MatchString(sym) || sym == "BTC" || sym == "ETH" || sym == "sat" || sym == "sats" || sym == "gwei" || sym == "wei" {
			return ps.d.Errf(m.KeyNode(sym), f, "%q is not an allowed token symbol (letters/digits, not a native unit)", sym)
		}
		tm, err := ps.d.Mapping(m.Get(sym), f, []string{"contract", "decimals"}, []string{"contract", "decimals"})
		if err != nil {
			return err
		}
		c, err := ps.d.String(tm.Get("contract"), tm.Sub("contract"))
		if err != nil {
			return err
		}
		if !ethAddrPattern.MatchString(c) {
			return ps.d.Errf(tm.Get("contract"), tm.Sub("contract"), "%q is not a 0x-prefixed 20-byte hex address", c)
		}
		dec, err := ps.d.Int(tm.Get("decimals"), tm.Sub("decimals"), 0, 36)
		if err != nil {
			return err
		}
		a := chain.ERC20(c)
		if other, dup := seen[a]; dup {
			return ps.d.Errf(tm.Get("contract"), tm.Sub("contract"), "contract already declared as %s", other)
		}
		seen[a] = sym
		ps.p.Tokens[sym] = Token{Asset: a, Decimals: int(dec)}
	}
	return nil
}

type memberFn func(n *yaml.Node, field, s string) (string, error)

func (ps *parser) groups(n *yaml.Node, field string, dst map[string][]string, fn memberFn) error {
	if n == nil {
		return nil
	}
	m, err := ps.d.Mapping(n, field, nil, nil)
	if err != nil {
		return err
	}
	for _, name := range m.Keys {
		f := m.Sub(name)
		if !quorum.ValidID(name) {
			return ps.d.Errf(m.KeyNode(name), f, "%q is not a valid name (a-z 0-9 . _ -)", name)
		}
		if name == DestAny || name == DestOwnCold || name == DestHotWallet {
			return ps.d.Errf(m.KeyNode(name), f, "%q is a reserved name", name)
		}
		list, err := ps.d.Strings(m.Get(name), f, maxListItems)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, s := range list {
			v, err := fn(m.Get(name).Content[i], yamlstrict.Index(f, i), s)
			if err != nil {
				return err
			}
			if seen[v] {
				return ps.d.Errf(m.Get(name).Content[i], yamlstrict.Index(f, i), "%q is listed twice", s)
			}
			seen[v] = true
			dst[name] = append(dst[name], v)
		}
	}
	return nil
}

func (ps *parser) id(n *yaml.Node, field, s string) (string, error) {
	if !quorum.ValidID(s) {
		return "", ps.d.Errf(n, field, "%q is not a valid roster id (a-z 0-9 . _ -)", s)
	}
	return s, nil
}

func (ps *parser) address(n *yaml.Node, field, s string) (string, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if !ethAddrPattern.MatchString(s) {
			return "", ps.d.Errf(n, field, "%q is not a 0x-prefixed 20-byte hex address", s)
		}
	} else if !addrPattern.MatchString(s) {
		return "", ps.d.Errf(n, field, "%q does not look like an address", s)
	}
	return normAddr(s), nil
}

func (ps *parser) keyMember(n *yaml.Node, field, s string) (string, error) {
	if len(s) > 200 || strings.ContainsAny(s, " \t\r\n") {
		return "", ps.d.Errf(n, field, "%q is not a key label, #<hex id>, label#<hex id> or address", s)
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return ps.address(n, field, s)
	}
	return normAddr(s), nil
}

// normAddr makes addresses comparable: hex (Ethereum) and bech32 (Bitcoin
// segwit) addresses are case-insensitive; base58 ones are kept as is.
func normAddr(s string) string {
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "bc1") || strings.HasPrefix(l, "tb1") || strings.HasPrefix(l, "bcrt1") || strings.HasPrefix(l, "sb1") {
		return l
	}
	return s
}

func (ps *parser) rule(n *yaml.Node, f string) (Rule, error) {
	d := ps.d
	m, err := d.Mapping(n, f, []string{"name", "description", "match", "limits", "time", "action", "reason", "approvals", "required_approvers", "allow_fee_bump"}, []string{"name", "action"})
	if err != nil {
		return Rule{}, err
	}
	var r Rule
	if r.Name, err = d.String(m.Get("name"), m.Sub("name")); err != nil {
		return Rule{}, err
	}
	if !quorum.ValidID(r.Name) {
		return Rule{}, d.Errf(m.Get("name"), m.Sub("name"), "%q is not a valid rule name (a-z 0-9 . _ -, up to 64)", r.Name)
	}
	if nn := m.Get("description"); nn != nil {
		if r.Description, err = d.String(nn, m.Sub("description")); err != nil {
			return Rule{}, err
		}
	}
	act, err := d.String(m.Get("action"), m.Sub("action"))
	if err != nil {
		return Rule{}, err
	}
	r.Action = Action(act)
	switch r.Action {
	case ActionAllow:
		for _, k := range []string{"reason"} {
			if m.Has(k) {
				return Rule{}, d.Errf(m.KeyNode(k), m.Sub(k), "an allow rule has no reason; use description")
			}
		}
		if !m.Has("approvals") && !m.Has("required_approvers") {
			return Rule{}, d.Errf(n, m.Sub("approvals"), "an allow rule must require approvals (approvals and/or required_approvers)")
		}
	case ActionDeny:
		for _, k := range []string{"limits", "time", "approvals", "required_approvers", "allow_fee_bump"} {
			if m.Has(k) {
				return Rule{}, d.Errf(m.KeyNode(k), m.Sub(k), "a deny rule has no %s", k)
			}
		}
		if !m.Has("reason") {
			return Rule{}, d.Errf(n, m.Sub("reason"), "a deny rule must state its reason")
		}
		if r.Reason, err = d.String(m.Get("reason"), m.Sub("reason")); err != nil {
			return Rule{}, err
		}
	default:
		return Rule{}, d.Errf(m.Get("action"), m.Sub("action"), "unknown action %q (want allow or deny)", act)
	}
	if nn := m.Get("match"); nn != nil {
		if r.Match, err = ps.match(nn, m.Sub("match"), r.Action == ActionAllow); err != nil {
			return Rule{}, err
		}
	} else if r.Action == ActionAllow {
		return Rule{}, d.Errf(n, m.Sub("match"), "an allow rule needs a match block naming at least network and destination")
	}
	if nn := m.Get("limits"); nn != nil {
		if r.Limits, err = ps.limits(nn, m.Sub("limits"), r.Match.Asset); err != nil {
			return Rule{}, err
		}
	}
	if nn := m.Get("time"); nn != nil {
		if r.Time, err = ps.timeRule(nn, m.Sub("time")); err != nil {
			return Rule{}, err
		}
	}
	if nn := m.Get("approvals"); nn != nil {
		if r.Approvals.Expr, err = ps.approvalNode(nn, m.Sub("approvals"), 0); err != nil {
			return Rule{}, err
		}
	}
	if nn := m.Get("required_approvers"); nn != nil {
		list, err := d.Strings(nn, m.Sub("required_approvers"), 32)
		if err != nil {
			return Rule{}, err
		}
		for i, s := range list {
			if _, err := ps.id(nn.Content[i], yamlstrict.Index(m.Sub("required_approvers"), i), s); err != nil {
				return Rule{}, err
			}
		}
		r.Approvals.Required = list
	}
	if nn := m.Get("allow_fee_bump"); nn != nil {
		if r.AllowFeeBump, err = d.Bool(nn, m.Sub("allow_fee_bump")); err != nil {
			return Rule{}, err
		}
		if r.AllowFeeBump { // allow rules always list their networks (match.network is required and non-empty)
			for _, net := range r.Match.Networks {
				if net.Family() != chain.FamilyBTC {
					return Rule{}, d.Errf(nn, m.Sub("allow_fee_bump"), "a fee bump exists only on Bitcoin networks, but match.network lists %s", net)
				}
			}
		}
	}
	if r.Action == ActionAllow {
		if err := r.Approvals.Validate(); err != nil {
			return Rule{}, d.Errf(m.Get("approvals"), m.Sub("approvals"), "%v", err)
		}
	}
	return r, nil
}

func (ps *parser) match(n *yaml.Node, f string, allow bool) (Match, error) {
	d := ps.d
	req := []string(nil)
	if allow {
		req = []string{"network", "destination"}
	}
	m, err := d.Mapping(n, f, []string{"network", "asset", "kind", "source", "destination", "requester", "requester_group", "amount"}, req)
	if err != nil {
		return Match{}, err
	}
	var out Match
	if nn := m.Get("network"); nn != nil {
		list, err := d.Strings(nn, m.Sub("network"), 64)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			if !netPattern.MatchString(s) {
				return Match{}, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("network"), i), "unknown network %q (btc-mainnet, btc-testnet, btc-regtest, btc-signet, btc-simnet or eth-<chain id>)", s)
			}
			out.Networks = append(out.Networks, chain.Network(s))
		}
	}
	if nn := m.Get("asset"); nn != nil {
		s, err := d.String(nn, m.Sub("asset"))
		if err != nil {
			return Match{}, err
		}
		a, err := ps.asset(s)
		if err != nil {
			return Match{}, d.Errf(nn, m.Sub("asset"), "%v", err)
		}
		out.Asset = a
		for _, net := range out.Networks {
			if assetFamily(a) != net.Family() {
				return Match{}, d.Errf(nn, m.Sub("asset"), "asset %s does not exist on network %s", s, net)
			}
		}
	}
	if nn := m.Get("kind"); nn != nil {
		list, err := d.Strings(nn, m.Sub("kind"), 8)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			switch Kind(s) {
			case KindWithdrawal, KindSweep, KindConsolidation, KindContractCall, KindTokenApprove:
				out.Kinds = append(out.Kinds, Kind(s))
			default:
				return Match{}, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("kind"), i), "unknown kind %q (withdrawal, sweep, consolidation, contract-call, token-approve)", s)
			}
		}
	}
	if nn := m.Get("source"); nn != nil {
		list, err := d.Strings(nn, m.Sub("source"), 64)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			if _, ok := ps.p.KeyGroups[s]; !ok && s != DestAny {
				return Match{}, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("source"), i), "unknown key group %q (define it under key_groups, or use any)", s)
			}
		}
		out.Sources = list
	}
	if nn := m.Get("destination"); nn != nil {
		list, err := d.Strings(nn, m.Sub("destination"), 64)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			if _, ok := ps.p.Allowlists[s]; !ok && s != DestAny && s != DestOwnCold && s != DestHotWallet {
				return Match{}, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("destination"), i), "unknown allowlist %q (define it under allowlists, or use own-cold, hot-wallet or any)", s)
			}
		}
		out.Destinations = list
	}
	if nn := m.Get("requester"); nn != nil {
		list, err := d.Strings(nn, m.Sub("requester"), 64)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			if _, err := ps.id(nn.Content[i], yamlstrict.Index(m.Sub("requester"), i), s); err != nil {
				return Match{}, err
			}
		}
		out.Requesters = list
	}
	if nn := m.Get("requester_group"); nn != nil {
		list, err := d.Strings(nn, m.Sub("requester_group"), 64)
		if err != nil {
			return Match{}, err
		}
		for i, s := range list {
			if _, ok := ps.p.Requesters[s]; !ok {
				return Match{}, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("requester_group"), i), "unknown requester group %q (define it under requester_groups)", s)
			}
		}
		out.RequesterGroups = list
	}
	if nn := m.Get("amount"); nn != nil {
		am, err := d.Mapping(nn, m.Sub("amount"), []string{"min", "max"}, nil)
		if err != nil {
			return Match{}, err
		}
		if len(am.Keys) == 0 {
			return Match{}, d.Errf(nn, m.Sub("amount"), "give min, max or both")
		}
		if out.Asset == "" {
			return Match{}, d.Errf(nn, m.Sub("amount"), "an amount range needs match.asset")
		}
		if x := am.Get("min"); x != nil {
			if out.AmountMin, err = ps.amount(x, am.Sub("min"), out.Asset); err != nil {
				return Match{}, err
			}
		}
		if x := am.Get("max"); x != nil {
			if out.AmountMax, err = ps.amount(x, am.Sub("max"), out.Asset); err != nil {
				return Match{}, err
			}
		}
		if out.AmountMin != nil && out.AmountMax != nil && out.AmountMin.Cmp(out.AmountMax) > 0 {
			return Match{}, d.Errf(nn, m.Sub("amount"), "min is larger than max")
		}
	}
	return out, nil
}

func assetFamily(a chain.Asset) chain.Family {
	if a == chain.AssetBTC {
		return chain.FamilyBTC
	}
	return chain.FamilyETH
}

func (ps *parser) asset(s string) (chain.Asset, error) {
	switch {
	case s == "BTC":
		return chain.AssetBTC, nil
	case s == "ETH":
		return chain.AssetETH, nil
	case strings.HasPrefix(s, "erc20:"):
		c := strings.TrimPrefix(s, "erc20:")
		if !ethAddrPattern.MatchString(c) {
			return "", fmt.Errorf("%q: the token contract is not a 0x-prefixed 20-byte hex address", s)
		}
		return chain.ERC20(c), nil
	}
	if t, ok := ps.p.Tokens[s]; ok {
		return t.Asset, nil
	}
	return "", fmt.Errorf("unknown asset %q (BTC, ETH, erc20:0x<contract> or a symbol declared under tokens)", s)
}

// amount parses an amount node for asset a: an integer in base units, or
// a quoted "<decimal> <unit>". Floats are refused.
func (ps *parser) amount(n *yaml.Node, f string, a chain.Asset) (*big.Int, error) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil, ps.d.Errf(n, f, "expected an amount")
	}
	switch n.Tag {
	case "!!float":
		return nil, ps.d.Errf(n, f, "%s is a floating-point number; write \"%s <unit>\" in quotes (e.g. \"1.5 BTC\") or an integer in base units", n.Value, n.Value)
	case "!!int":
		if !yamlstrict.IsDecimalDigits(n.Value) {
			return nil, ps.d.Errf(n, f, "%q is not a non-negative decimal integer of base units", n.Value)
		}
	case "!!str":
	default:
		return nil, ps.d.Errf(n, f, "expected an amount, got %q", n.Value)
	}
	v, err := parseAmountText(n.Value, ps.p.unitsFor(a), string(a))
	if err != nil {
		return nil, ps.d.Errf(n, f, "%v", err)
	}
	return v, nil
}

func (ps *parser) duration(n *yaml.Node, f string) (time.Duration, error) {
	s, err := ps.d.String(n, f)
	if err != nil {
		return 0, err
	}
	dur, err := quorum.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, ps.d.Errf(n, f, "%q is not a positive duration like 30m, 24h or 7d", s)
	}
	return dur, nil
}

func (ps *parser) limits(n *yaml.Node, f string, asset chain.Asset) (Limits, error) {
	d := ps.d
	m, err := d.Mapping(n, f, []string{"per_tx", "per_batch", "velocity", "lifetime", "min_interval", "max_fee", "max_fee_rate",
		"max_fee_percent", "max_inputs", "max_outputs", "max_transactions"}, nil)
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	needAsset := func(k string) error {
		if asset == "" {
			return d.Errf(m.KeyNode(k), m.Sub(k), "this limit needs match.asset so its amounts have a unit")
		}
		return nil
	}
	for _, k := range []struct {
		key string
		dst **big.Int
	}{{"per_tx", &l.PerTx}, {"per_batch", &l.PerBatch}, {"lifetime", &l.Lifetime}} {
		if nn := m.Get(k.key); nn != nil {
			if err := needAsset(k.key); err != nil {
				return Limits{}, err
			}
			if *k.dst, err = ps.amount(nn, m.Sub(k.key), asset); err != nil {
				return Limits{}, err
			}
		}
	}
	if nn := m.Get("velocity"); nn != nil {
		if err := needAsset("velocity"); err != nil {
			return Limits{}, err
		}
		items, err := d.Seq(nn, m.Sub("velocity"), 32)
		if err != nil {
			return Limits{}, err
		}
		for i, it := range items {
			vf := yamlstrict.Index(m.Sub("velocity"), i)
			vm, err := d.Mapping(it, vf, []string{"per", "window", "max"}, []string{"per", "window", "max"})
			if err != nil {
				return Limits{}, err
			}
			var v Velocity
			per, err := d.String(vm.Get("per"), vm.Sub("per"))
			if err != nil {
				return Limits{}, err
			}
			v.Per = Scope(per)
			switch v.Per {
			case PerRule, PerSource, PerDestination, PerRequester:
			default:
				return Limits{}, d.Errf(vm.Get("per"), vm.Sub("per"), "unknown scope %q (rule, source, destination or requester)", per)
			}
			if v.Window, err = ps.duration(vm.Get("window"), vm.Sub("window")); err != nil {
				return Limits{}, err
			}
			if v.Max, err = ps.amount(vm.Get("max"), vm.Sub("max"), asset); err != nil {
				return Limits{}, err
			}
			l.Velocity = append(l.Velocity, v)
		}
	}
	if nn := m.Get("min_interval"); nn != nil {
		if l.MinInterval, err = ps.duration(nn, m.Sub("min_interval")); err != nil {
			return Limits{}, err
		}
	}
	native := chain.AssetBTC
	if asset != "" && assetFamily(asset) == chain.FamilyETH {
		native = chain.AssetETH
	}
	if nn := m.Get("max_fee"); nn != nil {
		if err := needAsset("max_fee"); err != nil {
			return Limits{}, err
		}
		if l.MaxFee, err = ps.amount(nn, m.Sub("max_fee"), native); err != nil {
			return Limits{}, err
		}
	}
	if nn := m.Get("max_fee_rate"); nn != nil {
		if err := needAsset("max_fee_rate"); err != nil {
			return Limits{}, err
		}
		s, err := d.String(nn, m.Sub("max_fee_rate"))
		if err != nil {
			return Limits{}, err
		}
		units := map[string]int{"sat/vB": 3, "msat/vB": 0}
		if native == chain.AssetETH {
			units = map[string]int{"gwei": 9, "wei": 0}
		}
		if _, _, ok := strings.Cut(s, " "); !ok {
			return Limits{}, d.Errf(nn, m.Sub("max_fee_rate"), "%q needs a unit (%s)", s, unitList(units))
		}
		if l.MaxFeeRate, err = parseAmountText(s, units, "fee rate"); err != nil {
			return Limits{}, d.Errf(nn, m.Sub("max_fee_rate"), "%v", err)
		}
	}
	if nn := m.Get("max_fee_percent"); nn != nil {
		if err := needAsset("max_fee_percent"); err != nil {
			return Limits{}, err
		}
		if asset.IsToken() {
			return Limits{}, d.Errf(nn, m.Sub("max_fee_percent"), "the fee is paid in ETH and the amount in a token: a percentage makes no sense here; use max_fee")
		}
		if nn.Tag == "!!float" {
			return Limits{}, d.Errf(nn, m.Sub("max_fee_percent"), "write the percentage as a quoted string, e.g. \"0.5\"")
		}
		s, err := d.String(nn, m.Sub("max_fee_percent"))
		if err != nil {
			return Limits{}, err
		}
		scaled, err := parseDecimal(strings.TrimSuffix(s, "%"), 6)
		if err != nil {
			return Limits{}, d.Errf(nn, m.Sub("max_fee_percent"), "%v", err)
		}
		l.MaxFeePercent = new(big.Rat).SetFrac(scaled, big.NewInt(1_000_000))
	}
	for _, k := range []struct {
		key string
		dst *int
	}{{"max_inputs", &l.MaxInputs}, {"max_outputs", &l.MaxOutputs}, {"max_transactions", &l.MaxTransactions}} {
		if nn := m.Get(k.key); nn != nil {
			v, err := d.Int(nn, m.Sub(k.key), 1, 1_000_000)
			if err != nil {
				return Limits{}, err
			}
			*k.dst = int(v)
		}
	}
	return l, nil
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (ps *parser) timeRule(n *yaml.Node, f string) (*TimeRule, error) {
	d := ps.d
	m, err := d.Mapping(n, f, []string{"zone", "windows", "blackout"}, []string{"zone"})
	if err != nil {
		return nil, err
	}
	if !m.Has("windows") && !m.Has("blackout") {
		return nil, d.Errf(n, f, "give windows, blackout or both")
	}
	t := &TimeRule{}
	if t.Zone, err = d.String(m.Get("zone"), m.Sub("zone")); err != nil {
		return nil, err
	}
	if t.Zone == "Local" || strings.TrimSpace(t.Zone) != t.Zone {
		return nil, d.Errf(m.Get("zone"), m.Sub("zone"), "name an IANA time zone such as Europe/Zurich or UTC, not %q", t.Zone)
	}
	if t.Loc, err = time.LoadLocation(t.Zone); err != nil {
		return nil, d.Errf(m.Get("zone"), m.Sub("zone"), "unknown time zone %q (an IANA name such as Europe/Zurich, America/New_York or UTC)", t.Zone)
	}
	if nn := m.Get("windows"); nn != nil {
		items, err := d.Seq(nn, m.Sub("windows"), 64)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, d.Errf(nn, m.Sub("windows"), "list must not be empty")
		}
		for i, it := range items {
			wf := yamlstrict.Index(m.Sub("windows"), i)
			wm, err := d.Mapping(it, wf, []string{"days", "from", "to"}, []string{"days", "from", "to"})
			if err != nil {
				return nil, err
			}
			var w Window
			days, err := d.Strings(wm.Get("days"), wm.Sub("days"), 7)
			if err != nil {
				return nil, err
			}
			for j, s := range days {
				wd, ok := dayNames[strings.ToLower(s)]
				if !ok {
					return nil, d.Errf(wm.Get("days").Content[j], yamlstrict.Index(wm.Sub("days"), j), "unknown day %q (mon tue wed thu fri sat sun)", s)
				}
				w.Days[wd] = true
			}
			if w.From, err = ps.hhmm(wm.Get("from"), wm.Sub("from")); err != nil {
				return nil, err
			}
			if w.To, err = ps.hhmm(wm.Get("to"), wm.Sub("to")); err != nil {
				return nil, err
			}
			if w.From >= w.To {
				return nil, d.Errf(wm.Get("to"), wm.Sub("to"), "to must be later than from on the same day (split a window that crosses midnight into two)")
			}
			t.Windows = append(t.Windows, w)
		}
	}
	if nn := m.Get("blackout"); nn != nil {
		list, err := d.Strings(nn, m.Sub("blackout"), 1000)
		if err != nil {
			return nil, err
		}
		for i, s := range list {
			if _, err := time.Parse("2006-01-02", s); err != nil {
				return nil, d.Errf(nn.Content[i], yamlstrict.Index(m.Sub("blackout"), i), "%q is not a date YYYY-MM-DD", s)
			}
		}
		t.Blackout = list
	}
	return t, nil
}

func (ps *parser) hhmm(n *yaml.Node, f string) (int, error) {
	s, err := ps.d.String(n, f)
	if err != nil {
		return 0, err
	}
	mm := hhmmPattern.FindStringSubmatch(s)
	if mm == nil {
		return 0, ps.d.Errf(n, f, "%q is not a time HH:MM (quote it: \"09:00\")", s)
	}
	h, mi := int(mm[1][0]-'0')*10+int(mm[1][1]-'0'), int(mm[2][0]-'0')*10+int(mm[2][1]-'0')
	if h == 24 && mi != 0 {
		return 0, ps.d.Errf(n, f, "%q is past 24:00", s)
	}
	return h*60 + mi, nil
}

func (ps *parser) approvalNode(n *yaml.Node, f string, depth int) (quorum.Node, error) {
	d := ps.d
	if depth > 8 {
		return quorum.Node{}, d.Errf(n, f, "approval expression nested too deep")
	}
	m, err := d.Mapping(n, f, []string{"group", "officers", "threshold", "all", "any"}, nil)
	if err != nil {
		return quorum.Node{}, err
	}
	has := func(k string) bool { return m.Has(k) }
	count := 0
	for _, k := range []string{"group", "officers", "all", "any"} {
		if has(k) {
			count++
		}
	}
	if count != 1 {
		return quorum.Node{}, d.Errf(n, f, "give exactly one of group (+threshold), officers (+threshold), all or any")
	}
	if has("all") || has("any") {
		if has("threshold") {
			return quorum.Node{}, d.Errf(m.KeyNode("threshold"), m.Sub("threshold"), "threshold belongs to a group or officers list")
		}
		k, op := "all", quorum.OpAll
		if has("any") {
			k, op = "any", quorum.OpAny
		}
		items, err := d.Seq(m.Get(k), m.Sub(k), 32)
		if err != nil {
			return quorum.Node{}, err
		}
		if len(items) == 0 {
			return quorum.Node{}, d.Errf(m.Get(k), m.Sub(k), "list must not be empty")
		}
		out := quorum.Node{Op: op}
		for i, it := range items {
			c, err := ps.approvalNode(it, yamlstrict.Index(m.Sub(k), i), depth+1)
			if err != nil {
				return quorum.Node{}, err
			}
			out.Children = append(out.Children, c)
		}
		return out, nil
	}
	out := quorum.Node{Op: quorum.OpGroup}
	if has("group") {
		if out.Group, err = d.String(m.Get("group"), m.Sub("group")); err != nil {
			return quorum.Node{}, err
		}
		members, ok := ps.p.Approvers[out.Group]
		if !ok {
			return quorum.Node{}, d.Errf(m.Get("group"), m.Sub("group"), "unknown approver group %q (define it under approver_groups)", out.Group)
		}
		out.Members = append([]string(nil), members...)
	} else {
		list, err := d.Strings(m.Get("officers"), m.Sub("officers"), 64)
		if err != nil {
			return quorum.Node{}, err
		}
		for i, s := range list {
			if _, err := ps.id(m.Get("officers").Content[i], yamlstrict.Index(m.Sub("officers"), i), s); err != nil {
				return quorum.Node{}, err
			}
		}
		out.Group, out.Members = "officers", list
	}
	if !has("threshold") {
		return quorum.Node{}, d.Errf(n, m.Sub("threshold"), "required field is missing")
	}
	th, err := d.Int(m.Get("threshold"), m.Sub("threshold"), 1, int64(len(out.Members)))
	if err != nil {
		return quorum.Node{}, d.Errf(m.Get("threshold"), m.Sub("threshold"), "threshold must be between 1 and the %d member(s) of %s", len(out.Members), out.Group)
	}
	out.Threshold = int(th)
	return out, nil
}
