package bundle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestGoldenBytes(t *testing.T) {
	cases := []struct {
		file string
		b    Bundle
	}{
		{"golden_request.icebox", signedRequest(t)},
		{"golden_request_unsigned.icebox", sampleRequest()},
		{"golden_approval.icebox", sampleDetached(t)},
		{"golden_response_signed.icebox", sampleSignedResponse(t)},
		{"golden_response_refused.icebox", sampleRefusedResponse(t)},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data := mustEncode(t, c.b)
			writeOrCompare(t, c.file, data)
			// The file decodes to the same value and the type is sniffed.
			got, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.b) {
				t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", got, c.b)
			}
			if typ, _ := Sniff(data); typ != c.b.BundleType() {
				t.Fatalf("Sniff = %s, want %s", typ, c.b.BundleType())
			}
		})
	}
}

func TestGoldenDescribe(t *testing.T) {
	for _, name := range []string{"golden_request", "golden_approval", "golden_response_signed", "golden_response_refused"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".icebox"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Describe(&out, b); err != nil {
				t.Fatal(err)
			}
			writeOrCompare(t, name+".txt", out.Bytes())
		})
	}
}

func TestDescribeRequestContent(t *testing.T) {
	r := signedRequest(t)
	var out bytes.Buffer
	if err := Describe(&out, r); err != nil {
		t.Fatal(err)
	}
	d := RequestDigest(r)
	for _, want := range []string{
		"wd-2026-000042", "withdrawal", "hot-wallet", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z",
		"btc-regtest, eth-1337", "2 (psbt 1, eth-rlp 1)", "Customer withdrawal #8812",
		d.String(), DigestWords(d), "officer bob", "officer carol", policyHash.String()[:16], "not verified",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Describe output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDescribeQuotesHostileText(t *testing.T) {
	r := sampleRequest()
	r.Reason = "ok\x1b[2J" // an escape sequence: Validate refuses it, Describe must not emit it raw
	var out bytes.Buffer
	if err := Describe(&out, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Fatalf("raw escape in output: %q", out.String())
	}
	if !strings.Contains(out.String(), `"ok\x1b[2J"`) {
		t.Fatalf("reason not quoted: %s", out.String())
	}
}

func TestDigestWords(t *testing.T) {
	var d Digest
	for i := range d {
		d[i] = byte(i * 37)
	}
	// bytes 00 25 4a 6f 94 b9 de 03: row 0x00 #0, row 0x20 #5, row 0x48 #2, row 0x68 #7, row 0x90 #4, row 0xb8 #1, row 0xd8 #6, row 0x00 #3
	want := "able data game jowl meow rich urge apex"
	if got := DigestWords(d); got != want {
		t.Fatalf("DigestWords = %q, want %q", got, want)
	}
	if bytewords[0xff] != "zoom" || bytewords[0x80] != "lava" {
		t.Fatal("word table is not the BCR-2020-012 table")
	}
}

// expfailCases builds every malformed fixture from the golden encodings.
// Name prefix picks the decoder: expfail_request_*, expfail_approval_*,
// expfail_response_*.
func expfailCases(t *testing.T) []struct {
	name  string
	data  []byte
	want  error
	field string
} {
	req := mustEncode(t, signedRequest(t))
	appr := mustEncode(t, sampleDetached(t))
	resp := mustEncode(t, sampleRefusedResponse(t))
	rp := splitMap(t, req[headerLen:])
	txs := splitArray(t, rp[7].val) // key 8
	tx0 := splitMap(t, txs[0])
	apprs := splitArray(t, rp[9].val) // key 10
	ap0 := splitMap(t, apprs[0])

	swap := append([]pair(nil), rp...)
	swap[1], swap[2] = swap[2], swap[1]

	txUnknown := joinArray([][]byte{joinMap(setPair(tx0, 4, enc(t, "x"))), txs[1]})
	txBadNet := joinArray([][]byte{joinMap(setPair(tx0, 1, enc(t, "btc regtest"))), txs[1]})
	txTagged := joinArray([][]byte{joinMap(setPair(tx0, 3, append([]byte{0xd8, 0x18}, enc(t, []byte{1, 2})...))), txs[1]})
	shortPolicy := joinArray([][]byte{joinMap(setPair(ap0, 3, enc(t, make([]byte, 31)))), apprs[1]})
	dupOfficer := joinArray([][]byte{apprs[0], apprs[0]})

	dupKey := append(append([]pair(nil), rp[:2]...), rp[1:]...)
	indef := append([]byte{0xbf}, joinMap(rp)[1:]...)
	indef = append(indef, 0xff)

	respP := splitMap(t, resp[headerLen:])
	apP := splitMap(t, appr[headerLen:])

	return []struct {
		name  string
		data  []byte
		want  error
		field string
	}{
		{"expfail_request_unknown_field", withBody(req, joinMap(setPair(rp, 11, enc(t, 1)))), ErrMalformed, "request: malformed: unknown field 11"},
		{"expfail_request_unknown_tx_field", withBody(req, joinMap(setPair(rp, 8, txUnknown))), ErrMalformed, "request.transactions[0]: malformed: unknown field 4"},
		{"expfail_request_duplicate_key", withBody(req, joinMap(dupKey)), ErrMalformed, "duplicate map key 2"},
		{"expfail_request_trailing_byte", append(append([]byte(nil), req...), 0x00), ErrMalformed, "trailing bytes"},
		{"expfail_request_truncated", req[:len(req)-1], ErrMalformed, "request"},
		{"expfail_request_header_only", req[:headerLen], ErrMalformed, "request"},
		{"expfail_request_noncanonical_int", withBody(req, joinMap(setPair(rp, 3, []byte{0x1b, 0, 0, 0, 0, 0x69, 0x55, 0xb9, 0x00}))), ErrNonCanonical, "request"},
		{"expfail_request_noncanonical_map_order", withBody(req, joinMap(swap)), ErrNonCanonical, "request"},
		{"expfail_request_empty_reason_present", withBody(req, joinMap(setPair(rp, 7, enc(t, "")))), ErrNonCanonical, "request"},
		{"expfail_request_indefinite_length", withBody(req, indef), ErrMalformed, "request"},
		{"expfail_request_wrong_version", withBody(req, joinMap(setPair(rp, 1, enc(t, 2)))), ErrVersion, "request.version"},
		{"expfail_request_expiry_before_created", withBody(req, joinMap(setPair(rp, 4, enc(t, 1767225599)))), ErrInvalid, "request.expires"},
		{"expfail_request_missing_expires", withBody(req, joinMap(dropPair(rp, 4))), ErrInvalid, "request.expires"},
		{"expfail_request_empty_transactions", withBody(req, joinMap(setPair(rp, 8, []byte{0x80}))), ErrInvalid, "request.transactions"},
		{"expfail_request_bad_network", withBody(req, joinMap(setPair(rp, 8, txBadNet))), ErrInvalid, "request.transactions[0].network"},
		{"expfail_request_nested_tag", withBody(req, joinMap(setPair(rp, 8, txTagged))), ErrMalformed, "request"},
		{"expfail_request_float_created", withBody(req, joinMap(setPair(rp, 3, enc(t, 1767225600.5)))), ErrMalformed, "created"},
		{"expfail_request_bad_kind", withBody(req, joinMap(setPair(rp, 6, enc(t, "steal")))), ErrInvalid, "request.kind"},
		{"expfail_request_control_in_reason", withBody(req, joinMap(setPair(rp, 7, enc(t, "ok\x1b[2J")))), ErrInvalid, "request.reason"},
		{"expfail_request_short_policy_hash", withBody(req, joinMap(setPair(rp, 10, shortPolicy))), ErrInvalid, "request.approvals[0].policy_hash"},
		{"expfail_request_duplicate_officer", withBody(req, joinMap(setPair(rp, 10, dupOfficer))), ErrInvalid, "request.approvals[1].officer"},
		{"expfail_request_huge_length_header", withBody(req, joinMap(setPair(rp, 8, append([]byte{0x81, 0xa3, 0x01, 0x61, 0x78, 0x02, 0x64, 'p', 's', 'b', 't', 0x03, 0x5b, 0, 0, 1, 0, 0, 0, 0, 0}, 0x00)))), ErrMalformed, "request"},
		{"expfail_request_is_response", resp, ErrWrongType, "request"},
		{"expfail_request_not_a_bundle", []byte("psbt\xff\x01\x00\x02"), ErrWrongType, "request"},
		{"expfail_approval_unknown_field", withBody(appr, joinMap(setPair(apP, 5, enc(t, "x")))), ErrMalformed, "approval: malformed: unknown field 5"},
		{"expfail_approval_unknown_nested_field", withBody(appr, joinMap(setPair(apP, 4, joinMap(setPair(splitMap(t, apP[3].val), 7, enc(t, 0)))))), ErrMalformed, "approval.approval: malformed: unknown field 7"},
		{"expfail_approval_is_request", req, ErrWrongType, "approval"},
		{"expfail_approval_zero_digest", withBody(appr, joinMap(setPair(apP, 3, enc(t, make([]byte, 32))))), ErrInvalid, "approval.request_digest"},
		{"expfail_response_refused_without_refusal", withBody(resp, joinMap(dropPair(respP, 6))), ErrInvalid, "response.refusal"},
		{"expfail_response_bad_status", withBody(resp, joinMap(setPair(respP, 4, enc(t, "maybe")))), ErrInvalid, "response.status"},
		{"expfail_response_wrong_version", withBody(resp, joinMap(setPair(respP, 1, enc(t, 0)))), ErrVersion, "response.version"},
		{"expfail_response_is_request", req, ErrWrongType, "response"},
	}
}

func decodeByName(name string, data []byte) (Bundle, error) {
	switch {
	case strings.HasPrefix(name, "expfail_request_"):
		return DecodeRequest(data, Limits{})
	case strings.HasPrefix(name, "expfail_approval_"):
		return DecodeApproval(data, Limits{})
	default:
		return DecodeResponse(data, Limits{})
	}
}

func TestExpfail(t *testing.T) {
	cases := expfailCases(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeOrCompare(t, c.name+".icebox", c.data)
			b, err := decodeByName(c.name, c.data)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", b)
			}
			if !reflect.ValueOf(b).IsNil() {
				t.Fatalf("a value came back with the error")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %q does not wrap %q", err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q is not a *FieldError", err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name %q", err, c.field)
			}
		})
	}
	// Every expfail file on disk is covered by a case (no stale fixtures).
	files, _ := filepath.Glob("testdata/expfail_*.icebox")
	if len(files) != len(cases) {
		t.Fatalf("%d expfail files on disk, %d cases", len(files), len(cases))
	}
}

