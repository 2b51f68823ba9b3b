package pkcs11test

import (
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/sigkey"
)

// GenerateOfficerKey generates a signing key pair on tok with
// C_GenerateKeyPair, as an officer would on a PIV or PKCS#11 token: P-256
// (CKM_EC_KEY_PAIR_GEN) or Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN), private
// and sensitive, with the given CKA_LABEL and CKA_ID on both halves. It
// fails the test on any error.
func GenerateOfficerKey(t testing.TB, tok Token, alg sigkey.Algorithm, label string, id []byte) {
	t.Helper()
	var mech uint
	var params []byte
	switch alg {
	case sigkey.P256:
		mech, params = p11.CKM_EC_KEY_PAIR_GEN, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	case sigkey.Ed25519:
		mech, params = 0x00001055, []byte{0x06, 0x03, 0x2b, 0x65, 0x70} // CKM_EC_EDWARDS_KEY_PAIR_GEN, 1.3.101.112
	default:
		t.Fatalf("pkcs11test: no officer key of algorithm %v", alg)
	}
	withLogin(t, tok, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		pubT := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		privT := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		if _, _, err := ctx.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, pubT, privT); err != nil {
			t.Fatalf("pkcs11test: generate %v key %q: %v", alg, label, err)
		}
	})
}
