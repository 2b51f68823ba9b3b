package pkcs11

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sort"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	decdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
)

// DER encodings of the curve OIDs used as CKA_EC_PARAMS.
var (
	oidSecp256k1 = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}                   // 1.3.132.0.10
	oidP256      = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07} // 1.2.840.10045.3.1.7
	oidEd25519   = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}                               // 1.3.101.112
)

// idLen is the length of the random CKA_ID of generated keys.
const idLen = 16

type cachedKey struct {
	priv p11.ObjectHandle
	pub  *secp256k1.PublicKey
}

// findAll returns every object matching tmpl.
func (h *HSM) findAll(sh p11.SessionHandle, tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	ctx := h.mod.Ctx
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var all []p11.ObjectHandle
	for {
		objs, _, err := ctx.FindObjects(sh, 64)
		if err != nil {
			_ = ctx.FindObjectsFinal(sh)
			return nil, err
		}
		all = append(all, objs...)
		if len(objs) < 64 {
			break
		}
	}
	return all, ctx.FindObjectsFinal(sh)
}

func (h *HSM) attrs(sh p11.SessionHandle, o p11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*p11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = p11.NewAttribute(t, nil)
	}
	got, err := h.mod.Ctx.GetAttributeValue(sh, o, tmpl)
	if err != nil {
		return nil, err
	}
	out := make(map[uint][]byte, len(got))
	for _, a := range got {
		out[a.Type] = a.Value
	}
	return out, nil
}

func refTemplate(class uint, ref hsm.KeyRef) []*p11.Attribute {
	t := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
	}
	if len(ref.ID) > 0 {
		t = append(t, p11.NewAttribute(p11.CKA_ID, ref.ID))
	}
	if ref.Label != "" {
		t = append(t, p11.NewAttribute(p11.CKA_LABEL, ref.Label))
	}
	return t
}

// lookup resolves ref to a private key handle and its public key, using
// the cache when possible.
func (h *HSM) lookup(sh p11.SessionHandle, ref hsm.KeyRef) (*cachedKey, error) {
	if ref.Label == "" && len(ref.ID) == 0 {
		return nil, fmt.Errorf("%w: empty key reference", hsm.ErrKeyNotFound)
	}
	cacheKey := ref.String()
	h.keysMu.Lock()
	k := h.keys[cacheKey]
	h.keysMu.Unlock()
	if k != nil {
		return k, nil
	}
	privs, err := h.findAll(sh, refTemplate(p11.CKO_PRIVATE_KEY, ref))
	if err != nil {
		return nil, wrap("find key "+ref.String(), err)
	}
	switch len(privs) {
	case 0:
		return nil, fmt.Errorf("%w: %s on token %q", hsm.ErrKeyNotFound, ref, h.label)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %s matches %d private keys on token %q", hsm.ErrAmbiguousKey, ref, len(privs), h.label)
	}
	a, err := h.attrs(sh, privs[0], p11.CKA_ID, p11.CKA_LABEL, p11.CKA_EC_PARAMS)
	if err != nil {
		return nil, wrap("read key "+ref.String(), err)
	}
	if !bytes.Equal(a[p11.CKA_EC_PARAMS], oidSecp256k1) {
		return nil, fmt.Errorf("%w: %s is not a secp256k1 key", hsm.ErrKeyNotFound, ref)
	}
	if len(a[p11.CKA_ID]) == 0 {
		return nil, fmt.Errorf("%w: %s has no CKA_ID, cannot find its public key", hsm.ErrKeyNotFound, ref)
	}
	full := hsm.KeyRef{Label: string(a[p11.CKA_LABEL]), ID: a[p11.CKA_ID]}
	pubs, err := h.findAll(sh, refTemplate(p11.CKO_PUBLIC_KEY, full))
	if err != nil {
		return nil, wrap("find public key "+full.String(), err)
	}
	switch len(pubs) {
	case 0:
		return nil, fmt.Errorf("%w: public key of %s", hsm.ErrKeyNotFound, full)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %s matches %d public keys", hsm.ErrAmbiguousKey, full, len(pubs))
	}
	pa, err := h.attrs(sh, pubs[0], p11.CKA_EC_POINT)
	if err != nil {
		return nil, wrap("read public key "+full.String(), err)
	}
	pub, err := parseSecp256k1Point(pa[p11.CKA_EC_POINT])
	if err != nil {
		return nil, fmt.Errorf("public key of %s: %w", full, err)
	}
	k = &cachedKey{priv: privs[0], pub: pub}
	h.keysMu.Lock()
	h.keys[cacheKey] = k
	h.keysMu.Unlock()
	return k, nil
}

