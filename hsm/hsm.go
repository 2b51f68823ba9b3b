package hsm

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/icebox-custody/icebox/sigkey"
)

// KeyRef addresses one key pair on the token by its CKA_LABEL and CKA_ID.
// ID is authoritative when set; Label alone is allowed for look-ups but must
// then match exactly one key (ErrAmbiguousKey otherwise).
type KeyRef struct {
	Label string
	ID    []byte
}

// String renders "label#hexid" (or just the label / "#hexid").
func (r KeyRef) String() string {
	if len(r.ID) == 0 {
		return r.Label
	}
	return r.Label + "#" + hex.EncodeToString(r.ID)
}

// IDHex returns the CKA_ID as lower-case hex ("" when unset).
func (r KeyRef) IDHex() string { return hex.EncodeToString(r.ID) }

// Digest is a 32-byte message digest computed by the caller (a chain adapter).
type Digest [32]byte

// String returns the digest as lower-case hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Signature is a secp256k1 ECDSA signature as two 32-byte big-endian
// integers. Implementations return it normalised to low-S (BIP-62 / EIP-2).
type Signature struct {
	R [32]byte
	S [32]byte
}

// Bytes returns r||s (64 bytes).
func (s Signature) Bytes() []byte {
	out := make([]byte, 64)
	copy(out, s.R[:])
	copy(out[32:], s.S[:])
	return out
}

// Curve names the curve of a key on the token.
type Curve uint8

const (
	// CurveUnknown is the zero value.
	CurveUnknown Curve = iota
	// CurveSecp256k1 is used for chain signing keys.
	CurveSecp256k1
	// CurveEd25519 is used for the signer identity key when the module supports EdDSA.
	CurveEd25519
	// CurveP256 is used for the signer identity key otherwise.
	CurveP256
)

// String returns "secp256k1", "ed25519", "p256" or "unknown".
func (c Curve) String() string {
	switch c {
	case CurveSecp256k1:
		return "secp256k1"
	case CurveEd25519:
		return "ed25519"
	case CurveP256:
		return "p256"
	default:
		return "unknown"
	}
}

// KeyInfo describes a chain signing key found on or created in the token.
type KeyInfo struct {
	Ref KeyRef
	// PublicKey is the 33-byte compressed secp256k1 public key.
	PublicKey []byte
}

// Signer signs caller-computed digests with secp256k1 keys held in the HSM.
// Implementations are safe for concurrent use.
type Signer interface {
	// PublicKey returns the 33-byte compressed public key of ref.
	PublicKey(ctx context.Context, ref KeyRef) ([]byte, error)
	// SignDigest signs digest with ref's private key (CKM_ECDSA, no hashing)
	// and returns a low-S signature. On failure nothing is returned.
	SignDigest(ctx context.Context, ref KeyRef, digest Digest) (Signature, error)
}

// UnverifiedSigner is an optional power of a Signer, for callers that
// verify every signature themselves before any use: it signs like
// SignDigest and normalises to low-S, but does not check the signature
// against the public key. chain.SignBatch uses it because Tx.Attach verifies
// every signature (script engine / sender recovery) before a signed payload
// exists; verifying twice would double the curve work per signature.
// Anyone else calls SignDigest.
type UnverifiedSigner interface {
	// SignDigestUnverified returns a low-S signature with r and s in range,
	// NOT checked against ref's public key. The caller MUST verify it.
	SignDigestUnverified(ctx context.Context, ref KeyRef, digest Digest) (Signature, error)
}

// GenerateKeyRequest asks for one new secp256k1 key pair.
type GenerateKeyRequest struct {
	// Label becomes CKA_LABEL. It must not be empty.
	Label string
}

// KeyGenerator creates secp256k1 key pairs inside the HSM: CKA_TOKEN,
// CKA_SENSITIVE, not CKA_EXTRACTABLE, with a random 16-byte CKA_ID.
type KeyGenerator interface {
	GenerateKey(ctx context.Context, req GenerateKeyRequest) (KeyInfo, error)
}

// KeyLister lists the secp256k1 signing keys on the token (not the identity key).
type KeyLister interface {
	ListKeys(ctx context.Context) ([]KeyInfo, error)
}

// IdentityKeeper manages the signer identity key: the one key (Ed25519, or
// P-256 where the module has no EdDSA) that signs manifests, responses and
// audit checkpoints.
type IdentityKeeper interface {
	// EnsureIdentity returns the identity signer, creating the key in the HSM
	// when absent. created reports whether a new key was made.
	EnsureIdentity(ctx context.Context) (signer sigkey.Signer, created bool, err error)
	// Identity returns the existing identity signer or ErrKeyNotFound.
	Identity(ctx context.Context) (sigkey.Signer, error)
}

// AnchorStore keeps small named records in the token itself (CKO_DATA
// objects). The store writes its latest audit checkpoint there so that an
// older copy of the store file can be recognised at start-up.
type AnchorStore interface {
	// ReadAnchor returns the value stored under name, or ErrKeyNotFound.
	ReadAnchor(ctx context.Context, name string) ([]byte, error)
	// WriteAnchor replaces the value stored under name.
	WriteAnchor(ctx context.Context, name string, value []byte) error
}

// String renders the key reference and public key for logs.
func (k KeyInfo) String() string {
	return fmt.Sprintf("%s %x", k.Ref, k.PublicKey)
}
