package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/officer"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	softhsmtest "github.com/icebox-custody/icebox/softhsm-test/softhsmtest"
	"github.com/icebox-custody/icebox/store/audit"
	"github.com/icebox-custody/icebox/wallet"
)

// CommandTimeout bounds every process a helper starts.
const CommandTimeout = 2 * time.Minute

// DemoToken is the ERC-20 contract demofund gives every Ethereum address a
// balance of, and DefaultPolicy names.
const DemoToken = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

// Binaries are the paths of the built commands.
type Binaries struct {
	Iceboxd, Icebox, Demofund string
}

// Build compiles iceboxd, icebox and demofund from the module at root into
// dir. Call it once per test binary (TestMain).
func Build(root, dir string) (Binaries, error) {
	b := Binaries{
		Iceboxd:  filepath.Join(dir, "iceboxd"),
		Icebox:   filepath.Join(dir, "icebox"),
		Demofund: filepath.Join(dir, "demofund"),
	}
	// One go build links the three in parallel.
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/iceboxd", "./cmd/icebox", "./internal/demofund")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return b, nil
}

// Officer is one party's key: the encrypted key file the binaries use and
// the same key loaded in memory for in-process signing.
type Officer struct {
	ID      string
	KeyFile string
	Public  sigkey.PublicKey
	Key     sigkey.Signer
}

// Harness is the built binaries plus the party keys, shared by every test
// of the package. It is read-only after NewHarness.
type Harness struct {
	Bins Binaries
	// PassFile holds the passphrase of every key file.
	PassFile string
	Parties  map[string]*Officer
	seq      atomic.Int64
}

// Party ids made by NewHarness: officers, admins, requesters, and an
// outsider who is in no roster.
var PartyIDs = []string{"alice", "bob", "carol", "dave", "hot-1", "mallory"}

// NewHarness makes one key file per id with "icebox officer keygen" in dir
// and loads each in memory.
func NewHarness(bins Binaries, dir string, ids []string) (*Harness, error) {
	h := &Harness{Bins: bins, PassFile: filepath.Join(dir, "passphrase"), Parties: map[string]*Officer{}}
	pass := []byte("e2e passphrase, never use it for a real key")
	if err := os.WriteFile(h.PassFile, append(pass, '\n'), 0o600); err != nil {
		return nil, err
	}
	for _, id := range ids {
		kf := filepath.Join(dir, id+".key")
		cmd := exec.Command(bins.Icebox, "officer", "keygen", "-o", kf, "--passphrase-file", h.PassFile)
		cmd.Env = cleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("officer keygen %s: %w\n%s", id, err, out)
		}
		data, err := os.ReadFile(kf)
		if err != nil {
			return nil, err
		}
		pub, err := officer.PublicKeyOf(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", id, err)
		}
		s, err := officer.Load(kf, pass)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", id, err)
		}
		h.Parties[id] = &Officer{ID: id, KeyFile: kf, Public: pub, Key: s}
	}
	return h, nil
}

// Party returns the key of id or fails the test.
func (h *Harness) Party(t testing.TB, id string) *Officer {
	t.Helper()
	o, ok := h.Parties[id]
	if !ok {
		t.Fatalf("no party %q in the harness", id)
	}
	return o
}