func TestOversizeRefusedBeforeParsing(t *testing.T) {
	lim := DefaultLimits()
	// Garbage that is not even a bundle: the size error must win, proving
	// the length is checked before any byte is read.
	big := make([]byte, lim.MaxRequestBytes+1)
	_, err := DecodeRequest(big, Limits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		_, _ = DecodeRequest(big, Limits{})
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 10; perCall > 4096 {
		t.Fatalf("refusing an oversize input allocated %d bytes per call; it must not parse", perCall)
	}

	// Tight limits on a real bundle.
	data := mustEncode(t, signedRequest(t))
	for _, c := range []struct {
		lim   Limits
		field string
	}{
		{Limits{MaxRequestBytes: len(data) - 1}, "request: too large"},
		{Limits{MaxTransactions: 1}, "request.transactions: too large"},
		{Limits{MaxPayloadBytes: 7}, "request.transactions[0].payload: too large"},
		{Limits{MaxApprovals: 1}, "request.approvals: too large"},
		{Limits{MaxIDLen: 5}, "request.id: too large"},
		{Limits{MaxNameLen: 5}, "request.requester: too large"},
		{Limits{MaxReasonLen: 5}, "request.reason: too large"},
		{Limits{MaxSignatureLen: 63}, "request.requester_sig.value: too large"},
	} {
		if _, err := DecodeRequest(data, c.lim); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("limits %+v: got %v, want %q", c.lim, err, c.field)
		}
	}
	for _, c := range []struct {
		lim  Limits
		data []byte
		fn   func([]byte, Limits) error
	}{
		{Limits{MaxApprovalBytes: 10}, mustEncode(t, sampleDetached(t)), func(d []byte, l Limits) error { _, err := DecodeApproval(d, l); return err }},
		{Limits{MaxResponseBytes: 10}, mustEncode(t, sampleSignedResponse(t)), func(d []byte, l Limits) error { _, err := DecodeResponse(d, l); return err }},
	} {
		if err := c.fn(c.data, c.lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("limits %+v: got %v, want ErrTooLarge", c.lim, err)
		}
	}
	if _, err := DecodeRequest(data, Limits{MaxTransactions: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative limit accepted: %v", err)
	}
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	data := mustEncode(t, signedRequest(t))
	r, err := DecodeRequest(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before := RequestDigest(r)
	for i := range data {
		data[i] ^= 0xff
	}
	if RequestDigest(r) != before {
		t.Fatal("decoded request shares memory with the input buffer")
	}
}

func TestValidateDoesNotMutate(t *testing.T) {
	r := signedRequest(t)
	r.Transactions = append(r.Transactions, Transaction{Network: "", Format: "x"}) // invalid
	snapshot := mustDeepCopy(r)
	if err := r.Validate(Limits{}); err == nil {
		t.Fatal("invalid request validated")
	}
	if !reflect.DeepEqual(r, snapshot) {
		t.Fatal("Validate modified its input")
	}
	resp := sampleSignedResponse(t)
	respCopy := *resp
	_ = resp.Validate(Limits{MaxTransactions: 1})
	if !reflect.DeepEqual(*resp, respCopy) {
		t.Fatal("Response.Validate modified its input")
	}
}

func mustDeepCopy(r *Request) *Request {
	c := *r
	c.Transactions = append([]Transaction(nil), r.Transactions...)
	c.Approvals = append([]Approval(nil), r.Approvals...)
	return &c
}

func TestEncodeRefusesInvalid(t *testing.T) {
	r := sampleRequest()
	r.Transactions[1].Network = "../../etc"
	if _, err := EncodeRequest(r); err != nil {
		t.Fatalf("printable network refused: %v", err)
	}
	r.Expires = r.Created
	if _, err := EncodeRequest(r); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "request.expires") {
		t.Fatalf("got %v", err)
	}
	resp := sampleRefusedResponse(t)
	resp.Signed = sampleRequest().Transactions
	if _, err := EncodeResponse(resp); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "response.signed") {
		t.Fatalf("got %v", err)
	}
}

