package main

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/icebox-custody/icebox/chain"
)

func TestMultisigConfig(t *testing.T) {
	g := hex.EncodeToString(make33())
	g2 := "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
	g3 := "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
	ours := []chain.OwnKey{{PublicKey: make33()}}
	tests := []struct {
		name     string
		btc      chain.Network
		ms       []MultisigConfig
		wantConf bool // validation error
		wantKeys bool // multisigForKeys error
	}{
		{"ok_2of3", "btc-regtest", []MultisigConfig{{Threshold: 2, PubKeys: []string{g, g2, g3}}}, false, false},
		{"ok_none", "btc-regtest", nil, false, false},
		{"expfail_not_ours", "btc-regtest", []MultisigConfig{{Threshold: 1, PubKeys: []string{g2, g3}}}, false, true},
		{"expfail_threshold", "btc-regtest", []MultisigConfig{{Threshold: 4, PubKeys: []string{g, g2, g3}}}, true, true},
		{"expfail_bad_key", "btc-regtest", []MultisigConfig{{Threshold: 1, PubKeys: []string{"02abcd"}}}, true, true},
		{"expfail_no_btc", "", []MultisigConfig{{Threshold: 1, PubKeys: []string{g}}}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Networks: NetworksConfig{BTC: tc.btc}, Multisig: tc.ms}
			_, err := c.multisigWallets()
			if (err != nil) != tc.wantConf {
				t.Fatalf("multisigWallets: err = %v, want error %v", err, tc.wantConf)
			}
			ws, addrs, err := c.multisigForKeys(tc.btc, ours)
			if (err != nil) != tc.wantKeys {
				t.Fatalf("multisigForKeys: err = %v, want error %v", err, tc.wantKeys)
			}
			if err != nil && !errors.Is(err, errConfig) {
				t.Fatalf("err = %v, want errConfig (exit code 2)", err)
			}
			if err == nil && (len(ws) != len(tc.ms) || len(addrs) != len(tc.ms)) {
				t.Fatalf("%d wallets, %d addresses, want %d", len(ws), len(addrs), len(tc.ms))
			}
		})
	}
}
