package e2e

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/store/audit"
)

// TestBTCBatchedSweep: 12 demo UTXOs swept with at most 5 inputs per
// transaction (3 PSBTs), approved by 2 of the officers, signed in the HSM,
// finalized into raw transactions that pass the script engine.
func TestBTCBatchedSweep(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{})
	req := s.SweepBTC(t, "btc-sweep", "--max-inputs", "5", "--fee-rate", "5")
	s.Approve(t, req, "alice", "carol")
	r := s.Sign(t, req)
	resp := s.ExpectSigned(t, r, "btc-sweep", 3)
	request := ReadRequest(t, req)
	if resp.RequestDigest != bundle.RequestDigest(request) {
		t.Fatalf("response digest %s, request digest %s", resp.RequestDigest, bundle.RequestDigest(request))
	}

	out := filepath.Join(s.Dir, "signed")
	fin := s.MustIcebox(t, append([]string{"finalize", filepath.Join(r.OutDir, "response.icebox"), "--request", req, "-o", out}, s.ManifestFlags()...)...)
	if !strings.Contains(fin.Stdout, "wrote 3 ready-to-broadcast transactions") {
		t.Errorf("finalize output:\n%s", fin.Stdout)
	}
	inputs := 0
	for i, st := range resp.Signed {
		// The signer's PSBT finalizes and passes btcd's script engine
		// (btc.Finalize runs every input) ...
		_, raw, err := btc.Finalize(st.Payload)
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		// ... and is exactly what finalize wrote.
		hexFile, err := os.ReadFile(filepath.Join(out, "00"+string(rune('0'+i))+"-btc-regtest.hex"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(hexFile)) != hex.EncodeToString(raw) {
			t.Errorf("transaction %d: finalize wrote another raw transaction", i)
		}
		ad := s.adapter(t, chain.BTCRegtest)
		tx, err := ad.Parse(request.Transactions[i].Payload)
		if err != nil {
			t.Fatal(err)
		}
		sum := tx.Summary()
		inputs += len(sum.Inputs)
		if len(sum.Inputs) > 5 {
			t.Errorf("transaction %d has %d inputs, cap 5", i, len(sum.Inputs))
		}
	}
	if inputs != 12 {
		t.Errorf("swept %d inputs, want all 12", inputs)
	}

	recs := s.Audit(t)
	last := recs[len(recs)-1]
	rec, _ := findRecord(recs, resp.AuditSeq)
	if rec.Kind != audit.KindSigned || rec.RequestID != "btc-sweep" || len(rec.TxIDs) != 3 {
		t.Errorf("audit record %d: %+v", resp.AuditSeq, rec)
	}
	if strings.Join(rec.Approvers, ",") != "alice,carol" {
		t.Errorf("audit approvers %v", rec.Approvers)
	}
	if last.Seq < resp.AuditSeq {
		t.Errorf("audit log ends at %d, before the response's record %d", last.Seq, resp.AuditSeq)
	}
}

// TestETHSweep: native ETH and the ERC-20 token from three addresses, two
// approvals; every signed transaction recovers to our manifest address.
func TestETHSweep(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{})
	req := s.SweepETH(t, "eth-sweep")
	s.Approve(t, req, "bob", "dave")
	r := s.Sign(t, req)
	resp := s.ExpectSigned(t, r, "eth-sweep", 6)
	out := filepath.Join(s.Dir, "signed")
	s.MustIcebox(t, append([]string{"finalize", filepath.Join(r.OutDir, "response.icebox"), "--request", req, "-o", out}, s.ManifestFlags()...)...)

	ad := s.adapter(t, "eth-1337").(*eth.Adapter)
	own := map[string]bool{}
	for _, e := range s.Manifest.Entries {
		if e.Network == "eth-1337" {
			own[strings.ToLower(e.Address)] = true
		}
	}
	request := ReadRequest(t, req)
	tokens, native := 0, 0
	for i, st := range resp.Signed {
		signed, err := ad.DecodeSigned(st.Payload)
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		if !own[strings.ToLower(signed.Sender)] {
			t.Errorf("transaction %d: sender %s is not a manifest address", i, signed.Sender)
		}
		tx, err := ad.Parse(request.Transactions[i].Payload)
		if err != nil {
			t.Fatal(err)
		}
		if want := tx.Summary(); signed.Summary.ID != want.ID || !strings.EqualFold(signed.Sender, want.From) {
			t.Errorf("transaction %d: signed %s from %s, requested %s from %s", i, signed.Summary.ID, signed.Sender, want.ID, want.From)
		}
		switch {
		case strings.EqualFold(signed.Summary.To, DemoToken):
			tokens++
		case strings.EqualFold(signed.Summary.To, s.Dest.VaultETH):
			native++
		default:
			t.Errorf("transaction %d goes to %s", i, signed.Summary.To)
		}
		hexFile, err := os.ReadFile(filepath.Join(out, "00"+string(rune('0'+i))+"-eth-1337.hex"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(hexFile)) != "0x"+hex.EncodeToString(st.Payload) {
			t.Errorf("transaction %d: finalize wrote other bytes", i)
		}
	}
	if tokens != 3 || native != 3 {
		t.Errorf("%d token and %d native transfers, want 3 and 3", tokens, native)
	}
}
