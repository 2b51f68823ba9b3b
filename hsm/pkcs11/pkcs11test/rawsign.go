package pkcs11test

import (
	"fmt"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11/internal/module"
)

// RawSigner is the bare PKCS#11 signing path and nothing else: C_SignInit +
// C_Sign with CKM_ECDSA on a secp256k1 private key, one call per
// signature, no normalisation, no verification, no key cache. It is the
// physical limit that `make bench` compares Icebox against. TEST-ONLY, like
// the rest of this package.
//
// Each session index is meant for one goroutine at a time. It works with or
// without an *pkcs11.HSM open on the same token (the login belongs to the
// application; a login it did not make is never logged out).
type RawSigner struct {
	mod      *module.Module
	ctx      *p11.Ctx
	sessions []p11.SessionHandle
	key      p11.ObjectHandle
	loggedIn bool
	mech     []*p11.Mechanism
}

// OpenRawSigner opens sessions sessions on tok, logs in when needed and
// finds the private key of ref (which must match exactly one). It fails the
// test on any error. Close it when done.
func OpenRawSigner(t testing.TB, tok Token, ref hsm.KeyRef, sessions int) *RawSigner {
	t.Helper()
	if sessions < 1 {
		t.Fatalf("pkcs11test: raw signer needs at least one session, got %d", sessions)
	}
	mod, err := module.Acquire(tok.ModulePath)
	if err != nil {
		t.Fatalf("pkcs11test: %v", err)
	}
	r := &RawSigner{mod: mod, ctx: mod.Ctx, mech: []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}}
	slot, err := findSlot(r.ctx, tok.Label)
	if err != nil {
		r.Close()
		t.Fatalf("pkcs11test: %v", err)
	}
	for i := 0; i < sessions; i++ {
		sh, err := r.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			r.Close()
			t.Fatalf("pkcs11test: open session %d: %v", i, err)
		}
		r.sessions = append(r.sessions, sh)
	}
	if err := r.ctx.Login(r.sessions[0], p11.CKU_USER, tok.UserPIN); err != nil {
		if pe, ok := err.(p11.Error); !ok || pe != p11.CKR_USER_ALREADY_LOGGED_IN {
			r.Close()
			t.Fatalf("pkcs11test: login: %v", err)
		}
	} else {
		r.loggedIn = true
	}
	tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}
	if len(ref.ID) > 0 {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, ref.ID))
	}
	if ref.Label != "" {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, ref.Label))
	}
	sh := r.sessions[0]
	if err := r.ctx.FindObjectsInit(sh, tmpl); err != nil {
		r.Close()
		t.Fatalf("pkcs11test: find key %s: %v", ref, err)
	}
	objs, _, err := r.ctx.FindObjects(sh, 2)
	_ = r.ctx.FindObjectsFinal(sh)
	if err != nil || len(objs) != 1 {
		r.Close()
		t.Fatalf("pkcs11test: key %s: found %d private keys (err %v), want exactly 1", ref, len(objs), err)
	}
	r.key = objs[0]
	return r
}

func findSlot(ctx *p11.Ctx, label string) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("slots: %w", err)
	}
	for _, s := range slots {
		if ti, err := ctx.GetTokenInfo(s); err == nil && ti.Label == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token %q", label)
}

// Sessions returns the number of open sessions.
func (r *RawSigner) Sessions() int { return len(r.sessions) }

// Sign signs a 32-byte digest on session i (0 ≤ i < Sessions()) and
// returns the token's raw r||s.
func (r *RawSigner) Sign(i int, digest []byte) ([]byte, error) {
	sh := r.sessions[i]
	if err := r.ctx.SignInit(sh, r.mech, r.key); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", err)
	}
	sig, err := r.ctx.Sign(sh, digest)
	if err != nil {
		return nil, fmt.Errorf("C_Sign: %w", err)
	}
	return sig, nil
}

// Close logs out (only a login it made), closes its sessions and releases
// the module. It is safe to call more than once.
func (r *RawSigner) Close() {
	if r.mod == nil {
		return
	}
	if r.loggedIn && len(r.sessions) > 0 {
		_ = r.ctx.Logout(r.sessions[0])
	}
	for _, sh := range r.sessions {
		_ = r.ctx.CloseSession(sh)
	}
	r.sessions = nil
	_ = r.mod.Release()
	r.mod = nil
}
