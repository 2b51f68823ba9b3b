package e2e

import (
	"bytes"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/wallet"
)

// TestRefusals runs every refusal that needs only the default roster and
// policy against one signer, in order (iceboxd holds the store exclusively).
// Each case checks exit 5, exactly one signed refusal in the output
// directory, the stage, code and reason, and the audit record.
func TestRefusals(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{})

	t.Run("no quorum: one approval", func(t *testing.T) {
		req := s.SweepBTC(t, "one-approval")
		s.Approve(t, req, "alice")
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "one-approval", "quorum", "no-quorum", "not met", "counted: alice")
	})

	t.Run("requester approving its own request", func(t *testing.T) {
		req := s.Request(t, "sweep", "self-approved", "dave", "--utxos", s.UTXOs, "--to", s.Dest.VaultBTC)
		s.Approve(t, req, "dave", "alice")
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "self-approved", "quorum", "no-quorum", `"dave"`, "requester-self-approval", "counted: alice")
	})

	t.Run("expired approval", func(t *testing.T) {
		req := s.SweepBTC(t, "expired-approval")
		if r := s.ApproveResult(t, req, "alice", "--ttl", "1s"); r.Code != 0 {
			t.Fatalf("%s", r)
		}
		s.Approve(t, req, "bob")
		exp := time.Unix(ReadRequest(t, req).Approvals[0].Expires, 0)
		time.Sleep(time.Until(exp) + 1100*time.Millisecond)
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "expired-approval", "quorum", "no-quorum", `"alice"`, "approval-expired", "counted: bob")
	})

	t.Run("approval replayed from another request", func(t *testing.T) {
		a := s.SweepBTC(t, "replay-source")
		s.Approve(t, a, "alice", "bob")
		b := ReadRequest(t, s.SweepBTC(t, "replay-target", "--fee-rate", "6"))
		for _, ap := range ReadRequest(t, a).Approvals {
			if err := bundle.AddApproval(b, ap); err != nil {
				t.Fatal(err)
			}
		}
		r := s.Sign(t, s.WriteRequest(t, b))
		s.ExpectRefused(t, r, "replay-target", "quorum", "no-quorum", `"alice"`, `"bob"`, "bad-signature")
	})

	t.Run("destination not allowlisted", func(t *testing.T) {
		req := s.Request(t, "withdraw", "outsider", "hot-1", "--utxos", s.UTXOs, "--pay", s.Dest.OutsiderBTC+"=150000")
		s.Approve(t, req, "alice", "bob")
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "outsider", "policy", "policy-denied", "deny-everything-else", "not covered by the withdrawal policy")
	})

	t.Run("fee rate over the policy's maximum", func(t *testing.T) {
		req := s.SweepBTC(t, "fee-too-high", "--fee-rate", "120")
		s.Approve(t, req, "alice", "bob")
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "fee-too-high", "policy", "policy-denied", "btc-sweep-to-vault", "max_fee_rate")
	})

	t.Run("transaction for a network the signer does not serve", func(t *testing.T) {
		req := s.forgeETH(t, "eth-mainnet", "eth-1", 1)
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "eth-mainnet", "parse", "network-not-configured", `"eth-1"`)
	})

	t.Run("mainnet transaction labelled as the served network", func(t *testing.T) {
		req := s.forgeETH(t, "eth-mislabelled", "eth-1337", 1)
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "eth-mislabelled", "parse", "bad-transaction", "chainId 1 does not match")
	})

	t.Run("tampered transaction byte after approval", func(t *testing.T) {
		path := s.SweepBTC(t, "tampered-payload")
		s.Approve(t, path, "alice", "bob")
		req := ReadRequest(t, path)
		p := req.Transactions[0].Payload
		p[len(p)-10] ^= 0x01
		r := s.Sign(t, s.WriteRequest(t, req))
		s.ExpectRefused(t, r, "tampered-payload", "requester", "bad-requester", "hot-1")
	})

	t.Run("tampered CBOR framing", func(t *testing.T) {
		path := s.SweepBTC(t, "tampered-framing")
		s.Approve(t, path, "alice", "bob")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[0] ^= 0x20 // the outer tag's major type: no longer a tag
		r := s.Sign(t, s.WriteFile(t, "tampered-framing.icebox", data))
		s.ExpectRefused(t, r, "", "decode", "malformed", "request bundle")
	})

	t.Run("amount altered after approval", func(t *testing.T) {
		old := s.SweepBTC(t, "altered", "--fee-rate", "5")
		s.Approve(t, old, "alice", "bob")
		// Same id, a higher fee so the vault receives another amount,
		// re-signed by the requester; the old approvals are carried over.
		altered := ReadRequest(t, s.SweepBTC(t, "altered", "--fee-rate", "9"))
		before := ReadRequest(t, old)
		if bytes.Equal(before.Transactions[0].Payload, altered.Transactions[0].Payload) {
			t.Fatal("the rebuilt request is unchanged")
		}
		for _, ap := range before.Approvals {
			if err := bundle.AddApproval(altered, ap); err != nil {
				t.Fatal(err)
			}
		}
		r := s.Sign(t, s.WriteRequest(t, altered))
		s.ExpectRefused(t, r, "altered", "quorum", "no-quorum", `"alice"`, `"bob"`, "bad-signature")
	})

	t.Run("unknown requester", func(t *testing.T) {
		req := s.Request(t, "sweep", "from-mallory", "mallory", "--utxos", s.UTXOs, "--to", s.Dest.VaultBTC)
		r := s.Sign(t, req)
		s.ExpectRefused(t, r, "from-mallory", "requester", "bad-requester", "mallory")
	})

	t.Run("requester signature by another roster member", func(t *testing.T) {
		req := ReadRequest(t, s.SweepBTC(t, "wrong-key"))
		if err := bundle.SignRequest(req, h.Party(t, "alice").Key, "hot-1"); err != nil {
			t.Fatal(err)
		}
		r := s.Sign(t, s.WriteRequest(t, req))
		s.ExpectRefused(t, r, "wrong-key", "requester", "bad-requester", "hot-1")
	})

	t.Run("oversize bundle refused before decoding", func(t *testing.T) {
		data := make([]byte, bundle.DefaultLimits().MaxRequestBytes+1)
		r := s.Sign(t, s.WriteFile(t, "huge.icebox", data))
		s.ExpectRefused(t, r, "", "decode", "malformed", "too large")
	})

	// Nothing above signed anything: the whole audit log holds no signed record.
	for _, rec := range s.Audit(t) {
		if rec.Kind == "signed" || rec.Kind == "intent" {
			t.Errorf("audit record %d is %s for %q: nothing may have been signed", rec.Seq, rec.Kind, rec.RequestID)
		}
	}
}