// cleanEnv is the environment of every process: the caller's, minus any
// PIN or passphrase variable that would change what a command reads.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ICEBOX_") || strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Result is what one process did.
type Result struct {
	Args   []string
	Code   int
	Stdout string
	Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("%s (exit %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args and env; it fails the test only when the process
// cannot be started or times out.
func Run(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	res := Result{Args: append([]string{filepath.Base(bin)}, args...), Stdout: o.String(), Stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s: timed out after %s\n%s", bin, CommandTimeout, res)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", bin, err)
	}
	return res
}

// MustRun is Run, failing the test on a non-zero exit.
func MustRun(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	r := Run(t, env, bin, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}

// Destinations are addresses nobody holds a key for (demofund).
type Destinations struct {
	VaultBTC, VaultETH       string
	OutsiderBTC, OutsiderETH string
}

// SignerOptions change what NewSigner installs. The zero value gives the
// default roster and policy on btc-regtest and eth-1337.
type SignerOptions struct {
	// Policy returns the policy YAML (nil: DefaultPolicy).
	Policy func(Destinations) string
	// Roster returns the roster YAML (nil: DefaultRoster).
	Roster func(h *Harness) string
}

// Signer is one offline signer: its token, config, store, manifest and the
// hot wallet's view of its funds.
type Signer struct {
	H   *Harness
	Dir string
	// Config is the iceboxd configuration file.
	Config string
	// Env carries SOFTHSM2_CONF for this signer's token.
	Env                    []string
	Fingerprint            string
	ManifestPath           string
	Manifest               *manifest.Manifest
	Dest                   Destinations
	UTXOs, Accounts        string // demofund's utxos.json and accounts.json
	PolicyFile, RosterFile string
	Inbox, Outbox, Archive string
}

// Token parameters of every signer (throwaway values).
const (
	TokenLabel = "icebox-e2e"
	userPIN    = softhsmtest.DefaultUserPIN
	soPIN      = softhsmtest.DefaultSOPIN
)

var fingerprintLine = regexp.MustCompile(`(?m)^signer fingerprint:\s*(\S+)\s*$`)

// NewSigner creates a token and a signer in a fresh directory and installs
// the founding roster and the policy (each change signed by alice and bob).
func (h *Harness) NewSigner(t testing.TB, opts SignerOptions) *Signer {
	t.Helper()
	module, err := softhsmtest.ModulePath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Signer{H: h, Dir: dir, Config: filepath.Join(dir, "iceboxd.yaml"),
		Inbox: filepath.Join(dir, "inbox"), Outbox: filepath.Join(dir, "outbox"), Archive: filepath.Join(dir, "archive")}

	// Token.
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Env = cleanEnv("SOFTHSM2_CONF=" + conf)
	MustRun(t, s.Env, "softhsm2-util", "--init-token", "--free", "--label", TokenLabel, "--so-pin", soPIN, "--pin", userPIN)
	pinFile := filepath.Join(dir, "user.pin")
	if err := os.WriteFile(pinFile, []byte(userPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := fmt.Sprintf(`hsm:
  module: %s
  token_label: %s
  pin_file: user.pin
  sessions: 2
  max_pin_failures: 5
store:
  dir: store
networks:
  btc: btc-regtest
  eth: eth-1337
inbox_dir: inbox
outbox_dir: outbox
archive_dir: archive
clock_tolerance: 5m
audit_checkpoint_every: 100
`, module, TokenLabel)
	if err := os.WriteFile(s.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	init := s.MustIceboxd(t, "init")
	m := fingerprintLine.FindStringSubmatch(init.Stdout)
	if m == nil {
		t.Fatalf("iceboxd init printed no fingerprint:\n%s", init)
	}
	s.Fingerprint = m[1]
	s.MustIceboxd(t, "keys", "generate", "--chain", "btc", "--count", "3")
	s.MustIceboxd(t, "keys", "generate", "--chain", "eth", "--count", "3")
	s.ManifestPath = filepath.Join(dir, "manifest.json")
	s.MustIceboxd(t, "keys", "manifest", "-o", s.ManifestPath)
	data, err := os.ReadFile(s.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if s.Manifest, err = manifest.Verify(data, s.Fingerprint); err != nil {
		t.Fatalf("manifest: %v", err)
	}

	fund := filepath.Join(dir, "funds")
	if err := os.MkdirAll(fund, 0o700); err != nil {
		t.Fatal(err)
	}
	MustRun(t, s.Env, h.Bins.Demofund, "--manifest", s.ManifestPath, "--signer", s.Fingerprint, "--out", fund, "--token", DemoToken)
	s.UTXOs, s.Accounts = filepath.Join(fund, "utxos.json"), filepath.Join(fund, "accounts.json")
	var dest struct{ Vault, Outsider map[string]string }
	readJSON(t, filepath.Join(fund, "destinations.json"), &dest)
	s.Dest = Destinations{VaultBTC: dest.Vault["btc"], VaultETH: dest.Vault["eth"],
		OutsiderBTC: dest.Outsider["btc"], OutsiderETH: dest.Outsider["eth"]}

	rosterFn, policyFn := opts.Roster, opts.Policy
	if rosterFn == nil {
		rosterFn = DefaultRoster
	}
	if policyFn == nil {
		policyFn = DefaultPolicy
	}
	s.RosterFile = filepath.Join(dir, "roster.yaml")
	s.PolicyFile = filepath.Join(dir, "policy.yaml")
	s.install(t, quorum.ChangeRoster, s.RosterFile, rosterFn(h))
	s.install(t, quorum.ChangePolicy, s.PolicyFile, policyFn(s.Dest))
	return s
}

// install writes content, wraps it in a change bundle signed by alice and
// bob (in process) and installs it with iceboxd.
func (s *Signer) install(t testing.TB, kind quorum.ChangeKind, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p := quorum.ChangeProposal{Kind: kind, Content: []byte(content), Created: time.Now().Unix()}
	cb := quorum.ChangeBundle{Proposal: p}
	for _, admin := range []string{"alice", "bob"} {
		sig, err := quorum.SignChange(p, admin, s.H.Party(t, admin).Key)
		if err != nil {
			t.Fatalf("sign %s change as %s: %v", kind, admin, err)
		}
		cb.Signatures = append(cb.Signatures, sig)
	}
	data, err := quorum.EncodeChange(cb)
	if err != nil {
		t.Fatal(err)
	}
	path := file + ".change"
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s.MustIceboxd(t, kind.String(), "install", path)
}

// DefaultRoster: alice and bob are officers and admins, carol an officer,
// dave both an officer and a requester, hot-1 the hot wallet. mallory is in
// no roster.
func DefaultRoster(h *Harness) string {
	k := func(id string) string { return h.Parties[id].Public.String() }
	return fmt.Sprintf(`version: 1
admin_quorum: 2
members:
  - id: alice
    key: %s
    roles: [officer, admin]
  - id: bob
    key: %s
    roles: [officer, admin]
  - id: carol
    key: %s
    roles: [officer]
  - id: dave
    key: %s
    roles: [officer, requester]
  - id: hot-1
    key: %s
    roles: [requester]
`, k("alice"), k("bob"), k("carol"), k("dave"), k("hot-1"))
}

// PolicyParams fill PolicyTemplate.
type PolicyParams struct {
	Dest Destinations
	// BTCVelocity is the 24 h velocity of the BTC sweep rule ("100 BTC").
	BTCVelocity string
	// MaxFeeRate caps the BTC fee rate ("50 sat/vB").
	MaxFeeRate string
}

// PolicyYAML is the default policy with the given parameters: BTC and ETH
// sweeps to the vault by hot-1 or dave, 2 of alice/bob/carol/dave;
// everything else denied.
func PolicyYAML(p PolicyParams) string {
	return fmt.Sprintf(`version: 1
name: Icebox e2e policy
tokens:
  DEMO: {contract: "%s", decimals: 6}
allowlists:
  treasury-vault: [%s, "%s"]
approver_groups:
  treasury: [alice, bob, carol, dave]
requester_groups:
  hot-wallets: [hot-1, dave]
rules:
  - name: btc-sweep-to-vault
    match:
      network: [btc-regtest]
      asset: BTC
      kind: [sweep]
      destination: [treasury-vault]
      requester_group: [hot-wallets]
    limits:
      per_batch: "50 BTC"
      velocity:
        - {per: rule, window: 24h, max: "%s"}
      max_fee_rate: "%s"
      max_transactions: 20
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: eth-sweep-to-vault
    match:
      network: [eth-1337]
      kind: [sweep]
      destination: [treasury-vault]
      requester_group: [hot-wallets]
    limits:
      max_transactions: 50
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: deny-everything-else
    action: deny
    reason: not covered by the withdrawal policy
`, DemoToken, p.Dest.VaultBTC, p.Dest.VaultETH, p.BTCVelocity, p.MaxFeeRate)
}

// DefaultPolicy is PolicyYAML with a 100 BTC velocity and 50 sat/vB.
func DefaultPolicy(d Destinations) string {
	return PolicyYAML(PolicyParams{Dest: d, BTCVelocity: "100 BTC", MaxFeeRate: "50 sat/vB"})
}

// Iceboxd runs iceboxd --config with this signer's token.
func (s *Signer) Iceboxd(t testing.TB, args ...string) Result {
	t.Helper()
	return Run(t, s.Env, s.H.Bins.Iceboxd, append([]string{"--config", s.Config}, args...)...)
}

// MustIceboxd is Iceboxd, failing the test on a non-zero exit.
func (s *Signer) MustIceboxd(t testing.TB, args ...string) Result {
	t.Helper()
	r := s.Iceboxd(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}

// Icebox runs the online tool.
func (s *Signer) Icebox(t testing.TB, args ...string) Result {
	t.Helper()
	return Run(t, s.Env, s.H.Bins.Icebox, args...)
}

// MustIcebox is Icebox, failing the test on a non-zero exit.
func (s *Signer) MustIcebox(t testing.TB, args ...string) Result {
	t.Helper()
	r := s.Icebox(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}

// ManifestFlags are --manifest and --signer for this signer.
func (s *Signer) ManifestFlags() []string {
	return []string{"--manifest", s.ManifestPath, "--signer", s.Fingerprint}
}

// KeyFlags are --key and --passphrase-file for party id.
func (s *Signer) KeyFlags(t testing.TB, id string) []string {
	return []string{"--key", s.H.Party(t, id).KeyFile, "--passphrase-file", s.H.PassFile}
}

// NewPath returns a fresh path name (not created) in a fresh directory.
func (s *Signer) NewPath(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(s.Dir, fmt.Sprintf("w%03d", s.H.seq.Add(1)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// Request runs "icebox request KIND" (sweep or withdraw) as requester with
// the request id id, plus args, and returns the request bundle's path.
// Later flags in args override earlier ones.
func (s *Signer) Request(t testing.TB, kind, id, requester string, args ...string) string {
	t.Helper()
	out := s.NewPath(t, id+".icebox")
	full := append([]string{"request", kind, "--id", id, "--requester", requester, "-o", out}, s.ManifestFlags()...)
	full = append(full, s.KeyFlags(t, requester)...)
	s.MustIcebox(t, append(full, args...)...)
	return out
}

// SweepBTC requests a sweep of every demo UTXO to the vault.
func (s *Signer) SweepBTC(t testing.TB, id string, args ...string) string {
	t.Helper()
	return s.Request(t, "sweep", id, "hot-1", append([]string{"--utxos", s.UTXOs, "--to", s.Dest.VaultBTC}, args...)...)
}

// SweepETH requests a sweep of every demo account (ETH and the token) to the vault.
func (s *Signer) SweepETH(t testing.TB, id string, args ...string) string {
	t.Helper()
	return s.Request(t, "sweep", id, "hot-1", append([]string{"--accounts", s.Accounts, "--to", s.Dest.VaultETH}, args...)...)
}

// ApproveResult runs "icebox approve" on path as officer with extra args.
func (s *Signer) ApproveResult(t testing.TB, path, officer string, args ...string) Result {
	t.Helper()
	full := append([]string{"approve", path, "--id", officer, "--policy", s.PolicyFile, "--roster", s.RosterFile, "--yes"}, s.ManifestFlags()...)
	full = append(full, s.KeyFlags(t, officer)...)
	return s.Icebox(t, append(full, args...)...)
}

// Approve adds each officer's approval to the request at path (in place).
func (s *Signer) Approve(t testing.TB, path string, officers ...string) {
	t.Helper()
	for _, o := range officers {
		if r := s.ApproveResult(t, path, o); r.Code != 0 {
			t.Fatalf("%s", r)
		}
	}
}

// SignResult is one "iceboxd sign" run with its output file.
type SignResult struct {
	Result
	// OutDir is the fresh directory -o pointed into; Files lists what is in it.
	OutDir string
	Files  []string
	// Raw and Response are the response file (nil when none was written).
	Raw      []byte
	Response *bundle.Response
}

// Sign runs "iceboxd sign path -o DIR/response.icebox" into a fresh
// directory. When a response file exists it must decode and verify with the
// manifest's identity key, else the test fails.
func (s *Signer) Sign(t testing.TB, path string) *SignResult {
	t.Helper()
	out := s.NewPath(t, "response.icebox")
	res := &SignResult{Result: s.Iceboxd(t, "sign", path, "-o", out), OutDir: filepath.Dir(out)}
	ents, err := os.ReadDir(res.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		res.Files = append(res.Files, e.Name())
	}
	if raw, err := os.ReadFile(out); err == nil {
		res.Raw = raw
		res.Response = s.VerifyResponse(t, raw)
	}
	return res
}

// VerifyResponse decodes a response and checks its signature with the
// identity key of the manifest.
func (s *Signer) VerifyResponse(t testing.TB, raw []byte) *bundle.Response {
	t.Helper()
	resp, err := bundle.DecodeResponse(raw, bundle.Limits{})
	if err != nil {
		t.Fatalf("response does not decode: %v", err)
	}
	if err := bundle.VerifyResponse(resp, s.Manifest.Signer); err != nil {
		t.Fatalf("response is not signed by the manifest's identity key: %v", err)
	}
	return resp
}

// ExpectSigned checks a successful sign: exit 0, exactly one file, a
// signed response with want transactions for request id.
func (s *Signer) ExpectSigned(t testing.TB, r *SignResult, id string, want int) *bundle.Response {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("sign: want exit 0\n%s", r.Result)
	}
	if len(r.Files) != 1 || r.Response == nil {
		t.Fatalf("sign: want exactly one response file, got %v", r.Files)
	}
	resp := r.Response
	if resp.Status != bundle.StatusSigned || resp.Refusal != nil {
		t.Fatalf("sign: status %s, refusal %+v", resp.Status, resp.Refusal)
	}
	if resp.RequestID != id || len(resp.Signed) != want {
		t.Fatalf("sign: response for %q with %d transactions, want %q with %d", resp.RequestID, len(resp.Signed), id, want)
	}
	return resp
}

// ExpectRefused checks a refusal: exit 5, exactly one file in the output
// directory holding a signed refusal (no transactions) at stage with code
// whose reason contains every reasonParts, and an audit record of it (the
// audit log is exported and verified offline). It returns the refusal's
// audit record.
func (s *Signer) ExpectRefused(t testing.TB, r *SignResult, id, stage, code string, reasonParts ...string) audit.Record {
	t.Helper()
	if r.Code != 5 {
		t.Fatalf("sign: want exit 5 (refused)\n%s", r.Result)
	}
	if len(r.Files) != 1 || r.Response == nil {
		t.Fatalf("sign: want exactly one response file (the signed refusal), got %v", r.Files)
	}
	resp := r.Response
	if resp.Status != bundle.StatusRefused || resp.Refusal == nil {
		t.Fatalf("sign: status %s, want refused", resp.Status)
	}
	if len(resp.Signed) != 0 {
		t.Fatalf("refusal carries %d signed transactions", len(resp.Signed))
	}
	if resp.RequestID != id {
		t.Errorf("refusal answers request %q, want %q", resp.RequestID, id)
	}
	rf := resp.Refusal
	if rf.Stage != stage || rf.Code != code {
		t.Fatalf("refused at %s/%s, want %s/%s: %s", rf.Stage, rf.Code, stage, code, rf.Reason)
	}
	for _, p := range reasonParts {
		if !strings.Contains(rf.Reason, p) {
			t.Errorf("refusal reason %q does not mention %q", rf.Reason, p)
		}
	}
	if !strings.Contains(r.Stdout, "REFUSED") || !strings.Contains(r.Stdout, code) {
		t.Errorf("iceboxd sign did not report the refusal on stdout:\n%s", r.Stdout)
	}
	recs := s.Audit(t)
	rec, ok := findRecord(recs, resp.AuditSeq)
	if !ok {
		t.Fatalf("audit log has no record %d (the refusal's)", resp.AuditSeq)
	}
	if rec.Kind != audit.KindRefused || rec.Decision != "refused" || rec.RequestID != id ||
		[32]byte(rec.Hash) != [32]byte(resp.AuditHead) {
		t.Fatalf("audit record %d is %s/%s for %q, want the refusal of %q", rec.Seq, rec.Kind, rec.Decision, rec.RequestID, id)
	}
	want := stage + ": " + code + ": "
	if len(rec.Reasons) == 0 || !strings.HasPrefix(rec.Reasons[0], want) {
		t.Errorf("audit record reasons %q, want one starting %q", rec.Reasons, want)
	}
	return rec
}

// Audit exports the audit log with iceboxd, verifies the export offline
// with "icebox audit verify" against the manifest, and returns its records.
func (s *Signer) Audit(t testing.TB) []audit.Record {
	t.Helper()
	out := s.NewPath(t, "audit.jsonl")
	s.MustIceboxd(t, "audit", "export", "-o", out)
	s.MustIcebox(t, append([]string{"audit", "verify", out}, s.ManifestFlags()...)...)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(`{"type":"record"`)) {
			continue
		}
		rec, err := audit.ParseRecordLine(line)
		if err != nil {
			t.Fatalf("audit export line: %v", err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func findRecord(recs []audit.Record, seq uint64) (audit.Record, bool) {
	for _, r := range recs {
		if r.Seq == seq {
			return r, true
		}
	}
	return audit.Record{}, false
}

// ReadRequest decodes a request bundle file.
func ReadRequest(t testing.TB, path string) *bundle.Request {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.DecodeRequest(data, bundle.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// WriteRequest encodes r to a fresh path and returns it.
func (s *Signer) WriteRequest(t testing.TB, r *bundle.Request) string {
	t.Helper()
	data, err := bundle.EncodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return s.WriteFile(t, r.ID+".icebox", data)
}

// WriteFile writes data to a fresh path named name and returns it.
func (s *Signer) WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := s.NewPath(t, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// adapter returns the chain adapter for network n built from the manifest,
// as the hot wallet does.
func (s *Signer) adapter(t testing.TB, n chain.Network) chain.Adapter {
	t.Helper()
	var nets []chain.Network
	for _, e := range s.Manifest.Entries {
		nets = append(nets, e.Network)
	}
	ads, err := registry.Adapters(nets, wallet.OwnKeys(s.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	ad, ok := ads[n]
	if !ok {
		t.Fatalf("no adapter for %s", n)
	}
	return ad
}

// governanceHashes are the hashes of the installed policy and roster files.
func (s *Signer) governanceHashes(t testing.TB) (policyHash, rosterHash bundle.Digest) {
	t.Helper()
	pd, err := os.ReadFile(s.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(s.PolicyFile, pd)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := os.ReadFile(s.RosterFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := quorum.ParseRoster(s.RosterFile, rd)
	if err != nil {
		t.Fatal(err)
	}
	return p.Hash(), r.Hash()
}
