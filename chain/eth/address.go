package eth

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"
)

// Address returns the EIP-55 checksummed Ethereum address of a 33-byte
// compressed (or 65-byte uncompressed) secp256k1 public key.
func Address(pubKey []byte) (string, error) {
	var (
		pub *ecdsa.PublicKey
		err error
	)
	switch len(pubKey) {
	case 33:
		pub, err = crypto.DecompressPubkey(pubKey)
	case 65:
		pub, err = crypto.UnmarshalPubkey(pubKey)
	default:
		return "", fmt.Errorf("public key has %d bytes, want 33 or 65", len(pubKey))
	}
	if err != nil {
		return "", fmt.Errorf("decode public key: %w", err)
	}
	return crypto.PubkeyToAddress(*pub).Hex(), nil
}
