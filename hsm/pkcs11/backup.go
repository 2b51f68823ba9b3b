package pkcs11

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/sigkey"
)

// ckmAESKeyWrapPad is CKM_AES_KEY_WRAP_PAD (RFC 5649), missing from miekg v1.1.2.
const ckmAESKeyWrapPad = 0x0000210A

// WrappingKeyLabel is the CKA_LABEL of the ceremony's wrapping key. It is a
// session object: it exists only while the ceremony runs.
const WrappingKeyLabel = "icebox-ceremony-wrapping-key"

var (
	_ hsm.KeyWrapper   = (*HSM)(nil)
	_ hsm.KeyUnwrapper = (*HSM)(nil)
)

// exclusive waits until no pooled session is in use and keeps the pool
// closed to others until release is called: the ceremony logs the user out
// and the security officer in, which affects every session of the
// application.
func (h *HSM) exclusive(ctx context.Context) (release func(), err error) {
	n := cap(h.pool.sem)
	for i := 0; i < n; i++ {
		select {
		case h.pool.sem <- struct{}{}:
		case <-ctx.Done():
			for j := 0; j < i; j++ {
				<-h.pool.sem
			}
			return nil, ctx.Err()
		}
	}
	return func() {
		for i := 0; i < n; i++ {
			<-h.pool.sem
		}
	}, nil
}

