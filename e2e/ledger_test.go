package e2e

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/icebox-custody/icebox/wallet"
)

// utxoSubset writes a UTXO file holding the demo UTXOs at the given indexes.
func (s *Signer) utxoSubset(t testing.TB, idx ...int) string {
	t.Helper()
	var all wallet.UTXOFile
	readJSON(t, s.UTXOs, &all)
	sub := all
	sub.UTXOs = nil
	for _, i := range idx {
		sub.UTXOs = append(sub.UTXOs, all.UTXOs[i])
	}
	data, err := json.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	return s.WriteFile(t, "utxos.json", data)
}

// TestVelocity: with a 0.008 BTC daily velocity, a first sweep of
// 0.006 BTC signs and a second of 0.004 BTC is refused by policy.
func TestVelocity(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{Policy: func(d Destinations) string {
		return PolicyYAML(PolicyParams{Dest: d, BTCVelocity: "0.008 BTC", MaxFeeRate: "50 sat/vB"})
	}})
	// Demo UTXOs per address: 100k, 200k, 300k, 400k sat.
	first := s.Request(t, "sweep", "within-velocity", "hot-1", "--utxos", s.utxoSubset(t, 0, 1, 2), "--to", s.Dest.VaultBTC)
	s.Approve(t, first, "alice", "bob")
	s.ExpectSigned(t, s.Sign(t, first), "within-velocity", 1)

	second := s.Request(t, "sweep", "over-velocity", "hot-1", "--utxos", s.utxoSubset(t, 3), "--to", s.Dest.VaultBTC)
	s.Approve(t, second, "alice", "bob")
	s.ExpectRefused(t, s.Sign(t, second), "over-velocity", "policy", "policy-denied", "btc-sweep-to-vault", "velocity[0] per rule over 24h")
}

// TestReplayedRequest: the identical request again returns the very same
// response bytes (exit 0, nothing signed anew); the same id with other
// content is refused.
func TestReplayedRequest(t *testing.T) {
	t.Parallel()
	s := h.NewSigner(t, SignerOptions{})
	req := s.Request(t, "sweep", "replayed", "hot-1", "--utxos", s.utxoSubset(t, 0, 1), "--to", s.Dest.VaultBTC)
	s.Approve(t, req, "alice", "bob")
	first := s.Sign(t, req)
	s.ExpectSigned(t, first, "replayed", 1)

	again := s.Sign(t, req)
	s.ExpectSigned(t, again, "replayed", 1)
	if !bytes.Equal(first.Raw, again.Raw) {
		t.Fatal("identical re-submission: the response differs from the stored one")
	}
	if !bytes.Contains([]byte(again.Stdout), []byte("identical request seen before")) {
		t.Errorf("iceboxd did not say the response was the stored one:\n%s", again.Stdout)
	}

	other := s.Request(t, "sweep", "replayed", "hot-1", "--utxos", s.utxoSubset(t, 2), "--to", s.Dest.VaultBTC)
	s.Approve(t, other, "alice", "bob")
	s.ExpectRefused(t, s.Sign(t, other), "replayed", "replay", "request-id-reused", `"replayed"`, "was already used")

	// One signed record, for the first submission only.
	signed := 0
	for _, rec := range s.Audit(t) {
		if rec.Kind == "signed" {
			signed++
		}
	}
	if signed != 1 {
		t.Errorf("%d signed audit records, want 1", signed)
	}
}