// forgeETH writes a request, signed by hot-1 and approved by alice and
// bob, holding one ETH transfer from our first ETH key to the vault with
// the given network label and EIP-155 chain id.
func (s *Signer) forgeETH(t testing.TB, id, network string, chainID uint64) string {
	t.Helper()
	var from string
	for _, e := range s.Manifest.Entries {
		if e.Network == "eth-1337" {
			from = e.Address
			break
		}
	}
	payload, err := eth.EncodeUnsigned(eth.UnsignedTx{From: from, Type: eth.TypeEIP1559, ChainID: chainID, Nonce: 0,
		To: s.Dest.VaultETH, Value: big.NewInt(1e18), GasLimit: 21000,
		MaxFeePerGas: big.NewInt(30e9), MaxPriorityFeePerGas: big.NewInt(1e9)})
	if err != nil {
		t.Fatal(err)
	}
	req, err := wallet.NewRequest(wallet.RequestInput{ID: id, Requester: "hot-1", Kind: bundle.KindSweep, Now: time.Now(), TTL: time.Hour,
		Transactions: []bundle.Transaction{{Network: network, Format: bundle.FormatEthRLP, Payload: payload}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.SignRequest(req, h.Party(t, "hot-1").Key, "hot-1"); err != nil {
		t.Fatal(err)
	}
	s.addApprovals(t, req, "alice", "bob")
	return s.WriteRequest(t, req)
}

// addApprovals signs approvals in process under the installed policy and roster.
func (s *Signer) addApprovals(t testing.TB, req *bundle.Request, officers ...string) {
	t.Helper()
	pol, ros := s.governanceHashes(t)
	for _, o := range officers {
		ap, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: bundle.RequestDigest(req), Officer: o,
			Expires: time.Now().Add(time.Hour).Unix(), PolicyHash: pol, RosterHash: ros}, h.Party(t, o).Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := bundle.AddApproval(req, ap); err != nil {
			t.Fatal(err)
		}
	}
}
