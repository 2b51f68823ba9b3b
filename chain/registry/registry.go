// Package registry builds the chain adapters for a set of networks from a
// list of our own keys. It is the one place that knows which adapter serves
// which chain family, so the signer, the officer review and the hot wallet
// all decode transactions the same way.
package registry

import (
	"fmt"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
)

// Adapters returns one adapter per network, each knowing keys (our HSM keys:
// reference + compressed public key). An unknown network is an error.
func Adapters(networks []chain.Network, keys []chain.OwnKey) (map[chain.Network]chain.Adapter, error) {
	out := make(map[chain.Network]chain.Adapter, len(networks))
	for _, n := range networks {
		if _, dup := out[n]; dup {
			continue
		}
		var (
			ad  chain.Adapter
			err error
		)
		switch n.Family() {
		case chain.FamilyBTC:
			ad, err = btc.NewAdapter(btc.Config{Network: n, Keys: keys})
		case chain.FamilyETH:
			ad, err = eth.NewAdapter(eth.Config{Network: n, Keys: keys})
		default:
			err = fmt.Errorf("unknown network %q (want btc-… or eth-<chain id>)", n)
		}
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n, err)
		}
		out[n] = ad
	}
	return out, nil
}

// Address derives the address of a compressed public key on network n:
// P2WPKH for Bitcoin, the EIP-55 address for Ethereum.
func Address(pubKey []byte, n chain.Network) (string, error) {
	switch n.Family() {
	case chain.FamilyBTC:
		return btc.P2WPKHAddress(pubKey, n)
	case chain.FamilyETH:
		return eth.Address(pubKey)
	default:
		return "", fmt.Errorf("unknown network %q", n)
	}
}
