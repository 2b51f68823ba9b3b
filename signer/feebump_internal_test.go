package signer

import (
	"testing"

	"github.com/icebox-custody/icebox/chain"
)

// TestConsumesOfNeverReplacesNonces: only Bitcoin outpoint keys of Bitcoin
// transactions get AllowReplace, and only when the decision allows a bump.
func TestConsumesOfNeverReplacesNonces(t *testing.T) {
	// The key forms of chain.Summary.Consumes.
	btcKey := "btc-regtest/outpoint/ab:1"
	ethKey := "eth-1337/nonce/0x1111111111111111111111111111111111111111/7"
	sums := []chain.Summary{
		{Network: chain.BTCRegtest, Consumes: []string{btcKey}},
		{Network: "eth-1337", Consumes: []string{ethKey}},
		// A consume key of another network or family never replaces.
		{Network: chain.BTCRegtest, Consumes: []string{"btc-mainnet/outpoint/cd:0"}},
		{Network: "eth-1337", Consumes: []string{"eth-1337/outpoint/cd:0"}},
	}
	cases := []struct {
		bump bool
		want []bool
	}{
		{false, []bool{false, false, false, false}},
		{true, []bool{true, false, false, false}},
	}
	for _, c := range cases {
		got := consumesOf(sums, c.bump)
		if len(got) != len(c.want) {
			t.Fatalf("bump=%v: %d consumes", c.bump, len(got))
		}
		for i, g := range got {
			if g.AllowReplace != c.want[i] || g.Key != sums[i].Consumes[0] {
				t.Errorf("bump=%v: consume %d %s AllowReplace=%v, want %v", c.bump, i, g.Key, g.AllowReplace, c.want[i])
			}
		}
	}
}
