package pkcs11_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
	"github.com/icebox-custody/icebox/sigkey"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// ceremonyConfig is config(tok) in backup mode with an SO PIN file.
func ceremonyConfig(t *testing.T, tok *softhsmtest.Token, mode hsm.BackupMode) pkcs11.Config {
	t.Helper()
	c := config(tok)
	c.Backup = mode
	c.SOPINFile = filepath.Join(tok.Dir, tok.Label+".so.pin")
	if err := os.WriteFile(c.SOPINFile, []byte(tok.SOPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustOpen(t *testing.T, c pkcs11.Config) *pkcs11.HSM {
	t.Helper()
	h, err := pkcs11.Open(c)
	if err != nil {
		t.Fatalf("Open %s: %v", c.TokenLabel, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func randomWrappingKey(t *testing.T) *hsm.WrappingKey {
	t.Helper()
	var k hsm.WrappingKey
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return &k
}

// objectCount counts every object the user sees on tok (keys, data).
func objectCount(t *testing.T, tok *softhsmtest.Token) int {
	t.Helper()
	vals, _ := pkcs11test.Attributes(t, p11tok(tok), nil, p11.CKA_CLASS)
	return len(vals)
}

func flag(v map[uint][]byte, a uint) int {
	if b := v[a]; len(b) == 1 {
		return int(b[0])
	}
	return -1
}

// twoTokens creates both tokens before any HSM is opened (SoftHSM reads
// its configuration once, at C_Initialize).
func twoTokens(t *testing.T) (src, dst *softhsmtest.Token) {
	return softhsmtest.NewToken(t, softhsmtest.Options{Label: "ceremony-src"}),
		softhsmtest.NewToken(t, softhsmtest.Options{Label: "ceremony-dst"})
}

// sourceWithKeys opens src in backup mode with an identity and n keys.
func sourceWithKeys(t *testing.T, src *softhsmtest.Token, n int) (*pkcs11.HSM, []hsm.KeyInfo, sigkey.PublicKey) {
	t.Helper()
	h := mustOpen(t, ceremonyConfig(t, src, hsm.BackupWrapWithTrusted))
	ctx := context.Background()
	id, _, err := h.EnsureIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []hsm.KeyInfo
	for i := 0; i < n; i++ {
		k, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "btc-key-000" + string(rune('1'+i))})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return h, keys, id.Public()
}

func TestBackupModeKeysAreWrappableOnlyWithTrustedKey(t *testing.T) {
	src, _ := twoTokens(t)
	_, keys, idPub := sourceWithKeys(t, src, 1)
	if idPub.Algorithm != sigkey.P256 {
		t.Fatalf("identity in backup mode is %s, want p256 (SoftHSM cannot wrap EdDSA keys)", idPub.Algorithm)
	}
	vals, errs := pkcs11test.Attributes(t, p11tok(src), []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, keys[0].Ref.ID),
	}, p11.CKA_SENSITIVE, p11.CKA_EXTRACTABLE, p11.CKA_WRAP_WITH_TRUSTED, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_VALUE)
	if len(vals) != 1 {
		t.Fatalf("%d private keys", len(vals))
	}
	v := vals[0]
	if flag(v, p11.CKA_SENSITIVE) != 1 || flag(v, p11.CKA_EXTRACTABLE) != 1 || flag(v, p11.CKA_WRAP_WITH_TRUSTED) != 1 || flag(v, p11.CKA_NEVER_EXTRACTABLE) != 0 {
		t.Fatalf("attributes %v: want sensitive, extractable, wrap-with-trusted", v)
	}
	var pe p11.Error
	if _, ok := v[p11.CKA_VALUE]; ok || !errors.As(errs[0], &pe) || pe != p11.CKR_ATTRIBUTE_SENSITIVE {
		t.Fatalf("CKA_VALUE must stay unreadable: %v", errs[0])
	}
	// What the token enforces: an untrusted wrapping key made by the user
	// cannot wrap the key, and the user cannot make a key trusted.
	aes := func(trusted bool) []*p11.Attribute {
		a := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_TOKEN, false), p11.NewAttribute(p11.CKA_WRAP, true),
			p11.NewAttribute(p11.CKA_VALUE, bytes.Repeat([]byte{7}, 32)), p11.NewAttribute(p11.CKA_LABEL, "untrusted"),
		}
		if trusted {
			a = append(a, p11.NewAttribute(p11.CKA_TRUSTED, true))
		}
		return a
	}
	pkcs11test.WithSession(t, p11tok(src), func(ctx *p11.Ctx, sh p11.SessionHandle) {
		if _, err := ctx.CreateObject(sh, aes(true)); !errors.As(err, &pe) || pe != p11.CKR_ATTRIBUTE_READ_ONLY {
			t.Errorf("user creating a CKA_TRUSTED key: %v, want CKR_ATTRIBUTE_READ_ONLY", err)
		}
		wk, err := ctx.CreateObject(sh, aes(false))
		if err != nil {
			t.Fatalf("untrusted AES key: %v", err)
		}
		defer ctx.DestroyObject(sh, wk)
		if err := ctx.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_ID, keys[0].Ref.ID)}); err != nil {
			t.Fatal(err)
		}
		objs, _, _ := ctx.FindObjects(sh, 2)
		_ = ctx.FindObjectsFinal(sh)
		if len(objs) != 1 {
			t.Fatalf("found %d keys", len(objs))
		}
		if _, err := ctx.WrapKey(sh, []*p11.Mechanism{p11.NewMechanism(0x210A, nil)}, wk, objs[0]); !errors.As(err, &pe) || pe != p11.CKR_KEY_NOT_WRAPPABLE {
			t.Errorf("wrap under an untrusted key: %v, want CKR_KEY_NOT_WRAPPABLE", err)
		}
	})
}

