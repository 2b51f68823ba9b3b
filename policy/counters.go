package policy

import (
	"net/url"

	"github.com/icebox-custody/icebox/chain"
)

// Counter strings name velocity counters in the Usage store. They are
// opaque to the store and built only here. Every component is escaped with
// url.PathEscape, so no name can contain a '/' that forges another counter.
//
//	rule/<rule>/asset/<asset>                everything allowed by a rule
//	asset/<asset>/requester/<requester id>   everything a requester got signed (all rules)
//	asset/<asset>/source/<key>               everything sent from one of our keys (all rules);
//	                                         <key> is the KeyRef string "label#hexid" (Bitcoin)
//	                                         or the lower-case 0x address (Ethereum)
//	asset/<asset>/destination/<address>      everything sent to one address (all rules);
//	                                         addresses normalised (hex and bech32 lower-case)
//
// <asset> is "BTC", "ETH" or "erc20:0x<contract>". A Bitcoin transaction
// spending inputs of several of our keys charges the whole amount to each
// of those keys (conservative: never under-counts).
//
// Renaming a rule starts a fresh rule counter; the requester, source and
// destination counters are shared by all rules and survive policy changes.

// RuleCounter returns the counter of everything allowed by rule for asset.
func RuleCounter(rule string, asset chain.Asset) string {
	return "rule/" + url.PathEscape(rule) + "/asset/" + url.PathEscape(string(asset))
}

// ScopeCounter returns the counter for one value of a scope (requester,
// source or destination) and asset; for PerRule, value is the rule name
// and the result is RuleCounter(value, asset).
func ScopeCounter(scope Scope, value string, asset chain.Asset) string {
	if scope == PerRule {
		return RuleCounter(value, asset)
	}
	return "asset/" + url.PathEscape(string(asset)) + "/" + string(scope) + "/" + url.PathEscape(value)
}

func escape(s string) string { return url.PathEscape(s) }