// asSO runs fn on the login session with the security officer logged in
// instead of the user, then logs the user back in (reading the user PIN
// again from its source). Handles of private objects are stale afterwards:
// the key cache is dropped. The caller holds exclusive.
func (h *HSM) asSO(fn func(sh p11.SessionHandle) error) (err error) {
	soPIN, err := readSOPIN(h.cfg)
	if err != nil {
		return err
	}
	counter := newFailureCounter(h.cfg.PINFailureFile)
	soKey := h.serial + "/so"
	if n, err := counter.failures(soKey); err != nil {
		return err
	} else if n >= h.cfg.MaxPINFailures {
		return fmt.Errorf("%w: %d consecutive wrong security officer PINs for token %s (limit %d); see %s",
			hsm.ErrPINLocked, n, h.cfg.tokenName(), h.cfg.MaxPINFailures, h.cfg.PINFailureFile)
	}
	ctx, sh := h.mod.Ctx, h.loginSession
	if err := ctx.Logout(sh); err != nil {
		return wrap("log the user out for the security officer", err)
	}
	h.keysMu.Lock()
	h.keys = map[string]*cachedKey{}
	h.keysMu.Unlock()
	defer func() {
		if rerr := h.reloginUser(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if lerr := ctx.Login(sh, p11.CKU_SO, soPIN); lerr != nil {
		if code, _ := ckrCode(lerr); code == p11.CKR_PIN_INCORRECT {
			count, cerr := counter.record(soKey, false)
			h.log.Warn("hsm security officer login failed: wrong PIN", "token", h.label, "failures", count)
			return errors.Join(fmt.Errorf("%w: token %s: %w", hsm.ErrSOPINIncorrect, h.cfg.tokenName(), lerr), cerr)
		}
		return wrap("security officer login to token "+h.cfg.tokenName(), lerr)
	}
	if _, err := counter.record(soKey, true); err != nil {
		_ = ctx.Logout(sh)
		return err
	}
	h.log.Info("hsm security officer logged in for a key ceremony", "token", h.label)
	ferr := fn(sh)
	if err := ctx.Logout(sh); err != nil {
		return errors.Join(ferr, wrap("security officer logout", err))
	}
	return ferr
}

// reloginUser logs the user back in on the login session.
func (h *HSM) reloginUser() error {
	pin, err := readPIN(h.cfg)
	if err != nil {
		return fmt.Errorf("log the user back in after the security officer: %w", err)
	}
	if err := h.mod.Ctx.Login(h.loginSession, p11.CKU_USER, pin); err != nil {
		return wrap("log the user back in to token "+h.cfg.tokenName(), err)
	}
	return nil
}

// importTrustedKey creates the wrapping key as a CKA_TRUSTED public session
// object (the SO may create only public objects; a session object vanishes
// with the session even if the process dies). use is CKA_WRAP or CKA_UNWRAP.
func (h *HSM) importTrustedKey(sh p11.SessionHandle, key *hsm.WrappingKey, use uint) (p11.ObjectHandle, error) {
	id := make([]byte, idLen)
	if _, err := rand.Read(id); err != nil {
		return 0, err
	}
	value := make([]byte, len(key))
	copy(value, key[:])
	defer wipeBytes(value)
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_TRUSTED, true),
		p11.NewAttribute(p11.CKA_WRAP, use == p11.CKA_WRAP),
		p11.NewAttribute(p11.CKA_UNWRAP, use == p11.CKA_UNWRAP),
		p11.NewAttribute(p11.CKA_ENCRYPT, false),
		p11.NewAttribute(p11.CKA_DECRYPT, false),
		p11.NewAttribute(p11.CKA_SIGN, false),
		p11.NewAttribute(p11.CKA_VERIFY, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
		p11.NewAttribute(p11.CKA_VALUE, value),
		p11.NewAttribute(p11.CKA_LABEL, WrappingKeyLabel),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	o, err := h.mod.Ctx.CreateObject(sh, tmpl)
	if err != nil {
		return 0, wrap("create the trusted wrapping key", err)
	}
	return o, nil
}

func wipeBytes(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// wrapTarget is one private key to wrap.
type wrapTarget struct {
	key         hsm.WrappedKey
	priv        p11.ObjectHandle
	extractable bool
}

// findTargets lists every secp256k1 signing key and the identity key on sh
// with their public keys.
func (h *HSM) findTargets(sh p11.SessionHandle) ([]wrapTarget, error) {
	privs, err := h.findAll(sh, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
		p11.NewAttribute(p11.CKA_EC_PARAMS, oidSecp256k1),
	})
	if err != nil {
		return nil, wrap("find signing keys", err)
	}
	var out []wrapTarget
	for _, o := range privs {
		a, err := h.attrs(sh, o, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_EXTRACTABLE)
		if err != nil {
			return nil, wrap("read signing key", err)
		}
		ref := hsm.KeyRef{Label: string(a[p11.CKA_LABEL]), ID: a[p11.CKA_ID]}
		pubs, err := h.findAll(sh, refTemplate(p11.CKO_PUBLIC_KEY, ref))
		if err != nil {
			return nil, wrap("find public key of "+ref.String(), err)
		}
		if len(pubs) != 1 {
			return nil, fmt.Errorf("%w: %s has %d public key objects, want 1", hsm.ErrKeyNotFound, ref, len(pubs))
		}
		pa, err := h.attrs(sh, pubs[0], p11.CKA_EC_POINT)
		if err != nil {
			return nil, wrap("read public key of "+ref.String(), err)
		}
		pub, err := parseSecp256k1Point(pa[p11.CKA_EC_POINT])
		if err != nil {
			return nil, fmt.Errorf("public key of %s: %w", ref, err)
		}
		out = append(out, wrapTarget{
			key:         hsm.WrappedKey{Role: hsm.RoleSigning, Ref: ref, Curve: hsm.CurveSecp256k1, PublicKey: pub.SerializeCompressed()},
			priv:        o,
			extractable: isTrue(a[p11.CKA_EXTRACTABLE]),
		})
	}
	id, err := h.findIdentity(sh)
	if err != nil {
		return nil, wrap("identity key", err)
	}
	a, err := h.attrs(sh, id.priv, p11.CKA_ID, p11.CKA_EXTRACTABLE)
	if err != nil {
		return nil, wrap("read identity key", err)
	}
	curve := hsm.CurveEd25519
	if id.pub.Algorithm == sigkey.P256 {
		curve = hsm.CurveP256
	}
	out = append(out, wrapTarget{
		key: hsm.WrappedKey{Role: hsm.RoleIdentity, Ref: hsm.KeyRef{Label: IdentityLabel, ID: a[p11.CKA_ID]},
			Curve: curve, PublicKey: append([]byte(nil), id.pub.Key...)},
		priv:        id.priv,
		extractable: isTrue(a[p11.CKA_EXTRACTABLE]),
	})
	return out, nil
}

func isTrue(v []byte) bool { return len(v) > 0 && v[0] != 0 }

// WrapAll wraps every signing key and the identity key under req.Key with
// CKM_AES_KEY_WRAP_PAD. It first checks, as the user, that every key is
// extractable (hsm.ErrNotWrappable naming the first that is not — nothing
// is asked of the security officer then); then the security officer imports
// req.Key as a trusted session key, the user wraps each key (the token
// enforces CKA_WRAP_WITH_TRUSTED), and the wrapping key is destroyed.
func (h *HSM) WrapAll(ctx context.Context, req hsm.WrapRequest) ([]hsm.WrappedKey, error) {
	if req.Key == nil || req.Key.IsZero() {
		return nil, fmt.Errorf("wrap keys: no wrapping key")
	}
	release, err := h.exclusive(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sh := h.loginSession
	before, err := h.findTargets(sh)
	if err != nil {
		return nil, err
	}
	for _, t := range before {
		if !t.extractable {
			return nil, fmt.Errorf("%w: %s %s on token %q is CKA_EXTRACTABLE=false (generated without hsm.backup: wrap-with-trusted); it can never leave this token",
				hsm.ErrNotWrappable, t.key.Role, t.key.Ref, h.label)
		}
	}
	var wk p11.ObjectHandle
	if err := h.asSO(func(sh p11.SessionHandle) error {
		var err error
		wk, err = h.importTrustedKey(sh, req.Key, p11.CKA_WRAP)
		return err
	}); err != nil {
		return nil, err
	}
	defer h.destroy(sh, wk, "wrapping key")
	targets, err := h.findTargets(sh) // handles changed with the logins
	if err != nil {
		return nil, err
	}
	if len(targets) != len(before) {
		return nil, fmt.Errorf("wrap keys: the token's keys changed during the ceremony (%d, then %d)", len(before), len(targets))
	}
	mech := []*p11.Mechanism{p11.NewMechanism(ckmAESKeyWrapPad, nil)}
	out := make([]hsm.WrappedKey, 0, len(targets))
	for _, t := range targets {
		w, err := h.mod.Ctx.WrapKey(sh, mech, wk, t.priv)
		if err != nil {
			if code, _ := ckrCode(err); code == p11.CKR_KEY_NOT_WRAPPABLE || code == p11.CKR_KEY_UNEXTRACTABLE {
				return nil, fmt.Errorf("%w: %s %s (%s): the module refuses to wrap it: %w", hsm.ErrNotWrappable, t.key.Role, t.key.Ref, t.key.Curve, err)
			}
			return nil, wrap("wrap "+t.key.Ref.String(), err)
		}
		if len(w) == 0 {
			return nil, fmt.Errorf("wrap %s: the module returned nothing", t.key.Ref)
		}
		k := t.key
		k.Wrapped = w
		out = append(out, k)
	}
	h.log.Info("hsm keys wrapped for backup", "token", h.label, "keys", len(out))
	return out, nil
}

func (h *HSM) destroy(sh p11.SessionHandle, o p11.ObjectHandle, what string) {
	if err := h.mod.Ctx.DestroyObject(sh, o); err != nil {
		h.log.Error("hsm: destroy object failed", "object", what, "err", err)
	}
}

// ecPointDER is CKA_EC_POINT: a DER OCTET STRING around the point.
func ecPointDER(point []byte) []byte {
	return append([]byte{0x04, byte(len(point))}, point...)
}

// restoreParams returns key type, curve OID and uncompressed point of k.
func restoreParams(k hsm.WrappedKey) (keyType uint, oid, point []byte, err error) {
	switch k.Curve {
	case hsm.CurveSecp256k1:
		pub, err := secp256k1.ParsePubKey(k.PublicKey)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("public key of %s: %w", k.Ref, err)
		}
		return p11.CKK_EC, oidSecp256k1, pub.SerializeUncompressed(), nil
	case hsm.CurveP256:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), k.PublicKey)
		if x == nil {
			return 0, nil, nil, fmt.Errorf("public key of %s is not a compressed P-256 point", k.Ref)
		}
		return p11.CKK_EC, oidP256, elliptic.Marshal(elliptic.P256(), x, y), nil //nolint:staticcheck // encoding a validated point
	case hsm.CurveEd25519:
		if len(k.PublicKey) != 32 {
			return 0, nil, nil, fmt.Errorf("public key of %s: %d bytes, want 32", k.Ref, len(k.PublicKey))
		}
		return ckkECEdwards, oidEd25519, k.PublicKey, nil
	}
	return 0, nil, nil, fmt.Errorf("key %s: unsupported curve %s", k.Ref, k.Curve)
}

