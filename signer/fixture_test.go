package signer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/signer"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
	"github.com/icebox-custody/icebox/store/storetest"
	"github.com/icebox-custody/icebox/wallet"
)

// fixture is a real signer in process: a SoftHSM2 token with two BTC keys
// and one ETH key, the token's identity key, a real bbolt store on a temp
// dir with a settable clock, and a roster and policy parsed from YAML.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	hsm      *pkcs11.HSM
	identity sigkey.Signer
	env      *storetest.Env
	store    *store.Store
	adapters map[chain.Network]chain.Adapter
	roster   *quorum.Roster
	policy   *policy.Engine
	// policyYAML is the text f.policy was parsed from.
	policyYAML string
	parties    map[string]*storetest.Ed25519Signer
	btcKeys    []chain.OwnKey
	ethKey     chain.OwnKey
	ethAddr    string
	vault      string
	vaultETH   string
	utxos      []btc.UTXO
	ethNonce   uint64
}

const (
	btcNet = chain.BTCRegtest
	ethNet = chain.Network("eth-1337")
)

// quiet discards operational logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// generator is the secp256k1 generator point, compressed: a valid key for
// the vault address (its owner does not matter in these tests).
var generator = []byte{0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b, 0x07,
	0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tok := softhsmtest.NewToken(t, softhsmtest.Options{})
	h, err := pkcs11.Open(pkcs11.Config{ModulePath: tok.ModulePath, TokenLabel: tok.Label, PINFile: tok.PINFile,
		Sessions: 2, PINFailureFile: filepath.Join(t.TempDir(), "pin-failures"), Logger: quiet})
	if err != nil {
		t.Fatalf("open token: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, hsm: h, env: storetest.NewEnv(t), parties: map[string]*storetest.Ed25519Signer{}}
	if f.identity, _, err = h.EnsureIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	f.store = f.env.MustOpen(t)

	for i := 0; i < 2; i++ {
		k, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: fmt.Sprintf("btc-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		f.btcKeys = append(f.btcKeys, chain.OwnKey{Ref: k.Ref, PublicKey: k.PublicKey})
	}
	k, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: "eth-0"})
	if err != nil {
		t.Fatal(err)
	}
	f.ethKey = chain.OwnKey{Ref: k.Ref, PublicKey: k.PublicKey}
	if f.ethAddr, err = eth.Address(k.PublicKey); err != nil {
		t.Fatal(err)
	}
	btcAds, err := registry.Adapters([]chain.Network{btcNet}, f.btcKeys)
	if err != nil {
		t.Fatal(err)
	}
	ethAds, err := registry.Adapters([]chain.Network{ethNet}, []chain.OwnKey{f.ethKey})
	if err != nil {
		t.Fatal(err)
	}
	f.adapters = map[chain.Network]chain.Adapter{btcNet: btcAds[btcNet], ethNet: ethAds[ethNet]}

	if f.vault, err = btc.P2WPKHAddress(generator, btcNet); err != nil {
		t.Fatal(err)
	}
	if f.vaultETH, err = eth.Address(generator); err != nil {
		t.Fatal(err)
	}
	// Eight UTXOs: four per BTC key, 100k..400k sat.
	for i, key := range f.btcKeys {
		addr, err := btc.P2WPKHAddress(key.PublicKey, btcNet)
		if err != nil {
			t.Fatal(err)
		}
		outs := make([]btc.FundingOutput, 4)
		for j := range outs {
			outs[j] = btc.FundingOutput{Address: addr, Amount: int64(100_000 * (j + 1))}
		}
		raw, txid, err := btc.FundingTx(btcNet, fmt.Sprintf("fixture/%d", i), outs)
		if err != nil {
			t.Fatal(err)
		}
		for j, o := range outs {
			f.utxos = append(f.utxos, btc.UTXO{Outpoint: fmt.Sprintf("%s:%d", txid, j), Amount: o.Amount, PrevTx: raw, KeyPubKey: key.PublicKey})
		}
	}

	for _, id := range []string{"alice", "bob", "carol", "hot-1"} {
		f.parties[id] = storetest.NewEd25519Signer("party/" + id)
	}
	rosterYAML := fmt.Sprintf(`version: 1
admin_quorum: 2
members:
  - {id: alice, key: %s, roles: [officer, admin]}
  - {id: bob, key: %s, roles: [officer, admin]}
  - {id: carol, key: %s, roles: [officer]}
  - {id: hot-1, key: %s, roles: [requester]}
`, f.parties["alice"].Public(), f.parties["bob"].Public(), f.parties["carol"].Public(), f.parties["hot-1"].Public())
	if f.roster, err = quorum.ParseRoster("roster.yaml", []byte(rosterYAML)); err != nil {
		t.Fatal(err)
	}
	policyYAML := fmt.Sprintf(`version: 1
name: signer tests
allowlists:
  vault: [%s, "%s"]
approver_groups:
  treasury: [alice, bob, carol]
requester_groups:
  hot: [hot-1]
rules:
  - name: btc-sweep
    match: {network: [btc-regtest], asset: BTC, kind: [sweep], destination: [vault], requester_group: [hot]}
    limits: {max_fee_rate: "50 sat/vB"}
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: eth-sweep
    match: {network: [eth-1337], kind: [sweep], destination: [vault], requester_group: [hot]}
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: deny-everything-else
    action: deny
    reason: not covered
`, f.vault, f.vaultETH)
	f.setPolicy(policyYAML)
	return f
}

// setPolicy parses text as the fixture's policy (requests made afterwards
// are approved under its hash).
func (f *fixture) setPolicy(text string) {
	f.t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(text))
	if err != nil {
		f.t.Fatal(err)
	}
	if f.policy, err = policy.NewEngine(p); err != nil {
		f.t.Fatal(err)
	}
	f.policyYAML = text
}

