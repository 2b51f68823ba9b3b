package pkcs11

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/sigkey"
)

// IdentityLabel is the CKA_LABEL of the signer identity key pair.
const IdentityLabel = "icebox-identity"

// PKCS#11 v3.0 constants missing from miekg/pkcs11 v1.1.2.
const (
	ckkECEdwards           = 0x00000040
	ckmECEdwardsKeyPairGen = 0x00001055
	ckmEdDSA               = 0x00001057
)

// identity is a signing key pair on a token as a sigkey.Signer: the HSM
// identity key, or an officer key opened by URI (OpenOfficerKey). what names
// the key in errors.
type identity struct {
	h    *HSM
	priv p11.ObjectHandle
	pub  sigkey.PublicKey
	what string
}

var _ sigkey.Signer = (*identity)(nil)

func (i *identity) Public() sigkey.PublicKey { return i.pub }

// Sign signs msg on the token: CKM_EDDSA over msg for Ed25519, CKM_ECDSA
// over SHA-256(msg) for P-256. The signature is verified before it is
// returned.
func (i *identity) Sign(msg []byte) ([]byte, error) {
	mech, input := uint(ckmEdDSA), msg
	if i.pub.Algorithm == sigkey.P256 {
		d := sha256.Sum256(msg)
		mech, input = p11.CKM_ECDSA, d[:]
	}
	var sig []byte
	err := i.h.withSession(context.Background(), func(sh p11.SessionHandle) error {
		var err error
		sig, err = i.h.signOnce(sh, mech, i.priv, input)
		return err
	})
	if err != nil {
		return nil, wrap("sign with "+i.what, err)
	}
	if err := i.pub.Verify(msg, sig); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", hsm.ErrBadSignature, i.what, err)
	}
	return sig, nil
}

// Identity returns the existing identity key, hsm.ErrKeyNotFound when there
// is none, or hsm.ErrAmbiguousKey when several carry IdentityLabel.
func (h *HSM) Identity(ctx context.Context) (sigkey.Signer, error) {
	var id *identity
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		var err error
		id, err = h.findIdentity(sh)
		return err
	})
	if err != nil {
		return nil, wrap("identity key on token "+h.label, err)
	}
	return id, nil
}

// EnsureIdentity returns the identity key, generating it first when absent:
// Ed25519 when the token supports EdDSA, otherwise P-256.
func (h *HSM) EnsureIdentity(ctx context.Context) (sigkey.Signer, bool, error) {
	h.idMu.Lock()
	defer h.idMu.Unlock()
	var id *identity
	created := false
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		var err error
		id, err = h.findIdentity(sh)
		if err == nil || !isNotFound(err) {
			return err
		}
		alg, err := h.identityAlgorithm()
		if err != nil {
			return err
		}
		if err := h.generateIdentity(sh, alg); err != nil {
			return err
		}
		created = true
		id, err = h.findIdentity(sh)
		return err
	})
	if err != nil {
		return nil, false, wrap("identity key on token "+h.label, err)
	}
	if created {
		h.log.Info("hsm identity key generated", "algorithm", id.pub.Algorithm.String(), "fingerprint", id.pub.Fingerprint())
	}
	return id, created, nil
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, hsm.ErrKeyNotFound)
}

// identityAlgorithm picks Ed25519 when the token lists both EdDSA
// mechanisms, except in hsm.BackupWrapWithTrusted mode, which always uses
// P-256: some tokens (SoftHSM2 2.6) cannot wrap EdDSA private keys, and a
// backup that cannot carry the identity key would be worthless.
func (h *HSM) identityAlgorithm() (sigkey.Algorithm, error) {
	mechs, err := h.mod.Ctx.GetMechanismList(h.slot)
	if err != nil {
		return sigkey.AlgorithmUnknown, err
	}
	has := map[uint]bool{}
	for _, m := range mechs {
		has[m.Mechanism] = true
	}
	switch {
	case h.cfg.Backup == hsm.BackupWrapWithTrusted && has[p11.CKM_EC_KEY_PAIR_GEN] && has[p11.CKM_ECDSA]:
		return sigkey.P256, nil
	case h.cfg.Backup == hsm.BackupWrapWithTrusted:
		return sigkey.AlgorithmUnknown, fmt.Errorf("%w: backup mode needs ECDSA P-256 for the identity key", hsm.ErrMechanismUnsupported)
	case has[ckmECEdwardsKeyPairGen] && has[ckmEdDSA]:
		return sigkey.Ed25519, nil
	case has[p11.CKM_EC_KEY_PAIR_GEN] && has[p11.CKM_ECDSA]:
		return sigkey.P256, nil
	default:
		return sigkey.AlgorithmUnknown, fmt.Errorf("%w: neither EdDSA nor ECDSA key generation", hsm.ErrMechanismUnsupported)
	}
}

