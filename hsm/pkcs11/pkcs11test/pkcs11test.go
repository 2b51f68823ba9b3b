// Package pkcs11test is TEST-ONLY: it imports known private keys into a
// SoftHSM2 token with C_CreateObject so that tests can reproduce published
// vectors (BIP-143, EIP-155, ...). Icebox never imports a key in production,
// and no production package may import this one; its functions take a
// testing.TB to make that hard to get wrong.
//
// It shares hsm/pkcs11's process-wide module registry, so it works both
// before and while an *pkcs11.HSM is open on the same token.
package pkcs11test

import (
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11/internal/module"
)

// Token names the token to import into.
type Token struct {
	ModulePath string
	Label      string
	UserPIN    string
}

// ImportSecp256k1 creates a private key object (CKA_VALUE = priv, sensitive,
// not extractable, signing) and its public key object with ref's label and
// ID on the token. priv must be 32 bytes. It fails the test on any error.
func ImportSecp256k1(t testing.TB, tok Token, ref hsm.KeyRef, priv []byte) {
	t.Helper()
	if len(priv) != 32 || len(ref.ID) == 0 || ref.Label == "" {
		t.Fatalf("pkcs11test: need a 32-byte key, a label and an ID (got %d bytes, %q)", len(priv), ref)
	}
	pub := secp256k1.PrivKeyFromBytes(priv).PubKey().SerializeUncompressed()
	ecPoint := append([]byte{0x04, byte(len(pub))}, pub...) // DER OCTET STRING
	params := []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}

	withLogin(t, tok, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		privT := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_VALUE, priv),
			p11.NewAttribute(p11.CKA_LABEL, ref.Label),
			p11.NewAttribute(p11.CKA_ID, ref.ID),
		}
		if _, err := ctx.CreateObject(sh, privT); err != nil {
			t.Fatalf("pkcs11test: create private key %s: %v", ref, err)
		}
		pubT := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_EC_POINT, ecPoint),
			p11.NewAttribute(p11.CKA_LABEL, ref.Label),
			p11.NewAttribute(p11.CKA_ID, ref.ID),
		}
		if _, err := ctx.CreateObject(sh, pubT); err != nil {
			t.Fatalf("pkcs11test: create public key %s: %v", ref, err)
		}
	})
}

// CreateObject creates an arbitrary object (for tests that need odd objects,
// e.g. two keys with one label). It fails the test on error.
func CreateObject(t testing.TB, tok Token, attrs []*p11.Attribute) {
	t.Helper()
	withLogin(t, tok, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		if _, err := ctx.CreateObject(sh, attrs); err != nil {
			t.Fatalf("pkcs11test: create object: %v", err)
		}
	})
}

// Attributes reads attributes of every object matching tmpl, for
// assertions; attributes the token refuses to reveal are reported in errs.
func Attributes(t testing.TB, tok Token, tmpl []*p11.Attribute, types ...uint) (vals []map[uint][]byte, errs []error) {
	t.Helper()
	withLogin(t, tok, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
			t.Fatalf("pkcs11test: find: %v", err)
		}
		objs, _, err := ctx.FindObjects(sh, 1000)
		_ = ctx.FindObjectsFinal(sh)
		if err != nil {
			t.Fatalf("pkcs11test: find: %v", err)
		}
		for _, o := range objs {
			m := map[uint][]byte{}
			var oerr error
			for _, typ := range types {
				a, err := ctx.GetAttributeValue(sh, o, []*p11.Attribute{p11.NewAttribute(typ, nil)})
				if err != nil {
					oerr = err
					continue
				}
				m[typ] = a[0].Value
			}
			vals = append(vals, m)
			errs = append(errs, oerr)
		}
	})
	return vals, errs
}

func withLogin(t testing.TB, tok Token, fn func(ctx *p11.Ctx, sh p11.SessionHandle)) {
	t.Helper()
	mod, err := module.Acquire(tok.ModulePath)
	if err != nil {
		t.Fatalf("pkcs11test: %v", err)
	}
	defer func() {
		if err := mod.Release(); err != nil {
			t.Errorf("pkcs11test: %v", err)
		}
	}()
	ctx := mod.Ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatalf("pkcs11test: slots: %v", err)
	}
	slot, found := uint(0), false
	for _, s := range slots {
		if ti, err := ctx.GetTokenInfo(s); err == nil && ti.Label == tok.Label {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("pkcs11test: no token %q", tok.Label)
	}
	sh, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatalf("pkcs11test: open session: %v", err)
	}
	defer func() { _ = ctx.CloseSession(sh) }()
	if err := ctx.Login(sh, p11.CKU_USER, tok.UserPIN); err != nil {
		if pe, ok := err.(p11.Error); !ok || pe != p11.CKR_USER_ALREADY_LOGGED_IN {
			t.Fatalf("pkcs11test: login: %v", err)
		}
	} else {
		// Only log out a login we made; the HSM handle owns its own.
		defer func() { _ = ctx.Logout(sh) }()
	}
	fn(ctx, sh)
}

// WithSession runs fn on a session of the token logged in as the user, for
// tests that must call the module directly (e.g. to show what the token
// itself refuses).
func WithSession(t testing.TB, tok Token, fn func(ctx *p11.Ctx, sh p11.SessionHandle)) {
	t.Helper()
	withLogin(t, tok, fn)
}