// pipeline returns a pipeline over the fixture with hsm as its signer.
func (f *fixture) pipeline(h hsm.Signer) *signer.Pipeline {
	f.t.Helper()
	var own []string
	for _, k := range f.btcKeys {
		a, _ := btc.P2WPKHAddress(k.PublicKey, btcNet)
		own = append(own, a)
	}
	p, err := signer.New(signer.Config{
		Adapters: f.adapters, Policy: f.policy, Roster: f.roster, Store: f.store, HSM: h,
		Identity: f.identity, Clock: f.env.Clock.Now, ClockSkew: time.Minute, Workers: 1,
		OwnAddresses: append(own, f.ethAddr), Logger: quiet,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// sweepTxs builds BTC sweep transactions of the UTXOs at idx to the vault.
func (f *fixture) sweepTxs(maxInputs int, feeRate int64, idx ...int) []bundle.Transaction {
	f.t.Helper()
	var us []btc.UTXO
	for _, i := range idx {
		us = append(us, f.utxos[i])
	}
	psbts, err := btc.BuildSweep(btc.SweepRequest{Network: btcNet, UTXOs: us, Destination: f.vault,
		FeeRateSatPerVB: feeRate, MaxInputsPerTx: maxInputs})
	if err != nil {
		f.t.Fatal(err)
	}
	var txs []bundle.Transaction
	for _, p := range psbts {
		txs = append(txs, bundle.Transaction{Network: string(btcNet), Format: bundle.FormatPSBT, Payload: p})
	}
	return txs
}

// ethTx builds one ETH transfer from our key to the vault.
func (f *fixture) ethTx(nonce uint64, wei int64) bundle.Transaction {
	f.t.Helper()
	payload, err := eth.EncodeUnsigned(eth.UnsignedTx{From: f.ethAddr, Type: eth.TypeEIP1559, ChainID: 1337, Nonce: nonce,
		To: f.vaultETH, Value: big.NewInt(wei), GasLimit: 21000, MaxFeePerGas: big.NewInt(30e9), MaxPriorityFeePerGas: big.NewInt(1e9)})
	if err != nil {
		f.t.Fatal(err)
	}
	return bundle.Transaction{Network: string(ethNet), Format: bundle.FormatEthRLP, Payload: payload}
}

// request wraps txs in a sweep request signed by hot-1 and approved by
// approvers (approvals valid for an hour of the fixture clock), encoded.
func (f *fixture) request(id string, txs []bundle.Transaction, approvers ...string) []byte {
	f.t.Helper()
	now := f.env.Clock.Now()
	req, err := wallet.NewRequest(wallet.RequestInput{ID: id, Requester: "hot-1", Kind: bundle.KindSweep, Now: now,
		TTL: 24 * time.Hour, Transactions: txs})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := bundle.SignRequest(req, f.parties["hot-1"], "hot-1"); err != nil {
		f.t.Fatal(err)
	}
	for _, o := range approvers {
		ap, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: bundle.RequestDigest(req), Officer: o,
			Expires: now.Add(time.Hour).Unix(), PolicyHash: f.policy.Policy().Hash(), RosterHash: f.roster.Hash()}, f.parties[o])
		if err != nil {
			f.t.Fatal(err)
		}
		if err := bundle.AddApproval(req, ap); err != nil {
			f.t.Fatal(err)
		}
	}
	data, err := bundle.EncodeRequest(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return data
}

// checkResponse decodes out.Encoded, verifies it with the identity key and
// checks it equals out.Response.
func (f *fixture) checkResponse(out signer.Outcome) *bundle.Response {
	f.t.Helper()
	if len(out.Encoded) == 0 || out.Response == nil {
		f.t.Fatal("no response")
	}
	resp, err := bundle.DecodeResponse(out.Encoded, bundle.Limits{})
	if err != nil {
		f.t.Fatalf("response does not decode: %v", err)
	}
	if err := bundle.VerifyResponse(resp, f.identity.Public()); err != nil {
		f.t.Fatalf("response signature: %v", err)
	}
	return resp
}

// expectSigned checks a signed outcome with n transactions.
func (f *fixture) expectSigned(out signer.Outcome, err error, n int) *bundle.Response {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("Process: %v", err)
	}
	resp := f.checkResponse(out)
	if resp.Status != bundle.StatusSigned || len(resp.Signed) != n {
		f.t.Fatalf("status %s with %d transactions (refusal %+v), want signed with %d", resp.Status, len(resp.Signed), resp.Refusal, n)
	}
	return resp
}

// expectRefused checks a signed refusal at stage/code whose reason holds
// every part, and its audit record.
func (f *fixture) expectRefused(out signer.Outcome, err error, stage signer.Stage, code string, parts ...string) *bundle.Response {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("Process: %v", err)
	}
	resp := f.checkResponse(out)
	if resp.Status != bundle.StatusRefused || resp.Refusal == nil || len(resp.Signed) != 0 {
		f.t.Fatalf("status %s, %d transactions, want a refusal", resp.Status, len(resp.Signed))
	}
	if resp.Refusal.Stage != string(stage) || resp.Refusal.Code != code {
		f.t.Fatalf("refused at %s/%s, want %s/%s: %s", resp.Refusal.Stage, resp.Refusal.Code, stage, code, resp.Refusal.Reason)
	}
	for _, p := range parts {
		if !strings.Contains(resp.Refusal.Reason, p) {
			f.t.Errorf("reason %q does not mention %q", resp.Refusal.Reason, p)
		}
	}
	rec := f.record(resp.AuditSeq)
	if rec.Kind != audit.KindRefused || [32]byte(rec.Hash) != [32]byte(resp.AuditHead) ||
		len(rec.Reasons) == 0 || !strings.HasPrefix(rec.Reasons[0], string(stage)+": "+code+": ") {
		f.t.Fatalf("audit record %d: %+v", resp.AuditSeq, rec)
	}
	return resp
}