func (h *HSM) forget(ref hsm.KeyRef) {
	h.keysMu.Lock()
	delete(h.keys, ref.String())
	h.keysMu.Unlock()
}

// PublicKey returns the 33-byte compressed public key of ref.
func (h *HSM) PublicKey(ctx context.Context, ref hsm.KeyRef) ([]byte, error) {
	var out []byte
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		k, err := h.lookup(sh, ref)
		if err != nil {
			return err
		}
		out = k.pub.SerializeCompressed()
		return nil
	})
	return out, err
}

// SignDigest signs digest with CKM_ECDSA, normalises to low-S and verifies
// the signature against ref's public key before returning it.
func (h *HSM) SignDigest(ctx context.Context, ref hsm.KeyRef, digest hsm.Digest) (hsm.Signature, error) {
	raw, pub, err := h.signRaw(ctx, ref, digest)
	if err != nil {
		return hsm.Signature{}, err
	}
	return normalise(raw, pub, digest, ref)
}

// SignDigestUnverified signs like SignDigest and normalises to low-S but
// does not verify (hsm.UnverifiedSigner): the caller verifies.
func (h *HSM) SignDigestUnverified(ctx context.Context, ref hsm.KeyRef, digest hsm.Digest) (hsm.Signature, error) {
	raw, _, err := h.signRaw(ctx, ref, digest)
	if err != nil {
		return hsm.Signature{}, err
	}
	var r, s secp256k1.ModNScalar
	if err := lowS(raw, &r, &s, ref); err != nil {
		return hsm.Signature{}, err
	}
	var sig hsm.Signature
	r.PutBytes(&sig.R)
	s.PutBytes(&sig.S)
	return sig, nil
}

// signRaw returns the token's raw r||s and the key's public key.
func (h *HSM) signRaw(ctx context.Context, ref hsm.KeyRef, digest hsm.Digest) ([]byte, *secp256k1.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var raw []byte
	var pub *secp256k1.PublicKey
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		for attempt := 0; ; attempt++ {
			k, err := h.lookup(sh, ref)
			if err != nil {
				return err
			}
			raw, err = h.signOnce(sh, p11.CKM_ECDSA, k.priv, digest[:])
			if err != nil && handleInvalid(err) && attempt == 0 {
				h.forget(ref) // stale handle: look the key up again once
				continue
			}
			pub = k.pub
			return err
		}
	})
	if err != nil {
		return nil, nil, wrap("sign with "+ref.String(), err)
	}
	return raw, pub, nil
}

func (h *HSM) signOnce(sh p11.SessionHandle, mech uint, key p11.ObjectHandle, msg []byte) ([]byte, error) {
	ctx := h.mod.Ctx
	if err := ctx.SignInit(sh, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, key); err != nil {
		return nil, err
	}
	return ctx.Sign(sh, msg)
}