func (h *HSM) generateIdentity(sh p11.SessionHandle, alg sigkey.Algorithm) error {
	id := make([]byte, idLen)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	mech, params := uint(ckmECEdwardsKeyPairGen), oidEd25519
	if alg == sigkey.P256 {
		mech, params = p11.CKM_EC_KEY_PAIR_GEN, oidP256
	}
	pubT := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_VERIFY, true),
		p11.NewAttribute(p11.CKA_EC_PARAMS, params),
		p11.NewAttribute(p11.CKA_LABEL, IdentityLabel),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	privT := append([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_DECRYPT, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
		p11.NewAttribute(p11.CKA_LABEL, IdentityLabel),
		p11.NewAttribute(p11.CKA_ID, id),
	}, h.extractability()...)
	_, _, err := h.mod.Ctx.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, pubT, privT)
	return err
}

// findIdentity locates the identity key pair and decodes its public key.
func (h *HSM) findIdentity(sh p11.SessionHandle) (*identity, error) {
	return h.findKeyPair(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, IdentityLabel)}, fmt.Sprintf("identity key %q", IdentityLabel))
}

// findKeyPair locates the one private key matching match (attributes other
// than CKA_CLASS), then the public key object with the same attributes and
// the private key's CKA_ID, and decodes the public key (Ed25519 or P-256).
// what names the key in errors.
func (h *HSM) findKeyPair(sh p11.SessionHandle, match []*p11.Attribute, what string) (*identity, error) {
	privs, err := h.findAll(sh, append([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}, match...))
	if err != nil {
		return nil, err
	}
	switch len(privs) {
	case 0:
		return nil, fmt.Errorf("%w: no private key for %s", hsm.ErrKeyNotFound, what)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d private keys match %s", hsm.ErrAmbiguousKey, len(privs), what)
	}
	pubT := append([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY)}, match...)
	hasID := false
	for _, a := range match {
		hasID = hasID || a.Type == p11.CKA_ID
	}
	if !hasID {
		a, err := h.attrs(sh, privs[0], p11.CKA_ID)
		if err != nil {
			return nil, err
		}
		pubT = append(pubT, p11.NewAttribute(p11.CKA_ID, a[p11.CKA_ID]))
	}
	pubs, err := h.findAll(sh, pubT)
	if err != nil {
		return nil, err
	}
	if len(pubs) != 1 {
		return nil, fmt.Errorf("%w: %d public key objects for %s (want exactly 1 with the private key's CKA_ID)", hsm.ErrKeyNotFound, len(pubs), what)
	}
	pa, err := h.attrs(sh, pubs[0], p11.CKA_KEY_TYPE, p11.CKA_EC_PARAMS, p11.CKA_EC_POINT)
	if err != nil {
		return nil, err
	}
	pub, err := keyPairPublic(pa, what)
	if err != nil {
		return nil, err
	}
	return &identity{h: h, priv: privs[0], pub: pub, what: what}, nil
}

// keyPairPublic decodes an Ed25519 or P-256 public key object; P-256 keys
// come back compressed, as sigkey wants them.
func keyPairPublic(a map[uint][]byte, what string) (sigkey.PublicKey, error) {
	point, _ := ecPoint(a[p11.CKA_EC_POINT])
	switch keyType := bytesToUint(a[p11.CKA_KEY_TYPE]); keyType {
	case ckkECEdwards:
		if len(point) != 32 {
			return sigkey.PublicKey{}, fmt.Errorf("%w: %s: Ed25519 point has %d bytes, want 32", hsm.ErrMechanismUnsupported, what, len(point))
		}
		pk := sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: append([]byte(nil), point...)}
		return pk, pk.Validate()
	case p11.CKK_EC:
		x, y := elliptic.Unmarshal(elliptic.P256(), point) //nolint:staticcheck // only to validate and compress
		if x == nil {
			return sigkey.PublicKey{}, fmt.Errorf("%w: %s: CKA_EC_POINT is not a P-256 point (only P-256 and Ed25519 keys can sign approvals)", hsm.ErrMechanismUnsupported, what)
		}
		pk := sigkey.PublicKey{Algorithm: sigkey.P256, Key: elliptic.MarshalCompressed(elliptic.P256(), x, y)}
		return pk, pk.Validate()
	default:
		return sigkey.PublicKey{}, fmt.Errorf("%w: %s: unsupported key type 0x%x", hsm.ErrMechanismUnsupported, what, keyType)
	}
}

// bytesToUint decodes a CK_ULONG attribute in host byte order.
func bytesToUint(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}
