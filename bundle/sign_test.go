package bundle

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/icebox-custody/icebox/sigkey"
)

func TestRequestDigestExcludesSignaturesAndApprovals(t *testing.T) {
	r := sampleRequest()
	d0 := RequestDigest(r)
	if err := SignRequest(r, requesterKey, "hot-wallet"); err != nil {
		t.Fatal(err)
	}
	if RequestDigest(r) != d0 {
		t.Fatal("signing changed the request digest")
	}
	if err := AddApproval(r, approve(t, r, officerBob, "bob")); err != nil {
		t.Fatal(err)
	}
	if RequestDigest(r) != d0 {
		t.Fatal("adding an approval changed the request digest")
	}
	// The digest is the documented pre-image.
	unsigned, err := EncodeRequest(sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if want := Digest(sha256.Sum256(append([]byte(RequestDomain), unsigned...))); d0 != want {
		t.Fatalf("RequestDigest = %s, want SHA-256(domain || unsigned encoding) = %s", d0, want)
	}
}

func TestRequestDigestCoversEveryField(t *testing.T) {
	base := RequestDigest(sampleRequest())
	mutations := map[string]func(r *Request){
		"id":            func(r *Request) { r.ID += "x" },
		"created":       func(r *Request) { r.Created++ },
		"expires":       func(r *Request) { r.Expires++ },
		"requester":     func(r *Request) { r.Requester = "other" },
		"kind":          func(r *Request) { r.Kind = KindSweep },
		"reason":        func(r *Request) { r.Reason = "" },
		"network":       func(r *Request) { r.Transactions[0].Network = "btc-testnet" },
		"format":        func(r *Request) { r.Transactions[1].Format = FormatPSBT },
		"tx order":      func(r *Request) { r.Transactions[0], r.Transactions[1] = r.Transactions[1], r.Transactions[0] },
		"tx dropped":    func(r *Request) { r.Transactions = r.Transactions[:1] },
		"last tx byte":  func(r *Request) { p := r.Transactions[1].Payload; p[len(p)-1] ^= 1 },
		"first tx byte": func(r *Request) { r.Transactions[0].Payload[0] ^= 0x80 },
	}
	for name, mut := range mutations {
		r := sampleRequest()
		mut(r)
		if RequestDigest(r) == base {
			t.Errorf("changing %s left the digest unchanged", name)
		}
	}
}

func TestRequestSignature(t *testing.T) {
	r := signedRequest(t)
	if err := VerifyRequestSignature(r, requesterKey.Public()); err != nil {
		t.Fatal(err)
	}
	// Wrong key.
	if err := VerifyRequestSignature(r, officerBob.Public()); !errors.Is(err, sigkey.ErrBadSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	// Missing signature.
	u := sampleRequest()
	if err := VerifyRequestSignature(u, requesterKey.Public()); !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	// Signing as someone other than the named requester.
	if err := SignRequest(sampleRequest(), requesterKey, "mallory"); !errors.Is(err, ErrSignerMismatch) {
		t.Fatalf("sign as other: %v", err)
	}
	// P-256 works too (randomised signatures: verify, never compare bytes).
	p := newP256Signer(t)
	r2 := sampleRequest()
	if err := SignRequest(r2, p, "hot-wallet"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyRequestSignature(r2, p.Public()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyRequestSignature(r2, requesterKey.Public()); !errors.Is(err, ErrSignerMismatch) {
		t.Fatalf("algorithm mismatch: %v", err)
	}
}

// Flipping any byte of a signed request file must make it fail to decode or
// fail signature verification (or, for approvals, leave the requester
// signature valid but break that approval).
func TestTamperedRequestRefused(t *testing.T) {
	r := signedRequest(t)
	data := mustEncode(t, r)
	digest := RequestDigest(r)
	for i := range data {
		for _, flip := range []byte{0x01, 0x80} {
			bad := append([]byte(nil), data...)
			bad[i] ^= flip
			got, err := DecodeRequest(bad, Limits{})
			if err != nil {
				continue
			}
			if err := VerifyRequestSignature(got, requesterKey.Public()); err != nil {
				continue
			}
			// Requester signature still good: the flip hit an approval.
			if RequestDigest(got) != digest {
				t.Fatalf("byte %d ^ %#x: digest changed yet the signature verified", i, flip)
			}
			ok := 0
			for _, a := range got.Approvals {
				pub := officerBob.Public()
				if a.Officer == "carol" {
					pub = officerCarol.Public()
				}
				if VerifyApproval(digest, a, pub) == nil && a.PolicyHash == policyHash && a.RosterHash == rosterHash {
					ok++
				}
			}
			if ok == len(r.Approvals) && got.Approvals[0].Officer == "bob" && got.Approvals[1].Officer == "carol" {
				t.Fatalf("byte %d ^ %#x: tampering went unnoticed", i, flip)
			}
		}
	}
}

func TestApprovalBindsItsRequest(t *testing.T) {
	r1 := sampleRequest()
	r2 := sampleRequest()
	r2.ID = "wd-2026-000043"
	a := approve(t, r1, officerBob, "bob")
	if err := VerifyApproval(RequestDigest(r1), a, officerBob.Public()); err != nil {
		t.Fatal(err)
	}
	if err := VerifyApproval(RequestDigest(r2), a, officerBob.Public()); !errors.Is(err, sigkey.ErrBadSignature) {
		t.Fatalf("approval for another request verified: %v", err)
	}
	// Another officer's key, or a renamed officer, does not verify.
	if err := VerifyApproval(RequestDigest(r1), a, officerCarol.Public()); !errors.Is(err, sigkey.ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	renamed := a
	renamed.Officer = "carol"
	if err := VerifyApproval(RequestDigest(r1), renamed, officerBob.Public()); !errors.Is(err, sigkey.ErrBadSignature) {
		t.Fatalf("renamed officer: %v", err)
	}
	// A detached approval for r1 is refused when merged into r2.
	d := &DetachedApproval{Version: Version, RequestID: r1.ID, RequestDigest: RequestDigest(r1), Approval: a}
	if err := AddDetachedApproval(r2, d); !errors.Is(err, ErrSignerMismatch) {
		t.Fatalf("merged into the wrong request: %v", err)
	}
	if err := AddDetachedApproval(r1, d); err != nil || len(r1.Approvals) != 1 {
		t.Fatalf("merge: %v, %d approvals", err, len(r1.Approvals))
	}
}

func TestAddApprovalReplacesSameOfficer(t *testing.T) {
	r := sampleRequest()
	a1 := approve(t, r, officerBob, "bob")
	if err := AddApproval(r, a1); err != nil {
		t.Fatal(err)
	}
	if err := AddApproval(r, approve(t, r, officerCarol, "carol")); err != nil {
		t.Fatal(err)
	}
	renewed, err := SignApproval(ApprovalInput{RequestDigest: RequestDigest(r), Officer: "bob", Expires: r.Expires + 60, PolicyHash: policyHash, RosterHash: rosterHash}, officerBob)
	if err != nil {
		t.Fatal(err)
	}
	if err := AddApproval(r, renewed); err != nil {
		t.Fatal(err)
	}
	if len(r.Approvals) != 2 || r.Approvals[0].Officer != "bob" || r.Approvals[0].Expires != r.Expires+60 {
		t.Fatalf("approvals after renewal: %+v", r.Approvals)
	}
	// Invalid approvals are refused and leave r unchanged.
	bad := renewed
	bad.Value = nil
	if err := AddApproval(r, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty signature accepted: %v", err)
	}
	// The cap holds.
	for i := len(r.Approvals); i < DefaultLimits().MaxApprovals; i++ {
		a := a1
		a.Officer = "officer-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if err := AddApproval(r, a); err != nil {
			t.Fatal(err)
		}
	}
	extra := a1
	extra.Officer = "one-too-many"
	if err := AddApproval(r, extra); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("approval over the cap: %v", err)
	}
}

func TestResponseSignature(t *testing.T) {
	for _, resp := range []*Response{sampleSignedResponse(t), sampleRefusedResponse(t)} {
		data := mustEncode(t, resp)
		got, err := DecodeResponse(data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyResponse(got, signerKey.Public()); err != nil {
			t.Fatal(err)
		}
		if err := VerifyResponse(got, requesterKey.Public()); !errors.Is(err, ErrSignerMismatch) {
			t.Fatalf("other key: %v", err)
		}
		// Every single-bit flip is refused by decoding or verification.
		for i := range data {
			bad := append([]byte(nil), data...)
			bad[i] ^= 0x01
			g, err := DecodeResponse(bad, Limits{})
			if err != nil {
				continue
			}
			if err := VerifyResponse(g, signerKey.Public()); err == nil {
				t.Fatalf("byte %d flipped, response still verifies", i)
			}
		}
	}
	// Wrong fingerprint guard.
	resp := sampleRefusedResponse(t)
	resp.SignerSig = Signature{}
	if err := SignResponse(resp, signerKey, requesterKey.Public().Fingerprint()); !errors.Is(err, ErrSignerMismatch) {
		t.Fatalf("fingerprint guard: %v", err)
	}
	if !resp.SignerSig.isZero() {
		t.Fatal("failed SignResponse modified the response")
	}
	if err := VerifyResponse(resp, signerKey.Public()); !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	// The response digest excludes the signature and covers the refusal.
	d := ResponseDigest(sampleRefusedResponse(t))
	r2 := sampleRefusedResponse(t)
	r2.Refusal.Code = "expired"
	if ResponseDigest(r2) == d {
		t.Fatal("refusal code not covered by the response digest")
	}
}