func TestRefusalOfUndecodableRequest(t *testing.T) {
	// A refusal at the decode stage knows neither id nor digest.
	resp := &Response{Version: Version, Status: StatusRefused, Created: 1767225900,
		Refusal: &Refusal{Stage: "decode", Code: "malformed", Reason: "request: malformed: unexpected EOF"}}
	if err := SignResponse(resp, signerKey, signerKey.Public().Fingerprint()); err != nil {
		t.Fatal(err)
	}
	data := mustEncode(t, resp)
	got, err := DecodeResponse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyResponse(got, signerKey.Public()); err != nil {
		t.Fatal(err)
	}
}

// The golden hex printed in docs/bundle-format.md matches testdata.
func TestDocGoldenHex(t *testing.T) {
	doc, err := os.ReadFile("../docs/bundle-format.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(doc)), "")
	for _, name := range []string{"golden_request_unsigned", "golden_request", "golden_approval", "golden_response_signed", "golden_response_refused"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".icebox"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(flat, hex.EncodeToString(data)) {
			t.Errorf("docs/bundle-format.md does not show the current bytes of %s", name)
		}
	}
	d := RequestDigest(sampleRequest())
	if !strings.Contains(flat, d.String()) || !strings.Contains(string(doc), DigestWords(d)) {
		t.Error("docs/bundle-format.md does not show the current request digest")
	}
}
