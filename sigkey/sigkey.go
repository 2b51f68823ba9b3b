package sigkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Algorithm names a signature scheme. Its String form is what appears in
// files (roster, manifest, bundles).
type Algorithm uint8

const (
	// AlgorithmUnknown is the zero value and is never accepted.
	AlgorithmUnknown Algorithm = iota
	// Ed25519 signs the message itself (RFC 8032, pure EdDSA).
	Ed25519
	// P256 is ECDSA on NIST P-256 over SHA-256(message); signatures are raw r||s.
	P256
)

// String returns "ed25519", "p256" or "unknown".
func (a Algorithm) String() string {
	switch a {
	case Ed25519:
		return "ed25519"
	case P256:
		return "p256"
	default:
		return "unknown"
	}
}

// ParseAlgorithm is the inverse of Algorithm.String.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ed25519":
		return Ed25519, nil
	case "p256", "p-256", "ecdsa-p256":
		return P256, nil
	default:
		return AlgorithmUnknown, fmt.Errorf("%w: %q (want ed25519 or p256)", ErrUnknownAlgorithm, s)
	}
}

var (
	// ErrUnknownAlgorithm reports an algorithm name or number that is not supported.
	ErrUnknownAlgorithm = errors.New("unknown signature algorithm")
	// ErrBadPublicKey reports key bytes that are not a valid key for their algorithm.
	ErrBadPublicKey = errors.New("invalid public key")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("signature does not verify")
)

// PublicKey is an algorithm-tagged public key. For Ed25519 Key holds 32 bytes;
// for P256 it holds the 33-byte compressed SEC1 point.
type PublicKey struct {
	Algorithm Algorithm
	Key       []byte
}

// Validate reports whether the key bytes are well formed for the algorithm.
func (p PublicKey) Validate() error {
	switch p.Algorithm {
	case Ed25519:
		if len(p.Key) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: ed25519 key has %d bytes, want %d", ErrBadPublicKey, len(p.Key), ed25519.PublicKeySize)
		}
		return nil
	case P256:
		if _, err := p.ecdsa(); err != nil {
			return err
		}
		return nil
	default:
		return fmt.Errorf("%w: %d", ErrUnknownAlgorithm, p.Algorithm)
	}
}

func (p PublicKey) ecdsa() (*ecdsa.PublicKey, error) {
	if len(p.Key) != 33 {
		return nil, fmt.Errorf("%w: p256 key has %d bytes, want 33 (compressed)", ErrBadPublicKey, len(p.Key))
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), p.Key)
	if x == nil {
		return nil, fmt.Errorf("%w: p256 point is not on the curve", ErrBadPublicKey)
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, nil
}

// Verify returns nil when sig is a valid signature by p over msg, and an error
// wrapping ErrBadSignature (or ErrBadPublicKey) otherwise.
func (p PublicKey) Verify(msg, sig []byte) error {
	switch p.Algorithm {
	case Ed25519:
		if err := p.Validate(); err != nil {
			return err
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(p.Key), msg, sig) {
			return ErrBadSignature
		}
		return nil
	case P256:
		pub, err := p.ecdsa()
		if err != nil {
			return err
		}
		if len(sig) != 64 {
			return fmt.Errorf("%w: p256 signature has %d bytes, want 64 (r||s)", ErrBadSignature, len(sig))
		}
		h := sha256.Sum256(msg)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			return ErrBadSignature
		}
		return nil
	default:
		return fmt.Errorf("%w: %d", ErrUnknownAlgorithm, p.Algorithm)
	}
}

// Fingerprint is a stable short name for a public key: the first 20 bytes of
// SHA-256("icebox/key-fingerprint/v1" || algorithm || key), hex, in groups of
// four characters so it can be read aloud and compared by eye.
func (p PublicKey) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte("icebox/key-fingerprint/v1"))
	h.Write([]byte{byte(p.Algorithm)})
	h.Write(p.Key)
	sum := hex.EncodeToString(h.Sum(nil)[:20])
	var b strings.Builder
	for i := 0; i < len(sum); i += 4 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(sum[i : i+4])
	}
	return b.String()
}

// String renders "alg:hex" — the form used in roster and manifest files.
func (p PublicKey) String() string {
	return p.Algorithm.String() + ":" + hex.EncodeToString(p.Key)
}

// ParsePublicKey parses the "alg:hex" form produced by String and validates it.
func ParsePublicKey(s string) (PublicKey, error) {
	alg, hexKey, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: %q is not of the form alg:hex", ErrBadPublicKey, s)
	}
	a, err := ParseAlgorithm(alg)
	if err != nil {
		return PublicKey{}, err
	}
	raw, err := hex.DecodeString(hexKey)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: key is not hex: %v", ErrBadPublicKey, err)
	}
	pk := PublicKey{Algorithm: a, Key: raw}
	if err := pk.Validate(); err != nil {
		return PublicKey{}, err
	}
	return pk, nil
}

// Signer signs messages with one key of a known algorithm. Implementations:
// the HSM identity key (hsm/pkcs11), an officer's encrypted key file, or an
// officer key on a PKCS#11 token.
type Signer interface {
	Public() PublicKey
	// Sign returns a signature that Public().Verify accepts for msg.
	Sign(msg []byte) ([]byte, error)
}