func TestWrapAllUnwrapAllAcrossTokens(t *testing.T) {
	src, dst := twoTokens(t)
	hs, keys, idPub := sourceWithKeys(t, src, 3)
	hd := mustOpen(t, ceremonyConfig(t, dst, hsm.BackupNone))
	ctx := context.Background()
	key := randomWrappingKey(t)

	wrapped, err := hs.WrapAll(ctx, hsm.WrapRequest{Key: key})
	if err != nil {
		t.Fatalf("WrapAll: %v", err)
	}
	if len(wrapped) != 4 {
		t.Fatalf("wrapped %d keys, want 3 signing + identity", len(wrapped))
	}
	// The source still signs after the SO/user switch (the user is back).
	if _, err := hs.SignDigest(ctx, keys[0].Ref, hsm.Digest{1}); err != nil {
		t.Fatalf("source signing after the ceremony: %v", err)
	}
	// No wrapping key survives on the source.
	if v, _ := pkcs11test.Attributes(t, p11tok(src), []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY)}, p11.CKA_LABEL); len(v) != 0 {
		t.Fatalf("%d secret keys left on the source", len(v))
	}

	restored, err := hd.UnwrapAll(ctx, hsm.UnwrapRequest{Key: key, Keys: wrapped})
	if err != nil {
		t.Fatalf("UnwrapAll: %v", err)
	}
	if len(restored) != 3 {
		t.Fatalf("restored %d signing keys", len(restored))
	}
	listed, err := hd.ListKeys(ctx)
	if err != nil || len(listed) != 3 {
		t.Fatalf("ListKeys on target: %v %v", listed, err)
	}
	for _, k := range keys {
		for i := 0; i < 20; i++ {
			var d hsm.Digest
			_, _ = rand.Read(d[:])
			sig, err := hd.SignDigest(ctx, k.Ref, d)
			if err != nil {
				t.Fatalf("restored %s: %v", k.Ref, err)
			}
			verifyLowS(t, k.PublicKey, d, sig) // against the SOURCE public key
		}
	}
	id, err := hd.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.Public().Fingerprint() != idPub.Fingerprint() {
		t.Fatalf("restored identity %s, want %s", id.Public().Fingerprint(), idPub.Fingerprint())
	}
	msg := []byte("restore drill")
	sig, err := id.Sign(msg)
	if err != nil || idPub.Verify(msg, sig) != nil {
		t.Fatalf("restored identity signature: %v", err)
	}
	vals, errs := pkcs11test.Attributes(t, p11tok(dst), []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)},
		p11.CKA_SENSITIVE, p11.CKA_EXTRACTABLE, p11.CKA_VALUE, p11.CKA_LABEL)
	if len(vals) != 4 {
		t.Fatalf("%d private keys on target, want 4", len(vals))
	}
	for i, v := range vals {
		if flag(v, p11.CKA_SENSITIVE) != 1 || flag(v, p11.CKA_EXTRACTABLE) != 0 || errs[i] == nil {
			t.Errorf("restored %s: sensitive %d extractable %d value err %v", v[p11.CKA_LABEL], flag(v, p11.CKA_SENSITIVE), flag(v, p11.CKA_EXTRACTABLE), errs[i])
		}
	}
	if n := objectCount(t, dst); n != 8 {
		t.Fatalf("target holds %d objects, want 8 (4 private + 4 public; no wrapping key)", n)
	}
	// A restored (non-extractable) token cannot be backed up again.
	if _, err := hd.WrapAll(ctx, hsm.WrapRequest{Key: key}); !errors.Is(err, hsm.ErrNotWrappable) {
		t.Fatalf("WrapAll on restored token: %v, want ErrNotWrappable", err)
	}
	// And restoring twice is refused: the target is no longer empty.
	if _, err := hd.UnwrapAll(ctx, hsm.UnwrapRequest{Key: key, Keys: wrapped}); !errors.Is(err, hsm.ErrTokenNotEmpty) {
		t.Fatalf("second restore: %v, want ErrTokenNotEmpty", err)
	}
	if n := objectCount(t, dst); n != 8 {
		t.Fatalf("refused restore changed the target: %d objects", n)
	}
}