// UnwrapAll re-creates req.Keys in an empty token: it refuses a token that
// holds any object (hsm.ErrTokenNotEmpty), has the security officer import
// req.Key as a trusted session unwrapping key, unwraps each private key as
// CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE=false, signing
// only, creates its public key object, and proves each pair by signing a
// random challenge that must verify against the recorded public key. On
// any failure every object it created is destroyed.
func (h *HSM) UnwrapAll(ctx context.Context, req hsm.UnwrapRequest) (_ []hsm.KeyInfo, err error) {
	if req.Key == nil || req.Key.IsZero() {
		return nil, fmt.Errorf("unwrap keys: no wrapping key")
	}
	if len(req.Keys) == 0 {
		return nil, fmt.Errorf("unwrap keys: nothing to restore")
	}
	for _, k := range req.Keys {
		if len(k.Wrapped) == 0 || k.Ref.Label == "" || len(k.Ref.ID) == 0 {
			return nil, fmt.Errorf("unwrap keys: key %s lacks wrapped bytes, label or id", k.Ref)
		}
		if _, _, _, err := restoreParams(k); err != nil {
			return nil, fmt.Errorf("unwrap keys: %w", err)
		}
	}
	release, err := h.exclusive(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sh := h.loginSession
	existing, err := h.findAll(sh, nil)
	if err != nil {
		return nil, wrap("list objects on token "+h.label, err)
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("%w: token %q holds %d objects; restore only into a freshly initialised token", hsm.ErrTokenNotEmpty, h.label, len(existing))
	}
	var uk p11.ObjectHandle
	if err := h.asSO(func(sh p11.SessionHandle) error {
		var err error
		uk, err = h.importTrustedKey(sh, req.Key, p11.CKA_UNWRAP)
		return err
	}); err != nil {
		return nil, err
	}
	defer h.destroy(sh, uk, "unwrapping key")
	var created []p11.ObjectHandle
	defer func() {
		if err != nil {
			for _, o := range created {
				h.destroy(sh, o, "restored object (rollback)")
			}
			h.log.Warn("hsm restore rolled back", "token", h.label, "objects_destroyed", len(created))
		}
	}()
	mech := []*p11.Mechanism{p11.NewMechanism(ckmAESKeyWrapPad, nil)}
	var out []hsm.KeyInfo
	for _, k := range req.Keys {
		keyType, oid, point, _ := restoreParams(k)
		priv, err := h.mod.Ctx.UnwrapKey(sh, mech, uk, k.Wrapped, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, keyType),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_DECRYPT, false),
			p11.NewAttribute(p11.CKA_UNWRAP, false),
			p11.NewAttribute(p11.CKA_DERIVE, false),
			p11.NewAttribute(p11.CKA_LABEL, k.Ref.Label),
			p11.NewAttribute(p11.CKA_ID, k.Ref.ID),
		})
		if err != nil {
			return nil, wrap("unwrap "+k.Ref.String(), err)
		}
		created = append(created, priv)
		a, err := h.attrs(sh, priv, p11.CKA_EC_PARAMS)
		if err != nil {
			return nil, wrap("read restored "+k.Ref.String(), err)
		}
		if !bytes.Equal(a[p11.CKA_EC_PARAMS], oid) {
			return nil, fmt.Errorf("%w: restored %s is not a %s key", hsm.ErrBadSignature, k.Ref, k.Curve)
		}
		pub, err := h.mod.Ctx.CreateObject(sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, keyType),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, oid),
			p11.NewAttribute(p11.CKA_EC_POINT, ecPointDER(point)),
			p11.NewAttribute(p11.CKA_LABEL, k.Ref.Label),
			p11.NewAttribute(p11.CKA_ID, k.Ref.ID),
		})
		if err != nil {
			return nil, wrap("create public key of "+k.Ref.String(), err)
		}
		created = append(created, pub)
		if err := h.proveRestored(sh, priv, k); err != nil {
			return nil, err
		}
		if k.Role == hsm.RoleSigning {
			out = append(out, hsm.KeyInfo{Ref: k.Ref, PublicKey: append([]byte(nil), k.PublicKey...)})
		}
	}
	h.log.Info("hsm keys restored from backup", "token", h.label, "keys", len(req.Keys))
	return out, nil
}

