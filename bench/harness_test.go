package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

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
	"github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/wallet"
)

// Networks the bench signs for.
const (
	btcNet = chain.BTCRegtest
	ethNet = chain.Network("eth-1337")
)

// Key counts: several sender accounts / input owners, as a real sweep has.
const (
	ethKeys   = 4
	btcKeys   = 4
	officers  = 5
	requester = "hot-1"
)

// edSigner is an in-memory Ed25519 officer or requester key (bench only).
type edSigner struct{ priv ed25519.PrivateKey }

var _ sigkey.Signer = (*edSigner)(nil)

func newEdSigner() *edSigner {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &edSigner{priv: priv}
}

func (s *edSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: []byte(s.priv.Public().(ed25519.PublicKey))}
}

func (s *edSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// spec is what the signer side needs to open everything again (the parent
// test process and the child that measures peak RSS share it).
type spec struct {
	ModulePath  string `json:"module_path"`
	TokenLabel  string `json:"token_label"`
	PINFile     string `json:"pin_file"`
	FailureFile string `json:"failure_file"`
	StorePath   string `json:"store_path"`
	Roster      []byte `json:"roster"`
	Policy      []byte `json:"policy"`
	Workers     int    `json:"workers"`
}

// signerSide is the offline half, wired as iceboxd sign wires it.
type signerSide struct {
	hsm      *pkcs11.HSM
	identity sigkey.Signer
	store    *store.Store
	pipeline *signer.Pipeline
	keys     []hsm.KeyInfo
	roster   *quorum.Roster
	policy   *policy.Engine
}

// openSigner opens the HSM, the identity key, the store and builds the
// pipeline from sp, the way cmd/iceboxd does (runtime.go: openDaemon,
// adapters, pipeline).
func openSigner(ctx context.Context, sp spec) (*signerSide, error) {
	h, err := pkcs11.Open(pkcs11.Config{
		ModulePath: sp.ModulePath, TokenLabel: sp.TokenLabel, PINFile: sp.PINFile,
		Sessions: sp.Workers, PINFailureFile: sp.FailureFile, Logger: quiet(),
	})
	if err != nil {
		return nil, err
	}
	s := &signerSide{hsm: h}
	fail := func(err error) (*signerSide, error) { s.Close(); return nil, err }
	if s.identity, _, err = h.EnsureIdentity(ctx); err != nil {
		return fail(err)
	}
	s.store, err = store.Open(sp.StorePath, store.Options{
		Clock: time.Now, ClockTolerance: 5 * time.Minute, Identity: s.identity, Anchor: h, Logger: quiet(),
	})
	if err != nil {
		return fail(err)
	}
	if s.roster, err = quorum.ParseRoster("roster.yaml", sp.Roster); err != nil {
		return fail(err)
	}
	pol, err := policy.Parse("policy.yaml", sp.Policy)
	if err != nil {
		return fail(err)
	}
	if s.policy, err = policy.NewEngine(pol); err != nil {
		return fail(err)
	}
	if s.keys, err = h.ListKeys(ctx); err != nil {
		return fail(err)
	}
	ads := map[chain.Network]chain.Adapter{}
	var own []string
	for _, n := range []chain.Network{btcNet, ethNet} {
		var ks []chain.OwnKey
		for _, k := range s.keys {
			if !strings.HasPrefix(k.Ref.Label, string(n.Family())+"-") {
				continue
			}
			ks = append(ks, chain.OwnKey{Ref: k.Ref, PublicKey: k.PublicKey})
			addr, err := registry.Address(k.PublicKey, n)
			if err != nil {
				return fail(err)
			}
			own = append(own, addr)
		}
		m, err := registry.Adapters([]chain.Network{n}, ks)
		if err != nil {
			return fail(err)
		}
		ads[n] = m[n]
	}
	s.pipeline, err = signer.New(signer.Config{
		Adapters: ads, Policy: s.policy, Roster: s.roster, Store: s.store, HSM: h,
		Identity: s.identity, Clock: time.Now, ClockSkew: 5 * time.Minute,
		Workers: sp.Workers, OwnAddresses: own, Logger: quiet(),
	})
	if err != nil {
		return fail(err)
	}
	return s, nil
}

// Close closes the store, then the HSM.
func (s *signerSide) Close() {
	if s.store != nil {
		_ = s.store.Close()
		s.store = nil
	}
	if s.hsm != nil {
		_ = s.hsm.Close()
		s.hsm = nil
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// env is one bench environment: a SoftHSM2 token with keys, a store on the
// real disk, officers, a requester, roster and policy, and the hot wallet's
// builders.
type env struct {
	tb       testing.TB
	tok      *softhsmtest.Token
	sp       spec
	dir      string
	side     *signerSide
	officers []*edSigner
	req      *edSigner
	ethAd    *eth.Adapter
	ethFrom  []string
	btcPubs  [][]byte
	vaultBTC string
	vaultETH string
	nonce    map[string]uint64
	seq      int
}

// newEnv makes the token, generates the keys and opens the signer. The
// store lives under dir (give a directory on the disk being measured).
func newEnv(tb testing.TB, dir string) *env {
	tb.Helper()
	ctx := context.Background()
	tok := softhsmtest.NewToken(tb, softhsmtest.Options{Label: "icebox-bench"})
	e := &env{tb: tb, tok: tok, dir: dir, req: newEdSigner(), nonce: map[string]uint64{}}
	e.sp = spec{
		ModulePath: tok.ModulePath, TokenLabel: tok.Label, PINFile: tok.PINFile,
		FailureFile: filepath.Join(dir, "pin-failures"), StorePath: filepath.Join(dir, "store", "icebox.db"),
		Workers: runtime.NumCPU(),
	}
	h, err := pkcs11.Open(pkcs11.Config{ModulePath: tok.ModulePath, TokenLabel: tok.Label, PINFile: tok.PINFile,
		PINFailureFile: e.sp.FailureFile, Logger: quiet()})
	if err != nil {
		tb.Fatalf("open hsm: %v", err)
	}
	for i := 0; i < ethKeys; i++ {
		if _, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: fmt.Sprintf("eth-bench-%d", i)}); err != nil {
			tb.Fatalf("generate key: %v", err)
		}
	}
	for i := 0; i < btcKeys; i++ {
		if _, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: fmt.Sprintf("btc-bench-%d", i)}); err != nil {
			tb.Fatalf("generate key: %v", err)
		}
	}
	if _, _, err := h.EnsureIdentity(ctx); err != nil {
		tb.Fatalf("identity: %v", err)
	}
	keys, err := h.ListKeys(ctx)
	if err != nil {
		tb.Fatalf("list keys: %v", err)
	}
	_ = h.Close()

	var own []chain.OwnKey
	for _, k := range keys {
		own = append(own, chain.OwnKey{Ref: k.Ref, PublicKey: k.PublicKey})
		switch {
		case strings.HasPrefix(k.Ref.Label, "eth-"):
			a, err := eth.Address(k.PublicKey)
			if err != nil {
				tb.Fatal(err)
			}
			e.ethFrom = append(e.ethFrom, a)
		case strings.HasPrefix(k.Ref.Label, "btc-"):
			e.btcPubs = append(e.btcPubs, k.PublicKey)
		}
	}
	ads, err := registry.Adapters([]chain.Network{ethNet}, own)
	if err != nil {
		tb.Fatal(err)
	}
	e.ethAd = ads[ethNet].(*eth.Adapter)

	// Destinations nobody here holds a key for.
	vault, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	pub := vault.PubKey().SerializeCompressed()
	if e.vaultBTC, err = btc.P2WPKHAddress(pub, btcNet); err != nil {
		tb.Fatal(err)
	}
	if e.vaultETH, err = eth.Address(pub); err != nil {
		tb.Fatal(err)
	}

	var roster strings.Builder
	fmt.Fprintf(&roster, "version: 1\nadmin_quorum: 1\nmembers:\n")
	for i := 0; i < officers; i++ {
		o := newEdSigner()
		e.officers = append(e.officers, o)
		role := "[officer]"
		if i == 0 {
			role = "[officer, admin]"
		}
		fmt.Fprintf(&roster, "  - id: officer-%d\n    key: %s\n    roles: %s\n", i, o.Public(), role)
	}
	fmt.Fprintf(&roster, "  - id: %s\n    key: %s\n    roles: [requester]\n", requester, e.req.Public())
	e.sp.Roster = []byte(roster.String())
	e.sp.Policy = []byte(fmt.Sprintf(`version: 1
name: bench policy
allowlists:
  vault: [%s, "%s"]
approver_groups:
  officers: [officer-0, officer-1, officer-2, officer-3, officer-4]
requester_groups:
  hot: [%s]
rules:
  - name: eth-withdrawal
    match: {network: [%s], asset: ETH, kind: [withdrawal], destination: [vault], requester_group: [hot]}
    limits:
      per_tx: "1 ETH"
      velocity:
        - {per: rule, window: 24h, max: "1000 ETH"}
      max_transactions: 1
    action: allow
    approvals: {group: officers, threshold: 5}
  - name: eth-sweep
    match: {network: [%s], kind: [sweep], destination: [vault], requester_group: [hot]}
    limits: {max_transactions: 20000}
    action: allow
    approvals: {group: officers, threshold: 5}
  - name: btc-sweep
    match: {network: [%s], asset: BTC, kind: [sweep], destination: [vault], requester_group: [hot]}
    limits: {max_transactions: 10, max_fee_rate: "50 sat/vB"}
    action: allow
    approvals: {group: officers, threshold: 5}
  - name: deny-everything-else
    action: deny
    reason: not covered by the bench policy
`, e.vaultBTC, e.vaultETH, requester, ethNet, ethNet, btcNet))
	e.open()
	tb.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.tb.Helper()
	s, err := openSigner(context.Background(), e.sp)
	if err != nil {
		e.tb.Fatalf("open signer: %v", err)
	}
	e.side = s
}

