package policy

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/quorum/yamlstrict"
)

// unitsFor returns the decimal exponent of each unit accepted for amounts of
// asset a. Token symbols come from the policy's tokens section.
func (p *Policy) unitsFor(a chain.Asset) map[string]int {
	switch a {
	case chain.AssetBTC:
		return map[string]int{"BTC": 8, "sat": 0, "sats": 0}
	case chain.AssetETH:
		return map[string]int{"ETH": 18, "gwei": 9, "wei": 0}
	}
	for sym, t := range p.Tokens {
		if t.Asset == a {
			return map[string]int{sym: t.Decimals}
		}
	}
	return map[string]int{}
}

// parseDecimal parses "123" or "123.456" exactly, scaled by 10^decimals.
func parseDecimal(s string, decimals int) (*big.Int, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if !yamlstrict.IsDecimalDigits(whole) || (hasDot && !yamlstrict.IsDecimalDigits(frac)) {
		return nil, fmt.Errorf("%q is not a plain decimal number", s)
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("%q has %d decimal places, the unit allows %d", s, len(frac), decimals)
	}
	if len(whole)+len(frac) > 80 {
		return nil, fmt.Errorf("%q is too long", s)
	}
	v, _ := new(big.Int).SetString(whole+frac+strings.Repeat("0", decimals-len(frac)), 10)
	return v, nil
}

// parseAmountText parses "<decimal> <unit>" or "<integer>" (base units).
func parseAmountText(s string, units map[string]int, what string) (*big.Int, error) {
	num, unit, hasUnit := strings.Cut(s, " ")
	if !hasUnit {
		if yamlstrict.IsDecimalDigits(s) {
			return parseDecimal(s, 0)
		}
		return nil, fmt.Errorf("%q is neither an integer in base units nor \"<number> <unit>\" (units for %s: %s)", s, what, unitList(units))
	}
	dec, ok := units[unit]
	if !ok {
		return nil, fmt.Errorf("unknown unit %q for %s (want one of: %s)", unit, what, unitList(units))
	}
	return parseDecimal(num, dec)
}

func unitList(u map[string]int) string {
	if len(u) == 0 {
		return "none declared; use an integer in base units or declare the token under tokens"
	}
	var out []string
	for k := range u {
		out = append(out, k)
	}
	sortStrings(out)
	return strings.Join(out, ", ")
}

// formatDecimal renders v / 10^decimals without trailing zeros.
func formatDecimal(v *big.Int, decimals int) string {
	if v == nil {
		return "?"
	}
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		i := len(s) - decimals
		s = s[:i] + "." + s[i:]
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// FormatAmount renders an amount of asset a for people: "1.5 BTC",
// "0.02 ETH", "250 USDC", or "N base units of erc20:0x…" for an undeclared token.
func (p *Policy) FormatAmount(a chain.Asset, v *big.Int) string {
	switch a {
	case chain.AssetBTC:
		return formatDecimal(v, 8) + " BTC"
	case chain.AssetETH:
		return formatDecimal(v, 18) + " ETH"
	}
	for sym, t := range p.Tokens {
		if t.Asset == a {
			return formatDecimal(v, t.Decimals) + " " + sym
		}
	}
	return formatDecimal(v, 0) + " base units of " + string(a)
}

// formatFeeRate renders a fee-rate limit for the asset's chain family.
func formatFeeRate(f chain.Family, v *big.Int) string {
	if f == chain.FamilyBTC {
		return formatDecimal(v, 3) + " sat/vB"
	}
	return formatDecimal(v, 9) + " gwei per gas"
}
