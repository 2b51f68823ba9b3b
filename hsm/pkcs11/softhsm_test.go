package pkcs11_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	becdsa "github.com/btcsuite/btcd/btcec/v2/ecdsa"
	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
)

// halfOrder is n/2 of secp256k1.
var halfOrder = func() *btcec.ModNScalar {
	var s btcec.ModNScalar
	s.SetByteSlice(mustHex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"))
	return &s
}()

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		panic(err)
	}
	return b
}

func config(tok *softhsmtest.Token) pkcs11.Config {
	return pkcs11.Config{
		ModulePath:     tok.ModulePath,
		TokenLabel:     tok.Label,
		PINFile:        tok.PINFile,
		Sessions:       4,
		PINFailureFile: filepath.Join(tok.Dir, tok.Label+".failures.json"),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func openToken(t *testing.T) (*pkcs11.HSM, *softhsmtest.Token) {
	t.Helper()
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	h, err := pkcs11.Open(config(tok))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, tok
}

func p11tok(tok *softhsmtest.Token) pkcs11test.Token {
	return pkcs11test.Token{ModulePath: tok.ModulePath, Label: tok.Label, UserPIN: tok.UserPIN}
}

func verifyLowS(t *testing.T, pub []byte, d hsm.Digest, sig hsm.Signature) {
	t.Helper()
	pk, err := btcec.ParsePubKey(pub)
	if err != nil {
		t.Fatalf("parse pubkey: %v", err)
	}
	var r, s btcec.ModNScalar
	r.SetBytes(&sig.R)
	s.SetBytes(&sig.S)
	if s.IsOverHalfOrder() {
		t.Fatalf("signature over %s is high-S", d)
	}
	if !becdsa.NewSignature(&r, &s).Verify(d[:], pk) {
		t.Fatalf("signature over %s does not verify", d)
	}
}

func TestGeneratedKeyNeverLeavesToken(t *testing.T) {
	h, tok := openToken(t)
	info, err := h.GenerateKey(context.Background(), hsm.GenerateKeyRequest{Label: "btc-key-0001"})
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if len(info.Ref.ID) != 16 || len(info.PublicKey) != 33 {
		t.Fatalf("ref %s pub %x: want 16-byte ID and 33-byte key", info.Ref, info.PublicKey)
	}
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_ID, info.Ref.ID),
	}
	vals, errs := pkcs11test.Attributes(t, p11tok(tok), tmpl,
		p11.CKA_EXTRACTABLE, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_SENSITIVE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_TOKEN, p11.CKA_VALUE)
	if len(vals) != 1 {
		t.Fatalf("found %d private keys, want 1", len(vals))
	}
	v := vals[0]
	for _, c := range []struct {
		name string
		attr uint
		want byte
	}{
		{"CKA_EXTRACTABLE", p11.CKA_EXTRACTABLE, 0},
		{"CKA_NEVER_EXTRACTABLE", p11.CKA_NEVER_EXTRACTABLE, 1},
		{"CKA_SENSITIVE", p11.CKA_SENSITIVE, 1},
		{"CKA_ALWAYS_SENSITIVE", p11.CKA_ALWAYS_SENSITIVE, 1},
		{"CKA_TOKEN", p11.CKA_TOKEN, 1},
	} {
		if got := v[c.attr]; len(got) != 1 || got[0] != c.want {
			t.Errorf("%s = %v, want %d", c.name, got, c.want)
		}
	}
	if _, ok := v[p11.CKA_VALUE]; ok {
		t.Fatalf("CKA_VALUE was readable")
	}
	var pe p11.Error
	if !errors.As(errs[0], &pe) || pe != p11.CKR_ATTRIBUTE_SENSITIVE {
		t.Fatalf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", errs[0])
	}
	pub, err := h.PublicKey(context.Background(), hsm.KeyRef{Label: "btc-key-0001"})
	if err != nil || hex.EncodeToString(pub) != hex.EncodeToString(info.PublicKey) {
		t.Fatalf("PublicKey by label: %x %v, want %x", pub, err, info.PublicKey)
	}
	if _, err := h.GenerateKey(context.Background(), hsm.GenerateKeyRequest{Label: "btc-key-0001"}); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("duplicate label: %v, want ErrLabelInUse", err)
	}
}

func TestThousandSignaturesVerifyAndAreLowS(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		var d hsm.Digest
		if _, err := rand.Read(d[:]); err != nil {
			t.Fatal(err)
		}
		sig, err := h.SignDigest(ctx, info.Ref, d)
		if err != nil {
			t.Fatalf("sign #%d: %v", i, err)
		}
		verifyLowS(t, info.PublicKey, d, sig)
	}
}