func (e *env) close() {
	if e.side != nil {
		e.side.Close()
		e.side = nil
	}
}

// writeSpec writes the spec for a child process.
func (e *env) writeSpec(path string) {
	e.tb.Helper()
	b, err := json.Marshal(e.sp)
	if err != nil {
		e.tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.tb.Fatal(err)
	}
}

// ethTxs builds n native transfers to the vault, round robin over our
// sender accounts, with fresh nonces.
func (e *env) ethTxs(n int) []bundle.Transaction {
	e.tb.Helper()
	fees := eth.Fees{MaxFeePerGas: big.NewInt(30_000_000_000), MaxPriorityFeePerGas: big.NewInt(1_000_000_000)}
	out := make([]bundle.Transaction, n)
	e.seq++ // the value differs per call: a reused nonce is different content
	for i := range out {
		from := e.ethFrom[i%len(e.ethFrom)]
		p, err := e.ethAd.BuildTransfer(eth.TransferRequest{From: from, To: e.vaultETH,
			Value: big.NewInt(1_000_000_000_000_000 + int64(e.seq)), Nonce: e.nonce[from], Fees: fees})
		if err != nil {
			e.tb.Fatalf("build eth tx: %v", err)
		}
		e.nonce[from]++
		out[i] = bundle.Transaction{Network: string(ethNet), Format: bundle.FormatEthRLP, Payload: p}
	}
	return out
}

