package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
)

// MultisigConfig is one P2WSH multisig wallet this signer cosigns
// (config section "multisig:"): its outputs count as ours (inputs we sign,
// change we recognise). PubKeys are hex 33-byte compressed keys in
// witness-script order ("OP_m <keys> OP_n OP_CHECKMULTISIG"); at least one
// must be a key of this signer's token, the others belong to the other
// cosigners.
type MultisigConfig struct {
	Threshold int      `mapstructure:"threshold"`
	PubKeys   []string `mapstructure:"pubkeys"`
}

// multisigWallets decodes and checks the multisig section. It needs a
// Bitcoin network.
func (c *Config) multisigWallets() ([]btc.MultisigWallet, error) {
	if len(c.Multisig) > 0 && c.Networks.BTC == "" {
		return nil, errors.New("multisig: needs networks.btc")
	}
	var out []btc.MultisigWallet
	for i, m := range c.Multisig {
		w := btc.MultisigWallet{Threshold: m.Threshold}
		for j, k := range m.PubKeys {
			pub, err := hex.DecodeString(k)
			if err != nil || len(pub) != 33 {
				return nil, fmt.Errorf("multisig[%d].pubkeys[%d]: want a 33-byte compressed public key in hex", i, j)
			}
			w.PubKeys = append(w.PubKeys, pub)
		}
		if _, err := w.Address(c.Networks.BTC); err != nil {
			return nil, fmt.Errorf("multisig[%d]: %w", i, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// multisigForKeys returns the configured multisig wallets with their
// addresses on n, refusing one that holds none of keys (our HSM keys).
func (c *Config) multisigForKeys(n chain.Network, keys []chain.OwnKey) ([]btc.MultisigWallet, []string, error) {
	ws, err := c.multisigWallets()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	var addrs []string
	for i, w := range ws {
		ours := false
		for _, p := range w.PubKeys {
			for _, k := range keys {
				if bytes.Equal(p, k.PublicKey) {
					ours = true
				}
			}
		}
		if !ours {
			return nil, nil, fmt.Errorf("%w: multisig[%d]: none of its keys is in this signer's token", errConfig, i)
		}
		a, err := w.Address(n)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: multisig[%d]: %w", errConfig, i, err)
		}
		addrs = append(addrs, a)
	}
	return ws, addrs, nil
}
