package bundle

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/icebox-custody/icebox/sigkey"
)

var update = flag.Bool("update", false, "rewrite testdata golden and expfail files")

// edSigner is a deterministic Ed25519 signer from a fixed seed.
type edSigner struct{ priv ed25519.PrivateKey }

func newEdSigner(seed string) *edSigner {
	s := sha256.Sum256([]byte(seed))
	return &edSigner{priv: ed25519.NewKeyFromSeed(s[:])}
}

func (s *edSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: []byte(s.priv.Public().(ed25519.PublicKey))}
}
func (s *edSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// p256Signer signs SHA-256(msg) and returns raw r||s.
type p256Signer struct{ priv *ecdsa.PrivateKey }

func newP256Signer(t *testing.T) *p256Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &p256Signer{priv: k}
}

func (s *p256Signer) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.P256, Key: elliptic.MarshalCompressed(elliptic.P256(), s.priv.X, s.priv.Y)}
}
func (s *p256Signer) Sign(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, ss, err := ecdsa.Sign(rand.Reader, s.priv, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}

var (
	_ sigkey.Signer = (*edSigner)(nil)
	_ sigkey.Signer = (*p256Signer)(nil)
)

var (
	requesterKey = newEdSigner("requester hot-wallet")
	officerBob   = newEdSigner("officer bob")
	officerCarol = newEdSigner("officer carol")
	signerKey    = newEdSigner("signer identity")
	policyHash   = Digest(sha256.Sum256([]byte("policy v7")))
	rosterHash   = Digest(sha256.Sum256([]byte("roster v3")))
)

// sampleRequest builds the unsigned request behind golden_request.icebox.
func sampleRequest() *Request {
	return &Request{
		Version:   Version,
		ID:        "wd-2026-000042",
		Created:   1767225600, // 2026-01-01T00:00:00Z
		Expires:   1767229200, // +1 h
		Requester: "hot-wallet",
		Kind:      KindWithdrawal,
		Reason:    "Customer withdrawal #8812",
		Transactions: []Transaction{
			{Network: "btc-regtest", Format: FormatPSBT, Payload: []byte("psbt\xff\x01\x00\x02")},
			{Network: "eth-1337", Format: FormatEthRLP, Payload: []byte{0x02, 0xc5, 0x82, 0x05, 0x39, 0x80, 0x80}},
		},
	}
}

func approve(t testing.TB, r *Request, s sigkey.Signer, officer string) Approval {
	t.Helper()
	a, err := SignApproval(ApprovalInput{
		RequestDigest: RequestDigest(r), Officer: officer, Expires: r.Expires,
		PolicyHash: policyHash, RosterHash: rosterHash,
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signedRequest is sampleRequest signed by the requester with two approvals.
func signedRequest(t testing.TB) *Request {
	t.Helper()
	r := sampleRequest()
	if err := SignRequest(r, requesterKey, "hot-wallet"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		s    sigkey.Signer
		name string
	}{{officerBob, "bob"}, {officerCarol, "carol"}} {
		if err := AddApproval(r, approve(t, r, o.s, o.name)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func sampleDetached(t testing.TB) *DetachedApproval {
	r := sampleRequest()
	return &DetachedApproval{Version: Version, RequestID: r.ID, RequestDigest: RequestDigest(r), Approval: approve(t, r, officerBob, "bob")}
}

func sampleSignedResponse(t testing.TB) *Response {
	r := sampleRequest()
	resp := &Response{
		Version: Version, RequestID: r.ID, RequestDigest: RequestDigest(r), Status: StatusSigned,
		Signed: []Transaction{
			{Network: "btc-regtest", Format: FormatPSBT, Payload: []byte("psbt\xff\x01\x00\x02\x22\x02")},
			{Network: "eth-1337", Format: FormatEthRLP, Payload: []byte{0x02, 0xc8, 0x82, 0x05, 0x39, 0x80, 0x80, 0x01, 0x02, 0x03}},
		},
		PolicyHash: policyHash, RosterHash: rosterHash,
		AuditSeq: 17, AuditHead: Digest(sha256.Sum256([]byte("audit 17"))), Created: 1767225700,
	}
	if err := SignResponse(resp, signerKey, signerKey.Public().Fingerprint()); err != nil {
		t.Fatal(err)
	}
	return resp
}

func sampleRefusedResponse(t testing.TB) *Response {
	r := sampleRequest()
	resp := &Response{
		Version: Version, RequestID: r.ID, RequestDigest: RequestDigest(r), Status: StatusRefused,
		Refusal:    &Refusal{Stage: "quorum", Code: "no-quorum", Reason: "1 of 2 required officer approvals (bob); carol's approval expired"},
		PolicyHash: policyHash, RosterHash: rosterHash,
		AuditSeq: 18, AuditHead: Digest(sha256.Sum256([]byte("audit 18"))), Created: 1767225800,
	}
	if err := SignResponse(resp, signerKey, signerKey.Public().Fingerprint()); err != nil {
		t.Fatal(err)
	}
	return resp
}

func mustEncode(t testing.TB, b Bundle) []byte {
	t.Helper()
	var (
		out []byte
		err error
	)
	switch v := b.(type) {
	case *Request:
		out, err = EncodeRequest(v)
	case *DetachedApproval:
		out, err = EncodeApproval(v)
	case *Response:
		out, err = EncodeResponse(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---- raw CBOR surgery for expfail fixtures ----

type pair struct {
	key []byte // encoded key
	val []byte // encoded value
}

// splitMap splits an encoded definite-length map with uint keys into
// ordered pairs.
func splitMap(t testing.TB, m []byte) []pair {
	t.Helper()
	var asMap map[uint64]cbor.RawMessage
	if err := cbor.Unmarshal(m, &asMap); err != nil {
		t.Fatal(err)
	}
	keys := make([]uint64, 0, len(asMap))
	for k := range asMap {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]pair, 0, len(keys))
	for _, k := range keys {
		kb, _ := cbor.Marshal(k)
		out = append(out, pair{key: kb, val: []byte(asMap[k])})
	}
	return out
}

func joinMap(ps []pair) []byte {
	out := []byte{0xa0 + byte(len(ps))} // test maps have < 24 pairs
	for _, p := range ps {
		out = append(out, p.key...)
		out = append(out, p.val...)
	}
	return out
}

func setPair(ps []pair, key uint64, val []byte) []pair {
	kb, _ := cbor.Marshal(key)
	out := append([]pair(nil), ps...)
	for i := range out {
		if string(out[i].key) == string(kb) {
			out[i].val = val
			return out
		}
	}
	return append(out, pair{key: kb, val: val})
}

func dropPair(ps []pair, key uint64) []pair {
	kb, _ := cbor.Marshal(key)
	var out []pair
	for _, p := range ps {
		if string(p.key) != string(kb) {
			out = append(out, p)
		}
	}
	return out
}

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func splitArray(t testing.TB, a []byte) []cbor.RawMessage {
	t.Helper()
	var out []cbor.RawMessage
	if err := cbor.Unmarshal(a, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func joinArray(items [][]byte) []byte {
	out := []byte{0x80 + byte(len(items))}
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

// withBody replaces the map body after the 5-byte tag header.
func withBody(orig []byte, body []byte) []byte {
	return append(append([]byte(nil), orig[:headerLen]...), body...)
}

func writeOrCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update once)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Fatalf("%s: bytes differ from the golden file\n got %x\nwant %x", name, got, want)
	}
}
