package btc

import (
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/icebox-custody/icebox/chain"
)

// Params returns btcd's chain parameters for a Bitcoin network name.
func Params(n chain.Network) (*chaincfg.Params, error) {
	switch n {
	case chain.BTCMainnet:
		return &chaincfg.MainNetParams, nil
	case chain.BTCTestnet:
		return &chaincfg.TestNet3Params, nil
	case chain.BTCRegtest:
		return &chaincfg.RegressionNetParams, nil
	case chain.BTCSimnet:
		return &chaincfg.SimNetParams, nil
	case chain.BTCSignet:
		return &chaincfg.SigNetParams, nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownNetwork, n)
	}
}

// P2WPKHAddress returns the native segwit v0 address (bech32) of a 33-byte
// compressed public key on network n.
func P2WPKHAddress(pubKey []byte, n chain.Network) (string, error) {
	params, err := Params(n)
	if err != nil {
		return "", err
	}
	if len(pubKey) != 33 {
		return "", fmt.Errorf("public key has %d bytes, want 33 (compressed)", len(pubKey))
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pubKey), params)
	if err != nil {
		return "", fmt.Errorf("derive P2WPKH address: %w", err)
	}
	return addr.EncodeAddress(), nil
}

// KeyAddress returns the address of a 33-byte compressed key for one of the
// single-key script types (ScriptP2WPKH, ScriptP2SHP2WPKH, ScriptP2PKH).
func KeyAddress(pubKey []byte, scriptType string, n chain.Network) (string, error) {
	if err := checkCompressedPubKey(pubKey); err != nil {
		return "", err
	}
	switch scriptType {
	case ScriptP2WPKH:
		return scriptAddress(p2wpkhScript(pubKey), n)
	case ScriptP2SHP2WPKH:
		return scriptAddress(p2shScript(p2wpkhScript(pubKey)), n)
	case ScriptP2PKH:
		return scriptAddress(p2pkhScript(pubKey), n)
	default:
		return "", fmt.Errorf("%w: script type %q has no single-key address", ErrConfig, scriptType)
	}
}