// normalise turns the token's raw r||s into a verified low-S hsm.Signature.
func normalise(raw []byte, pub *secp256k1.PublicKey, digest hsm.Digest, ref hsm.KeyRef) (hsm.Signature, error) {
	var r, s secp256k1.ModNScalar
	if err := lowS(raw, &r, &s, ref); err != nil {
		return hsm.Signature{}, err
	}
	if !decdsa.NewSignature(&r, &s).Verify(digest[:], pub) {
		return hsm.Signature{}, fmt.Errorf("%w: %s: signature does not verify", hsm.ErrBadSignature, ref)
	}
	var sig hsm.Signature
	r.PutBytes(&sig.R)
	s.PutBytes(&sig.S)
	return sig, nil
}

// lowS parses the token's raw r||s into r and s, refusing values out of
// range, and negates a high s.
func lowS(raw []byte, r, s *secp256k1.ModNScalar, ref hsm.KeyRef) error {
	if len(raw) != 64 {
		return fmt.Errorf("%w: %s: %d bytes, want 64 (r||s)", hsm.ErrBadSignature, ref, len(raw))
	}
	if overflow := r.SetByteSlice(raw[:32]); overflow || r.IsZero() {
		return fmt.Errorf("%w: %s: r out of range", hsm.ErrBadSignature, ref)
	}
	if overflow := s.SetByteSlice(raw[32:]); overflow || s.IsZero() {
		return fmt.Errorf("%w: %s: s out of range", hsm.ErrBadSignature, ref)
	}
	if s.IsOverHalfOrder() {
		s.Negate()
	}
	return nil
}

// GenerateKey creates a secp256k1 key pair on the token: CKA_TOKEN,
// CKA_PRIVATE, CKA_SENSITIVE, signing only, not CKA_EXTRACTABLE (or, in
// hsm.BackupWrapWithTrusted mode, CKA_EXTRACTABLE with
// CKA_WRAP_WITH_TRUSTED: see extractability), with
// req.Label and a random 16-byte CKA_ID. A label already carried by a key
// is refused with hsm.ErrLabelInUse.
func (h *HSM) GenerateKey(ctx context.Context, req hsm.GenerateKeyRequest) (hsm.KeyInfo, error) {
	if req.Label == "" {
		return hsm.KeyInfo{}, fmt.Errorf("generate key: label is empty")
	}
	if req.Label == IdentityLabel {
		return hsm.KeyInfo{}, fmt.Errorf("generate key: %w: %q is reserved for the identity key", hsm.ErrLabelInUse, req.Label)
	}
	id := make([]byte, idLen)
	if _, err := rand.Read(id); err != nil {
		return hsm.KeyInfo{}, fmt.Errorf("generate key %q: random id: %w", req.Label, err)
	}
	ref := hsm.KeyRef{Label: req.Label, ID: id}
	var info hsm.KeyInfo
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		existing, err := h.findAll(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, req.Label)})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return fmt.Errorf("%w: %q", hsm.ErrLabelInUse, req.Label)
		}
		pubT := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, oidSecp256k1),
			p11.NewAttribute(p11.CKA_LABEL, req.Label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		privT := append([]*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_DERIVE, false),
			p11.NewAttribute(p11.CKA_DECRYPT, false),
			p11.NewAttribute(p11.CKA_UNWRAP, false),
			p11.NewAttribute(p11.CKA_LABEL, req.Label),
			p11.NewAttribute(p11.CKA_ID, id),
		}, h.extractability()...)
		_, _, err = h.mod.Ctx.GenerateKeyPair(sh,
			[]*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
		if err != nil {
			return err
		}
		k, err := h.lookup(sh, ref)
		if err != nil {
			return err
		}
		info = hsm.KeyInfo{Ref: ref, PublicKey: k.pub.SerializeCompressed()}
		return nil
	})
	if err != nil {
		return hsm.KeyInfo{}, wrap("generate secp256k1 key "+req.Label, err)
	}
	h.log.Info("hsm key generated", "key", ref.String())
	return info, nil
}

