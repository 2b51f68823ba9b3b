package hsm

import (
	"context"
	"crypto/subtle"
	"fmt"
)

// BackupMode says how new keys are generated with respect to backup. It is
// chosen once, when the signer is set up (iceboxd config hsm.backup), and
// applies to every key generated afterwards: a key's extractability can
// never be raised later.
type BackupMode string

const (
	// BackupNone (the default, also the zero value) generates every key
	// CKA_SENSITIVE, CKA_EXTRACTABLE=false (hence CKA_NEVER_EXTRACTABLE):
	// the key can never leave the token, not even wrapped. Losing the token
	// loses the key.
	BackupNone BackupMode = ""
	// BackupWrapWithTrusted generates every key CKA_SENSITIVE,
	// CKA_EXTRACTABLE=true and CKA_WRAP_WITH_TRUSTED=true: the token lets it
	// out only encrypted under a wrapping key marked CKA_TRUSTED, which only
	// the security officer can create. The identity key is P-256 in this
	// mode (tokens that cannot wrap EdDSA keys exist: SoftHSM2 2.6).
	BackupWrapWithTrusted BackupMode = "wrap-with-trusted"
)

// ParseBackupMode accepts "", "none" and "wrap-with-trusted".
func ParseBackupMode(s string) (BackupMode, error) {
	switch s {
	case "", "none":
		return BackupNone, nil
	case string(BackupWrapWithTrusted):
		return BackupWrapWithTrusted, nil
	}
	return BackupNone, fmt.Errorf("backup mode %q: want none or wrap-with-trusted", s)
}

// String returns "none" or "wrap-with-trusted".
func (m BackupMode) String() string {
	if m == BackupNone {
		return "none"
	}
	return string(m)
}

// WrappingKeySize is the size of the AES-256 wrapping key.
const WrappingKeySize = 32

// WrappingKey is the value of the AES-256 key that wraps keys for a backup.
// It exists in host memory only during a ceremony (generated and split, or
// recombined from shares); Wipe it as soon as it has been imported. It never
// prints its bytes.
type WrappingKey [WrappingKeySize]byte

// Wipe overwrites the key with zeros.
func (k *WrappingKey) Wipe() {
	for i := range k {
		k[i] = 0
	}
}

// IsZero reports whether the key is all zeros (wiped or never set), in
// constant time.
func (k *WrappingKey) IsZero() bool {
	var zero WrappingKey
	return subtle.ConstantTimeCompare(k[:], zero[:]) == 1
}

// String hides the value.
func (k *WrappingKey) String() string { return "[wrapping key]" }

// GoString hides the value.
func (k *WrappingKey) GoString() string { return "[wrapping key]" }

// KeyRole tells a chain signing key from the signer identity key.
type KeyRole string

const (
	// RoleSigning is a secp256k1 chain signing key.
	RoleSigning KeyRole = "signing"
	// RoleIdentity is the signer identity key.
	RoleIdentity KeyRole = "identity"
)

// WrappedKey is one private key encrypted under the wrapping key with
// CKM_AES_KEY_WRAP_PAD (RFC 5649) inside the HSM, with what is needed to
// re-create the key pair on another token.
type WrappedKey struct {
	Role  KeyRole
	Ref   KeyRef
	Curve Curve
	// PublicKey: 33-byte compressed secp256k1 or P-256 point, or the 32-byte
	// Ed25519 key.
	PublicKey []byte
	// Wrapped is the token's C_WrapKey output.
	Wrapped []byte
}

// WrapRequest asks for every signing key and the identity key to be
// wrapped under Key.
type WrapRequest struct {
	// Key is imported into the token as a CKA_TRUSTED session key (this
	// needs the security officer) and destroyed afterwards. The caller
	// keeps ownership and wipes it.
	Key *WrappingKey
}

// KeyWrapper wraps keys for backup. Implementations need the security
// officer PIN to mark the wrapping key trusted.
type KeyWrapper interface {
	// WrapAll wraps every signing key and the identity key. It fails with
	// ErrNotWrappable (naming the key) when any key cannot leave the token
	// — e.g. it was generated in BackupNone mode — and then returns nothing.
	WrapAll(ctx context.Context, req WrapRequest) ([]WrappedKey, error)
}

// UnwrapRequest asks for Keys to be re-created in the token.
type UnwrapRequest struct {
	// Key is imported as a trusted session unwrapping key and destroyed
	// afterwards. The caller wipes it.
	Key  *WrappingKey
	Keys []WrappedKey
}

// KeyUnwrapper re-creates wrapped keys inside a token.
type KeyUnwrapper interface {
	// UnwrapAll requires a token holding no keys (ErrTokenNotEmpty), unwraps
	// every key as CKA_SENSITIVE, CKA_EXTRACTABLE=false, creates its public
	// key object, and checks that each restored private key signs for the
	// recorded public key. On any failure it destroys every object it
	// created and returns the error: the token is left as it was.
	UnwrapAll(ctx context.Context, req UnwrapRequest) ([]KeyInfo, error)
}