// records exports and verifies the audit log and returns its records.
func (f *fixture) records() []audit.Record {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.store.ExportAudit(&buf); err != nil {
		f.t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(buf.Bytes()), f.env.Identity.Public()); err != nil {
		f.t.Fatalf("audit verify: %v", err)
	}
	var out []audit.Record
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(line, []byte(`{"type":"record"`)) {
			r, err := audit.ParseRecordLine(line)
			if err != nil {
				f.t.Fatal(err)
			}
			out = append(out, r)
		}
	}
	return out
}

func (f *fixture) record(seq uint64) audit.Record {
	f.t.Helper()
	for _, r := range f.records() {
		if r.Seq == seq {
			return r
		}
	}
	f.t.Fatalf("no audit record %d", seq)
	return audit.Record{}
}

// faultyHSM wraps the real token: it counts signatures, can fail every
// signature after the first failAfter (failAfter > 0), and can run a hook
// after each successful signature.
type faultyHSM struct {
	hsm.Signer
	failAfter int32
	n         atomic.Int32
	mu        sync.Mutex
	after     func(n int32)
}

var _ hsm.Signer = (*faultyHSM)(nil)

func (f *faultyHSM) SignDigest(ctx context.Context, ref hsm.KeyRef, d hsm.Digest) (hsm.Signature, error) {
	n := f.n.Add(1)
	if f.failAfter > 0 && n > f.failAfter {
		return hsm.Signature{}, fmt.Errorf("injected fault at signature %d: %w", n, hsm.ErrSessionFailed)
	}
	sig, err := f.Signer.SignDigest(ctx, ref, d)
	f.mu.Lock()
	after := f.after
	f.mu.Unlock()
	if err == nil && after != nil {
		after(n)
	}
	return sig, err
}