// btcSweep builds one PSBT spending n P2WPKH outputs of our keys (each
// funding transaction pays 10 of them) to the vault.
func (e *env) btcSweep(n int) []bundle.Transaction {
	e.tb.Helper()
	var utxos []btc.UTXO
	for f := 0; len(utxos) < n; f++ {
		outs := make([]btc.FundingOutput, 0, 10)
		pubs := make([][]byte, 0, 10)
		for j := 0; j < 10 && len(utxos)+len(outs) < n; j++ {
			pub := e.btcPubs[(len(utxos)+j)%len(e.btcPubs)]
			addr, err := btc.P2WPKHAddress(pub, btcNet)
			if err != nil {
				e.tb.Fatal(err)
			}
			outs = append(outs, btc.FundingOutput{Address: addr, Amount: int64(100_000 + j)})
			pubs = append(pubs, pub)
		}
		e.seq++
		raw, txid, err := btc.FundingTx(btcNet, fmt.Sprintf("bench/%d/%d", e.seq, f), outs)
		if err != nil {
			e.tb.Fatal(err)
		}
		for j, o := range outs {
			utxos = append(utxos, btc.UTXO{Outpoint: fmt.Sprintf("%s:%d", txid, j), Amount: o.Amount, PrevTx: raw, KeyPubKey: pubs[j]})
		}
	}
	psbts, err := btc.BuildSweep(btc.SweepRequest{Network: btcNet, UTXOs: utxos, Destination: e.vaultBTC, FeeRateSatPerVB: 2})
	if err != nil {
		e.tb.Fatalf("build sweep: %v", err)
	}
	out := make([]bundle.Transaction, len(psbts))
	for i, p := range psbts {
		out[i] = bundle.Transaction{Network: string(btcNet), Format: bundle.FormatPSBT, Payload: p}
	}
	return out
}