// TestUnverifiedSignaturesVerifyAndAreLowS: the path chain.SignBatch uses
// (the caller verifies) still returns valid low-S signatures, and fails
// closed on an unknown key.
func TestUnverifiedSignaturesVerifyAndAreLowS(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		var d hsm.Digest
		if _, err := rand.Read(d[:]); err != nil {
			t.Fatal(err)
		}
		sig, err := h.SignDigestUnverified(ctx, info.Ref, d)
		if err != nil {
			t.Fatalf("sign #%d: %v", i, err)
		}
		verifyLowS(t, info.PublicKey, d, sig)
	}
	if _, err := h.SignDigestUnverified(ctx, hsm.KeyRef{Label: "absent"}, hsm.Digest{1}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("unknown key: %v, want ErrKeyNotFound", err)
	}
}

type eip155Case struct {
	Input struct {
		PrivateKey string `json:"private_key"`
	} `json:"input"`
	Expected struct {
		SigningHash string `json:"signing_hash"`
		V           int    `json:"v"`
		R           string `json:"r_hex"`
		S           string `json:"s_hex"`
	} `json:"expected_output"`
}

type bip143Case struct {
	ID     string `json:"id"`
	Inputs []struct {
		Type         string `json:"type"`
		ScriptPubKey string `json:"scriptPubKey"`
		PrivateKey   string `json:"private_key"`
		PublicKey    string `json:"public_key"`
		Sighash      string `json:"sighash"`
	} `json:"inputs"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestImportedVectorKeysReproduceAddresses(t *testing.T) {
	h, tok := openToken(t)
	ctx := context.Background()

	// EIP-155: the public key recovered from the published (v, r, s) over
	// the signing hash must be the HSM's key for the imported private key.
	var ec []eip155Case
	readJSON(t, "testdata/vectors/eip155_cases.json", &ec)
	ethRef := hsm.KeyRef{Label: "eip155", ID: []byte{0xe1}}
	pkcs11test.ImportSecp256k1(t, p11tok(tok), ethRef, mustHex(ec[0].Input.PrivateKey))
	pub, err := h.PublicKey(ctx, ethRef)
	if err != nil {
		t.Fatal(err)
	}
	compact := append([]byte{byte(27 + ec[0].Expected.V - 35 - 2*1)}, mustHex(ec[0].Expected.R)...)
	compact = append(compact, mustHex(ec[0].Expected.S)...)
	recovered, _, err := becdsa.RecoverCompact(compact, mustHex(ec[0].Expected.SigningHash))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(pub), hex.EncodeToString(recovered.SerializeCompressed()); got != want {
		t.Fatalf("EIP-155 public key %s, vector recovers %s", got, want)
	}
	addr, err := eth.Address(pub)
	if err != nil {
		t.Fatal(err)
	}
	// The EIP-155 example's sender address.
	if addr != "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" {
		t.Fatalf("EIP-155 address %s", addr)
	}
	var d hsm.Digest
	copy(d[:], mustHex(ec[0].Expected.SigningHash))
	sig, err := h.SignDigest(ctx, ethRef, d)
	if err != nil {
		t.Fatal(err)
	}
	verifyLowS(t, pub, d, sig)

	// BIP-143 native P2WPKH: the HSM key's P2WPKH address must encode the
	// vector's scriptPubKey witness program.
	var bc []bip143Case
	readJSON(t, "testdata/vectors/bip143_cases.json", &bc)
	in := bc[0].Inputs[1]
	if bc[0].ID != "bip143-00" || in.Type != "p2wpkh" {
		t.Fatalf("unexpected vector layout: %s %s", bc[0].ID, in.Type)
	}
	btcRef := hsm.KeyRef{Label: "bip143", ID: []byte{0xb1}}
	pkcs11test.ImportSecp256k1(t, p11tok(tok), btcRef, mustHex(in.PrivateKey))
	pub, err = h.PublicKey(ctx, btcRef)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(pub) != in.PublicKey {
		t.Fatalf("BIP-143 public key %x, want %s", pub, in.PublicKey)
	}
	baddr, err := btc.P2WPKHAddress(pub, chain.BTCMainnet)
	if err != nil {
		t.Fatal(err)
	}
	if want := segwitV0Address("bc", mustHex(in.ScriptPubKey)[2:]); baddr != want {
		t.Fatalf("BIP-143 address %s, scriptPubKey encodes %s", baddr, want)
	}
	copy(d[:], mustHex(in.Sighash))
	sig, err = h.SignDigest(ctx, btcRef, d)
	if err != nil {
		t.Fatal(err)
	}
	verifyLowS(t, pub, d, sig)
}

// segwitV0Address is an independent bech32 (BIP-173) encoder for the test.
func segwitV0Address(hrp string, program []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	data := []byte{0}
	acc, bits := 0, 0
	for _, b := range program {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			data = append(data, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		data = append(data, byte(acc<<(5-bits)&31))
	}
	polymod := func(v []byte) uint32 {
		gen := []uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, x := range v {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(x)
			for i := 0; i < 5; i++ {
				if top>>i&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var exp []byte
	for _, c := range hrp {
		exp = append(exp, byte(c>>5))
	}
	exp = append(exp, 0)
	for _, c := range hrp {
		exp = append(exp, byte(c&31))
	}
	mod := polymod(append(append(exp, data...), 0, 0, 0, 0, 0, 0)) ^ 1
	out := hrp + "1"
	for _, x := range data {
		out += string(charset[x])
	}
	for i := 0; i < 6; i++ {
		out += string(charset[mod>>(5*(5-i))&31])
	}
	return out
}

func TestWrongPINCountsAndLocks(t *testing.T) {
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	cfg := config(tok)
	cfg.MaxPINFailures = 3
	wrong := filepath.Join(t.TempDir(), "wrong.pin")
	if err := os.WriteFile(wrong, []byte("00000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.PINFile = wrong

	open := func(c pkcs11.Config) error {
		h, err := pkcs11.Open(c)
		if err == nil {
			return h.Close()
		}
		if strings.Contains(err.Error(), "00000000") || strings.Contains(err.Error(), tok.UserPIN) {
			t.Fatalf("error leaks the PIN: %v", err)
		}
		return err
	}
	for i, want := range []error{hsm.ErrPINIncorrect, hsm.ErrPINIncorrect} {
		if err := open(bad); !errors.Is(err, want) {
			t.Fatalf("attempt %d: %v, want %v", i+1, err, want)
		}
	}
	// A correct PIN below the limit resets the counter.
	if err := open(cfg); err != nil {
		t.Fatalf("correct PIN: %v", err)
	}
	for i, want := range []error{hsm.ErrPINIncorrect, hsm.ErrPINIncorrect, hsm.ErrPINLocked, hsm.ErrPINLocked} {
		if err := open(bad); !errors.Is(err, want) {
			t.Fatalf("attempt %d after reset: %v, want %v", i+1, err, want)
		}
	}
	// Locked: even the right PIN is not tried.
	if err := open(cfg); !errors.Is(err, hsm.ErrPINLocked) {
		t.Fatalf("correct PIN while locked: %v, want ErrPINLocked", err)
	}
}

func TestPINSources(t *testing.T) {
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	cfg := config(tok)

	loose := filepath.Join(t.TempDir(), "loose.pin")
	if err := os.WriteFile(loose, []byte(tok.UserPIN), 0o644); err != nil {
		t.Fatal(err)
	}
	c := cfg
	c.PINFile = loose
	if _, err := pkcs11.Open(c); !errors.Is(err, hsm.ErrPINMissing) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable pin file: %v", err)
	}

	c = cfg
	c.PINFile = ""
	t.Setenv(pkcs11.PINEnv, "")
	if _, err := pkcs11.Open(c); !errors.Is(err, hsm.ErrPINMissing) {
		t.Fatalf("no PIN source: %v, want ErrPINMissing", err)
	}
	t.Setenv(pkcs11.PINEnv, tok.UserPIN)
	h, err := pkcs11.Open(c)
	if err != nil {
		t.Fatalf("PIN from $%s: %v", pkcs11.PINEnv, err)
	}
	// One handle per token per process: a second would share the login.
	if _, err := pkcs11.Open(c); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second Open of one token: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMissingModuleAndToken(t *testing.T) {
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	c := config(tok)
	c.ModulePath = "/nonexistent/libpkcs11.so"
	_, err := pkcs11.Open(c)
	if !errors.Is(err, hsm.ErrModuleLoad) || !strings.Contains(err.Error(), "/nonexistent/libpkcs11.so") {
		t.Fatalf("missing module: %v", err)
	}
	c = config(tok)
	c.ModulePath = tok.PINFile // exists, but is no library
	if _, err := pkcs11.Open(c); !errors.Is(err, hsm.ErrModuleLoad) {
		t.Fatalf("not a library: %v", err)
	}
	c = config(tok)
	c.TokenLabel = "no-such-token"
	_, err = pkcs11.Open(c)
	if !errors.Is(err, hsm.ErrTokenNotPresent) || !strings.Contains(err.Error(), "no-such-token") {
		t.Fatalf("missing token: %v", err)
	}
}

func TestKeyLookupErrors(t *testing.T) {
	h, tok := openToken(t)
	ctx := context.Background()
	priv := mustHex("619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9")
	pkcs11test.ImportSecp256k1(t, p11tok(tok), hsm.KeyRef{Label: "twin", ID: []byte{1}}, priv)
	pkcs11test.ImportSecp256k1(t, p11tok(tok), hsm.KeyRef{Label: "twin", ID: []byte{2}}, priv)
	var d hsm.Digest
	if _, err := h.SignDigest(ctx, hsm.KeyRef{Label: "twin"}, d); !errors.Is(err, hsm.ErrAmbiguousKey) {
		t.Fatalf("label matching two keys: %v", err)
	}
	if _, err := h.SignDigest(ctx, hsm.KeyRef{Label: "twin", ID: []byte{2}}, d); err != nil {
		t.Fatalf("label+ID: %v", err)
	}
	if _, err := h.PublicKey(ctx, hsm.KeyRef{Label: "absent"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("absent key: %v", err)
	}
	if _, err := h.PublicKey(ctx, hsm.KeyRef{}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("empty ref: %v", err)
	}
}

func TestListKeysExcludesIdentity(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	if _, _, err := h.EnsureIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range []string{"eth-b", "btc-a", "btc-c"} {
		info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: l})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, info.Ref.String())
	}
	keys, err := h.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Ref.String())
		pub, err := h.PublicKey(ctx, k.Ref)
		if err != nil || hex.EncodeToString(pub) != hex.EncodeToString(k.PublicKey) {
			t.Fatalf("listed key %s: PublicKey %x %v", k.Ref, pub, err)
		}
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "btc-a#") || !strings.HasPrefix(got[1], "btc-c#") || !strings.HasPrefix(got[2], "eth-b#") {
		t.Fatalf("ListKeys = %v, want sorted %v", got, want)
	}
}

func TestIdentityKeySignsForSigkey(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	if _, err := h.Identity(ctx); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Identity before creation: %v", err)
	}
	id, created, err := h.EnsureIdentity(ctx)
	if err != nil || !created {
		t.Fatalf("EnsureIdentity: created=%v %v", created, err)
	}
	if id.Public().Algorithm.String() != "ed25519" {
		t.Fatalf("SoftHSM supports EdDSA, got %s", id.Public().Algorithm)
	}
	again, created, err := h.EnsureIdentity(ctx)
	if err != nil || created || again.Public().Fingerprint() != id.Public().Fingerprint() {
		t.Fatalf("second EnsureIdentity: created=%v %v", created, err)
	}
	msg := []byte("icebox/manifest/v1 test message")
	sig, err := id.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Public().Verify(msg, sig); err != nil {
		t.Fatalf("sigkey.Verify: %v", err)
	}
	if err := id.Public().Verify([]byte("other"), sig); err == nil {
		t.Fatal("signature verified for another message")
	}
}

func TestAnchorRoundTrip(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	if _, err := h.ReadAnchor(ctx, "audit"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("read before write: %v", err)
	}
	for _, v := range []string{"first checkpoint", "second, longer checkpoint value"} {
		if err := h.WriteAnchor(ctx, "audit", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := h.ReadAnchor(ctx, "audit")
		if err != nil || string(got) != v {
			t.Fatalf("ReadAnchor = %q %v, want %q", got, err, v)
		}
	}
	if err := h.WriteAnchor(ctx, "audit", nil); err == nil {
		t.Fatal("empty anchor accepted")
	}
}

func TestConcurrentSigningThroughPool(t *testing.T) {
	h, _ := openToken(t)
	ctx := context.Background()
	var keys []hsm.KeyInfo
	for i := 0; i < 4; i++ {
		k, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "c" + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			k := keys[g%len(keys)]
			for i := 0; i < 10; i++ {
				var d hsm.Digest
				_, _ = rand.Read(d[:])
				sig, err := h.SignDigest(ctx, k.Ref, d)
				if err != nil {
					errs <- err
					return
				}
				pk, _ := btcec.ParsePubKey(k.PublicKey)
				var r, s btcec.ModNScalar
				r.SetBytes(&sig.R)
				s.SetBytes(&sig.S)
				if !becdsa.NewSignature(&r, &s).Verify(d[:], pk) {
					errs <- errors.New("bad signature")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClosedHSMFailsClosed(t *testing.T) {
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	h, err := pkcs11.Open(config(tok))
	if err != nil {
		t.Fatal(err)
	}
	info, err := h.GenerateKey(context.Background(), hsm.GenerateKeyRequest{Label: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SignDigest(context.Background(), info.Ref, hsm.Digest{}); !errors.Is(err, hsm.ErrSessionFailed) {
		t.Fatalf("sign after Close: %v, want ErrSessionFailed", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
