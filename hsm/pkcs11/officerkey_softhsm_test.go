package pkcs11_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
	"github.com/icebox-custody/icebox/store/storetest"
)

// officerToken is the signer's token plus a SECOND token holding officer
// keys, as an officer's PIV card or YubiKey would.
func officerToken(t *testing.T) (signerTok, offTok *softhsmtest.Token) {
	t.Helper()
	signerTok = softhsmtest.NewToken(t, softhsmtest.Options{Label: "icebox-signer"})
	offTok = softhsmtest.NewToken(t, softhsmtest.Options{Label: "officer alice", UserPIN: "24681357"})
	return signerTok, offTok
}

func officerCfg(t *testing.T, raw string) pkcs11.OfficerKeyConfig {
	t.Helper()
	u, err := pkcs11.ParseURI(raw)
	if err != nil {
		t.Fatalf("ParseURI(%q): %v", raw, err)
	}
	return pkcs11.OfficerKeyConfig{URI: u, PINFailureFile: filepath.Join(t.TempDir(), "failures.json"),
		Logger: config(&softhsmtest.Token{}).Logger}
}

func TestOfficerKeyOnSecondTokenSignsForSigkeyAndQuorum(t *testing.T) {
	signerTok, offTok := officerToken(t)
	t.Setenv(pkcs11.OfficerPINEnv, "")
	// The signer's own token is open the whole time: the officer token is
	// another token of the same module.
	signer, err := pkcs11.Open(config(signerTok))
	if err != nil {
		t.Fatal(err)
	}
	defer signer.Close()

	pkcs11test.GenerateOfficerKey(t, p11tok(offTok), sigkey.P256, "alice-approval", []byte{0xa1})
	pkcs11test.GenerateOfficerKey(t, p11tok(offTok), sigkey.Ed25519, "alice-ed", []byte{0xa2})
	// A key of the same label on the signer token must not be found.
	pkcs11test.GenerateOfficerKey(t, p11tok(signerTok), sigkey.P256, "alice-approval", []byte{0xa1})

	uri := fmt.Sprintf("pkcs11:token=officer%%20alice;object=alice-approval?module-path=%s&pin-source=file:%s", offTok.ModulePath, pct(offTok.PINFile))
	k, err := pkcs11.OpenOfficerKey(officerCfg(t, uri))
	if err != nil {
		t.Fatalf("OpenOfficerKey: %v", err)
	}
	pub := k.Public()
	if pub.Algorithm != sigkey.P256 || len(pub.Key) != 33 || pub.Validate() != nil {
		t.Fatalf("public key %s", pub)
	}
	if _, err := sigkey.ParsePublicKey(pub.String()); err != nil {
		t.Fatalf("roster form %s does not parse: %v", pub, err)
	}
	msg := []byte("icebox approval message")
	sigs := map[string]bool{}
	for i := 0; i < 20; i++ {
		sig, err := k.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature has %d bytes, want 64", len(sig))
		}
		if err := pub.Verify(msg, sig); err != nil {
			t.Fatalf("sigkey.Verify: %v", err)
		}
		if pub.Verify([]byte("another message"), sig) == nil {
			t.Fatal("signature verifies for another message")
		}
		sigs[string(sig)] = true
	}
	if len(sigs) != 20 {
		t.Fatalf("ECDSA signatures repeat: %d distinct of 20", len(sigs))
	}

	// An approval made with the token key counts in quorum.Roster.Verify.
	other := storetest.NewEd25519Signer("bob")
	roster, err := quorum.ParseRoster("roster.yaml", []byte(fmt.Sprintf(`version: 1
admin_quorum: 1
members:
  - id: alice
    key: %s
    roles: [officer]
  - id: bob
    key: %s
    roles: [officer, admin]
`, pub, other.Public())))
	if err != nil {
		t.Fatal(err)
	}
	reqDigest, polHash := bundle.Digest{1, 2, 3}, bundle.Digest{4, 5, 6}
	now := time.Now()
	in := bundle.ApprovalInput{RequestDigest: reqDigest, Officer: "alice", Expires: now.Add(time.Hour).Unix(), PolicyHash: polHash, RosterHash: roster.Hash()}
	ap, err := bundle.SignApproval(in, k)
	if err != nil {
		t.Fatalf("SignApproval: %v", err)
	}
	bobAp, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: reqDigest, Officer: "bob", Expires: in.Expires, PolicyHash: polHash, RosterHash: roster.Hash()}, other)
	if err != nil {
		t.Fatal(err)
	}
	req := quorum.Requirement{Expr: quorum.Node{Op: quorum.OpGroup, Group: "g", Members: []string{"alice", "bob"}, Threshold: 2}}
	res, err := roster.Verify(quorum.VerifyInput{RequestDigest: reqDigest, PolicyHash: polHash, RosterHash: roster.Hash(),
		Approvals: []bundle.Approval{ap, bobAp}, Requirement: req, Requester: "hot-1", Now: now})
	if err != nil || !res.Satisfied || len(res.Counted) != 2 {
		t.Fatalf("Verify: %v %s", err, res.Explain())
	}
	// The same approval presented for another request does not count.
	res, err = roster.Verify(quorum.VerifyInput{RequestDigest: bundle.Digest{9}, PolicyHash: polHash, RosterHash: roster.Hash(),
		Approvals: []bundle.Approval{ap, bobAp}, Requirement: req, Requester: "hot-1", Now: now})
	if err != nil || res.Satisfied {
		t.Fatalf("replayed approval counted: %v %s", err, res.Explain())
	}

	// One token per process: the officer token cannot be opened twice.
	if _, err := pkcs11.OpenOfficerKey(officerCfg(t, uri)); err == nil {
		t.Fatal("second OpenOfficerKey of the same token succeeded")
	}
	if err := k.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := k.Sign(msg); err == nil {
		t.Fatal("Sign after Close succeeded")
	}

	// Ed25519 by id, PIN from $ICEBOX_OFFICER_PIN, module from the caller.
	t.Setenv(pkcs11.OfficerPINEnv, offTok.UserPIN)
	cfg := officerCfg(t, "pkcs11:token=officer%20alice;id=%A2")
	cfg.ModulePath = offTok.ModulePath
	ek, err := pkcs11.OpenOfficerKey(cfg)
	if err != nil {
		t.Fatalf("OpenOfficerKey ed25519: %v", err)
	}
	if ek.Public().Algorithm != sigkey.Ed25519 {
		t.Fatalf("algorithm %s", ek.Public().Algorithm)
	}
	sig, err := ek.Sign(msg)
	if err != nil || ek.Public().Verify(msg, sig) != nil {
		t.Fatalf("ed25519 sign: %v", err)
	}
	if err := ek.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOfficerKeyRefusals(t *testing.T) {
	_, offTok := officerToken(t)
	t.Setenv(pkcs11.OfficerPINEnv, "")
	tok := p11tok(offTok)
	pkcs11test.GenerateOfficerKey(t, tok, sigkey.P256, "k", []byte{1})
	pkcs11test.GenerateOfficerKey(t, tok, sigkey.P256, "twin", []byte{2})
	pkcs11test.GenerateOfficerKey(t, tok, sigkey.P256, "twin", []byte{3})
	// A secp256k1 key cannot sign approvals.
	pkcs11test.ImportSecp256k1(t, tok, hsm.KeyRef{Label: "k1", ID: []byte{4}}, mustHex("0000000000000000000000000000000000000000000000000000000000000001"))
	m, pin := offTok.ModulePath, pct(offTok.PINFile)
	cases := []struct {
		name, uri string
		pinEnv    string
		want      error
		msg       string
	}{
		{"no_such_key", "pkcs11:token=officer%20alice;object=nope", "", hsm.ErrKeyNotFound, "no private key"},
		{"label_and_id_disagree", "pkcs11:token=officer%20alice;object=k;id=%02", "", hsm.ErrKeyNotFound, "no private key"},
		{"ambiguous", "pkcs11:token=officer%20alice;object=twin", "", hsm.ErrAmbiguousKey, "2 private keys"},
		{"secp256k1", "pkcs11:token=officer%20alice;object=k1", "", hsm.ErrMechanismUnsupported, "P-256"},
		{"no_such_token", "pkcs11:token=bob;object=k", "", hsm.ErrTokenNotPresent, "bob"},
		{"serial_label_mismatch", "pkcs11:token=other;serial=" + serialOf(t, offTok) + ";object=k", "", nil, `labelled "officer alice"`},
		{"no_pin", "pkcs11:token=officer%20alice;object=k", "-", hsm.ErrPINMissing, pkcs11.OfficerPINEnv},
		{"wrong_pin", "pkcs11:token=officer%20alice;object=k", "00000000", hsm.ErrPINIncorrect, "login"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := c.uri + "?module-path=" + m
			if c.pinEnv == "" {
				raw += "&pin-source=file:" + pin
			} else if c.pinEnv != "-" {
				t.Setenv(pkcs11.OfficerPINEnv, c.pinEnv)
			}
			k, err := pkcs11.OpenOfficerKey(officerCfg(t, raw))
			if err == nil {
				k.Close()
				t.Fatalf("opened %s", raw)
			}
			if (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v; want %v containing %q", err, c.want, c.msg)
			}
			if strings.Contains(err.Error(), offTok.UserPIN) || strings.Contains(err.Error(), "00000000") {
				t.Fatalf("error holds the PIN: %v", err)
			}
		})
	}
	// Nothing stayed open: the token opens now.
	k, err := pkcs11.OpenOfficerKey(officerCfg(t, "pkcs11:token=officer%20alice;object=k?module-path="+m+"&pin-source=file:"+pin))
	if err != nil {
		t.Fatalf("open after refusals: %v", err)
	}
	k.Close()
}

func serialOf(t *testing.T, tok *softhsmtest.Token) string {
	t.Helper()
	h, err := pkcs11.Open(config(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return h.TokenSerial()
}

// pct percent-encodes the spaces in a path (the token label is part of
// softhsmtest's PIN file name).
func pct(s string) string { return strings.ReplaceAll(s, " ", "%20") }
