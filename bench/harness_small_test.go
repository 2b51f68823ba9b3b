package bench

import (
	"context"
	"testing"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
)

// TestHarness runs the benchmark harness on tiny inputs against the real
// SoftHSM2 token: the requests it builds are signed by the pipeline, the
// signed Ethereum transactions recover to our senders, and the raw signer
// produces signatures.
func TestHarness(t *testing.T) {
	e := newEnv(t, t.TempDir())
	ctx := context.Background()
	cases := []struct {
		name string
		kind bundle.RequestKind
		txs  []bundle.Transaction
		want int
	}{
		{"ok_eth_withdrawal", bundle.KindWithdrawal, e.ethTxs(1), 1},
		{"ok_eth_sweep_batch", bundle.KindSweep, e.ethTxs(7), 7},
		{"ok_btc_sweep_12_inputs", bundle.KindSweep, e.btcSweep(12), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := process(ctx, e.side.pipeline, e.request(tc.kind, tc.txs))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSigned(out, tc.want); err != nil {
				t.Fatal(err)
			}
			for i, s := range out.Response.Signed {
				if s.Format != bundle.FormatEthRLP {
					continue
				}
				st, err := e.ethAd.DecodeSigned(s.Payload)
				if err != nil {
					t.Fatalf("signed[%d]: %v", i, err)
				}
				if st.Sender != e.ethFrom[i%len(e.ethFrom)] {
					t.Fatalf("signed[%d]: sender %s, want %s", i, st.Sender, e.ethFrom[i%len(e.ethFrom)])
				}
			}
		})
	}
	t.Run("expfail_replayed_nonce_refused", func(t *testing.T) {
		e.nonce[e.ethFrom[0]] = 0 // the first withdrawal used nonce 0
		_, out, err := process(ctx, e.side.pipeline, e.request(bundle.KindWithdrawal, e.ethTxs(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSigned(out, 1); err == nil {
			t.Fatal("a second transaction for a used nonce was signed")
		}
	})
	t.Run("ok_raw_signer", func(t *testing.T) {
		raw := pkcs11test.OpenRawSigner(t, pkcs11test.Token{ModulePath: e.tok.ModulePath, Label: e.tok.Label, UserPIN: e.tok.UserPIN},
			e.side.keys[0].Ref, 2)
		defer raw.Close()
		d := make([]byte, 32)
		for i := 0; i < raw.Sessions(); i++ {
			sig, err := raw.Sign(i, d)
			if err != nil || len(sig) != 64 {
				t.Fatalf("session %d: %d bytes, %v", i, len(sig), err)
			}
		}
	})
}