// request wraps txs in a request signed by the requester and approved by
// all five officers, and encodes it.
func (e *env) request(kind bundle.RequestKind, txs []bundle.Transaction) []byte {
	e.tb.Helper()
	e.seq++
	now := time.Now()
	r, err := wallet.NewRequest(wallet.RequestInput{ID: fmt.Sprintf("bench-%d-%d", now.UnixNano(), e.seq), Requester: requester,
		Kind: kind, Now: now, TTL: time.Hour, Transactions: txs})
	if err != nil {
		e.tb.Fatalf("new request: %v", err)
	}
	if err := bundle.SignRequest(r, e.req, requester); err != nil {
		e.tb.Fatalf("sign request: %v", err)
	}
	d := bundle.RequestDigest(r)
	for i, o := range e.officers {
		a, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: d, Officer: fmt.Sprintf("officer-%d", i),
			Expires: now.Add(time.Hour).Unix(), PolicyHash: e.side.policy.Policy().Hash(), RosterHash: e.side.roster.Hash()}, o)
		if err != nil {
			e.tb.Fatalf("approve: %v", err)
		}
		if err := bundle.AddApproval(r, a); err != nil {
			e.tb.Fatalf("add approval: %v", err)
		}
	}
	b, err := bundle.EncodeRequest(r)
	if err != nil {
		e.tb.Fatalf("encode request: %v", err)
	}
	return b
}

// process runs one request through the pipeline and checks the response
// really carries want signed transactions (the decode is not timed).
func process(ctx context.Context, p *signer.Pipeline, data []byte) (time.Duration, signer.Outcome, error) {
	start := time.Now()
	out, err := p.Process(ctx, data)
	return time.Since(start), out, err
}

func checkSigned(out signer.Outcome, want int) error {
	if out.Response == nil {
		return fmt.Errorf("no response")
	}
	if out.Refused() {
		r := out.Response.Refusal
		return fmt.Errorf("refused at %s (%s): %s", r.Stage, r.Code, r.Reason)
	}
	if len(out.Response.Signed) != want {
		return fmt.Errorf("%d signed transactions, want %d", len(out.Response.Signed), want)
	}
	return nil
}