func TestUnwrapAllRollsBack(t *testing.T) {
	src, dst := twoTokens(t)
	hs, _, _ := sourceWithKeys(t, src, 2)
	hd := mustOpen(t, ceremonyConfig(t, dst, hsm.BackupNone))
	ctx := context.Background()
	key := randomWrappingKey(t)
	wrapped, err := hs.WrapAll(ctx, hsm.WrapRequest{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	corruptLast := func() []hsm.WrappedKey {
		c := append([]hsm.WrappedKey(nil), wrapped...)
		last := c[len(c)-1]
		last.Wrapped = append([]byte(nil), last.Wrapped...)
		last.Wrapped[len(last.Wrapped)/2] ^= 0x40
		c[len(c)-1] = last
		return c
	}
	swappedPub := func() []hsm.WrappedKey {
		c := append([]hsm.WrappedKey(nil), wrapped...)
		c[0].PublicKey, c[1].PublicKey = c[1].PublicKey, c[0].PublicKey
		return c
	}
	for _, c := range []struct {
		name string
		key  *hsm.WrappingKey
		keys []hsm.WrappedKey
	}{
		{"wrong wrapping key", randomWrappingKey(t), wrapped},
		{"last key corrupted after others were created", key, corruptLast()},
		{"public keys swapped (restored key signs for another key)", key, swappedPub()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := hd.UnwrapAll(ctx, hsm.UnwrapRequest{Key: c.key, Keys: c.keys}); err == nil {
				t.Fatal("UnwrapAll succeeded")
			}
			if n := objectCount(t, dst); n != 0 {
				t.Fatalf("target holds %d objects after a failed restore, want 0", n)
			}
		})
	}
}

func TestWrapAllRefuses(t *testing.T) {
	plain := softhsmtest.NewToken(t, softhsmtest.Options{Label: "default-mode"})
	backup := softhsmtest.NewToken(t, softhsmtest.Options{Label: "backup-mode"})
	ctx := context.Background()

	// Default mode (issue 2): keys are never extractable; WrapAll refuses
	// before asking for the SO PIN (none is configured here).
	hp := mustOpen(t, config(plain))
	if _, _, err := hp.EnsureIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := hp.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "btc-key-0001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := hp.WrapAll(ctx, hsm.WrapRequest{Key: randomWrappingKey(t)}); !errors.Is(err, hsm.ErrNotWrappable) {
		t.Fatalf("default mode: %v, want ErrNotWrappable", err)
	}

	// Wrong SO PIN: a typed error, and the user is logged back in.
	c := ceremonyConfig(t, backup, hsm.BackupWrapWithTrusted)
	if err := os.WriteFile(c.SOPINFile, []byte("00000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hb := mustOpen(t, c)
	if _, _, err := hb.EnsureIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	k, err := hb.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "btc-key-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hb.WrapAll(ctx, hsm.WrapRequest{Key: randomWrappingKey(t)}); !errors.Is(err, hsm.ErrSOPINIncorrect) {
		t.Fatalf("wrong SO PIN: %v, want ErrSOPINIncorrect", err)
	}
	if _, err := hb.SignDigest(ctx, k.Ref, hsm.Digest{2}); err != nil {
		t.Fatalf("signing after a failed SO login: %v", err)
	}
	if _, err := hb.WrapAll(ctx, hsm.WrapRequest{Key: &hsm.WrappingKey{}}); err == nil {
		t.Fatal("an all-zero wrapping key was accepted")
	}
}