// proveRestored signs a random challenge with the restored private key and
// verifies it against the recorded public key.
func (h *HSM) proveRestored(sh p11.SessionHandle, priv p11.ObjectHandle, k hsm.WrappedKey) error {
	var challenge [32]byte
	if _, err := rand.Read(challenge[:]); err != nil {
		return err
	}
	switch k.Curve {
	case hsm.CurveSecp256k1:
		raw, err := h.signOnce(sh, p11.CKM_ECDSA, priv, challenge[:])
		if err != nil {
			return wrap("test signature of restored "+k.Ref.String(), err)
		}
		pub, _ := secp256k1.ParsePubKey(k.PublicKey)
		_, err = normalise(raw, pub, challenge, k.Ref)
		return err
	case hsm.CurveP256, hsm.CurveEd25519:
		pk := sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: k.PublicKey}
		mech, input := uint(ckmEdDSA), challenge[:]
		if k.Curve == hsm.CurveP256 {
			d := sha256.Sum256(challenge[:])
			pk.Algorithm, mech, input = sigkey.P256, p11.CKM_ECDSA, d[:]
		}
		sig, err := h.signOnce(sh, mech, priv, input)
		if err != nil {
			return wrap("test signature of restored "+k.Ref.String(), err)
		}
		if err := pk.Verify(challenge[:], sig); err != nil {
			return fmt.Errorf("%w: restored %s does not sign for its recorded public key: %v", hsm.ErrBadSignature, k.Ref, err)
		}
		return nil
	}
	return fmt.Errorf("key %s: unsupported curve %s", k.Ref, k.Curve)
}