// ListKeys returns every secp256k1 signing key (a private key with a
// matching public key) sorted by label, then ID. The identity key is not
// listed.
func (h *HSM) ListKeys(ctx context.Context) ([]hsm.KeyInfo, error) {
	var out []hsm.KeyInfo
	err := h.withSession(ctx, func(sh p11.SessionHandle) error {
		pubs, err := h.findAll(sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, oidSecp256k1),
		})
		if err != nil {
			return err
		}
		points := map[string][]byte{}
		for _, o := range pubs {
			a, err := h.attrs(sh, o, p11.CKA_ID, p11.CKA_LABEL, p11.CKA_EC_POINT)
			if err != nil {
				return err
			}
			points[string(a[p11.CKA_ID])+"\x00"+string(a[p11.CKA_LABEL])] = a[p11.CKA_EC_POINT]
		}
		privs, err := h.findAll(sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, oidSecp256k1),
		})
		if err != nil {
			return err
		}
		for _, o := range privs {
			a, err := h.attrs(sh, o, p11.CKA_ID, p11.CKA_LABEL)
			if err != nil {
				return err
			}
			ref := hsm.KeyRef{Label: string(a[p11.CKA_LABEL]), ID: a[p11.CKA_ID]}
			pt, ok := points[string(ref.ID)+"\x00"+ref.Label]
			if !ok {
				h.log.Warn("hsm private key without public key object; not listed", "key", ref.String())
				continue
			}
			pub, err := parseSecp256k1Point(pt)
			if err != nil {
				return fmt.Errorf("public key of %s: %w", ref, err)
			}
			out = append(out, hsm.KeyInfo{Ref: ref, PublicKey: pub.SerializeCompressed()})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list keys on token "+h.label, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ref.Label != out[j].Ref.Label {
			return out[i].Ref.Label < out[j].Ref.Label
		}
		return bytes.Compare(out[i].Ref.ID, out[j].Ref.ID) < 0
	})
	return out, nil
}

// ecPoint unwraps CKA_EC_POINT: a DER OCTET STRING around the point (some
// modules return the bare point; both are accepted).
func ecPoint(v []byte) ([]byte, error) {
	if len(v) >= 2 && v[0] == 0x04 {
		n, hdr := int(v[1]), 2
		if v[1] == 0x81 && len(v) >= 3 {
			n, hdr = int(v[2]), 3
		}
		if v[1] < 0x80 || v[1] == 0x81 {
			if hdr+n == len(v) {
				return v[hdr:], nil
			}
		}
	}
	return v, nil
}

func parseSecp256k1Point(v []byte) (*secp256k1.PublicKey, error) {
	pt, _ := ecPoint(v)
	pub, err := secp256k1.ParsePubKey(pt)
	if err != nil {
		// A module that returns the bare point may look like DER by chance.
		if pub2, err2 := secp256k1.ParsePubKey(v); err2 == nil {
			return pub2, nil
		}
		return nil, fmt.Errorf("CKA_EC_POINT is not a secp256k1 point: %w", err)
	}
	return pub, nil
}

// extractability returns the private-key attributes of the backup mode:
// CKA_EXTRACTABLE=false by default (the token sets CKA_NEVER_EXTRACTABLE);
// in hsm.BackupWrapWithTrusted mode CKA_EXTRACTABLE=true together with
// CKA_WRAP_WITH_TRUSTED=true, so that only a CKA_TRUSTED wrapping key (made
// by the security officer) can ever take the key out, encrypted. Both
// attributes are one-way: the key can later be made non-extractable, never
// the reverse, and CKA_WRAP_WITH_TRUSTED can never be cleared.
func (h *HSM) extractability() []*p11.Attribute {
	if h.cfg.Backup == hsm.BackupWrapWithTrusted {
		return []*p11.Attribute{
			p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
			p11.NewAttribute(p11.CKA_WRAP_WITH_TRUSTED, true),
		}
	}
	return []*p11.Attribute{p11.NewAttribute(p11.CKA_EXTRACTABLE, false)}
}
