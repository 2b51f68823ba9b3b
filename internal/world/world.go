// Package world sets up a complete Icebox signer environment with the real
// binaries, as scripts/demo.sh does, for tests and the crash test that run
// iceboxd as a process: a throwaway SoftHSM2 token, iceboxd init, 3 BTC
// (regtest) and 3 ETH (chain 1337) keys, a signed manifest, officer keys for
// alice and bob (officers and admins) and hot-1 (requester), a roster and a
// policy installed through change bundles signed by both admins, and
// demofund's UTXOs and accounts. It then builds approved sweep requests
// in-process with the same library calls `icebox request sweep` and
// `icebox approve` make.
//
// Everything lives under Options.Dir; the PINs and passphrase are throwaway
// test values.
package world

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/officer"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/wallet"
)

// Throwaway token PINs.
const (
	UserPIN = "12345678"
	SOPIN   = "87654321"
	label   = "icebox-world"
)

// Options configure Setup.
type Options struct {
	// Dir is the (existing, empty) directory everything is created in.
	Dir string
	// Bin holds iceboxd, icebox and demofund (make build).
	Bin string
	// Root is the repository root (for softhsm-test/token.sh); empty: found
	// by walking up from the working directory to go.mod.
	Root string
	// UTXOsPerAddress is demofund's --utxos-per-address (default 4).
	UTXOsPerAddress int
	// MaxPINFailures is hsm.max_pin_failures in the config (default 5).
	MaxPINFailures int
}

// World is a ready signer environment. iceboxd is not running.
type World struct {
	Dir        string
	Config     string // iceboxd.yaml
	Inbox      string
	Outbox     string
	Archive    string
	TokenDir   string // the SoftHSM2 token directory
	LogPath    string // suggested log file for iceboxd serve
	IceboxdBin string
	// Env is the environment to run iceboxd with (SOFTHSM2_CONF set,
	// ICEBOX_HSM_PIN unset).
	Env         []string
	Fingerprint string
	Manifest    *manifest.Manifest
	Adapters    map[chain.Network]chain.Adapter
	// UTXOs and Accounts are demofund's funds.
	UTXOs    wallet.UTXOFile
	Accounts wallet.AccountsFile

	opts       Options
	keys       map[string]sigkey.Signer
	policyHash bundle.Digest
	rosterHash bundle.Digest
	vaultBTC   string
	vaultETH   string
}

// Submission is one approved request bundle.
type Submission struct {
	ID     string
	Digest bundle.Digest
	Data   []byte
	// Txs are the requested transactions' summaries (unsigned), in order.
	Txs []chain.Summary
}

// Setup builds the world in o.Dir (about 5 s). On error the directory is
// left for inspection.
func Setup(o Options) (*World, error) {
	if o.UTXOsPerAddress == 0 {
		o.UTXOsPerAddress = 4
	}
	if o.MaxPINFailures == 0 {
		o.MaxPINFailures = 5
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	root := o.Root
	if root == "" {
		if root, err = repoRoot(); err != nil {
			return nil, err
		}
	}
	w := &World{Dir: o.Dir, IceboxdBin: filepath.Join(bin, "iceboxd"), opts: o}
	if err := w.setup(bin, root); err != nil {
		return nil, err
	}
	return w, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Iceboxd runs bin/iceboxd --config w.Config ARGS and returns its stdout.
func (w *World) Iceboxd(args ...string) (string, error) {
	return w.Cmd(w.IceboxdBin, append([]string{"--config", w.Config}, args...)...)
}

// BTCSweep returns an approved sweep of UTXO number utxo to the vault.
// Variants differ in fee rate (5+variant sat/vB): same outpoint, other content.
func (w *World) BTCSweep(id string, utxo, variant int) (*Submission, error) {
	if utxo < 0 || utxo >= len(w.UTXOs.UTXOs) {
		return nil, fmt.Errorf("utxo %d: only %d", utxo, len(w.UTXOs.UTXOs))
	}
	f := w.UTXOs
	f.UTXOs = f.UTXOs[utxo : utxo+1]
	txs, err := wallet.BTCSweep(w.Manifest, f, w.vaultBTC, int64(5+variant), 5)
	if err != nil {
		return nil, err
	}
	return w.request(id, txs)
}

// ETHSweep returns an approved sweep (a DEMO token transfer at nonce, the
// native balance at nonce+1) of account number account to the vault.
// Variants differ in max fee per gas: same nonces, other content.
func (w *World) ETHSweep(id string, account int, nonce uint64, variant int) (*Submission, error) {
	if account < 0 || account >= len(w.Accounts.Accounts) {
		return nil, fmt.Errorf("account %d: only %d", account, len(w.Accounts.Accounts))
	}
	f := w.Accounts
	f.Accounts = append(f.Accounts[:0:0], f.Accounts[account]) // a copy: never touch the shared slice
	f.Accounts[0].Nonce = nonce
	f.MaxFeePerGas = fmt.Sprintf("%d", 30_000_000_000+variant*1_000_000_000)
	txs, err := wallet.ETHSweep(w.Manifest, f, w.vaultETH, wallet.ETHSweepOptions{})
	if err != nil {
		return nil, err
	}
	return w.request(id, txs)
}

func (h *World) Cmd(name string, args ...string) (string, error) {
	c := exec.Command(name, args...)
	c.Env = h.Env
	c.Dir = h.Dir
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func (h *World) setup(bin, root string) error {
	tok, err := exec.Command(filepath.Join(root, "softhsm-test/token.sh"), filepath.Join(h.Dir, "hsm"), label, SOPIN, UserPIN).Output()
	if err != nil {
		return fmt.Errorf("token.sh: %w", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(tok), "\n") {
		if m := regexp.MustCompile(`^export ([A-Z0-9_]+)=(.*)$`).FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.Trim(m[2], `'"`)
		}
	}
	if vars["SOFTHSM2_CONF"] == "" || vars["ICEBOX_HSM_MODULE"] == "" {
		return fmt.Errorf("token.sh printed %q", tok)
	}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SOFTHSM2_CONF=") && !strings.HasPrefix(e, "ICEBOX_HSM_PIN=") {
			h.Env = append(h.Env, e)
		}
	}
	h.Env = append(h.Env, "SOFTHSM2_CONF="+vars["SOFTHSM2_CONF"])
	if err := os.WriteFile(filepath.Join(h.Dir, "user.pin"), []byte(UserPIN+"\n"), 0o600); err != nil {
		return err
	}
	h.Inbox, h.Outbox, h.Archive = filepath.Join(h.Dir, "inbox"), filepath.Join(h.Dir, "outbox"), filepath.Join(h.Dir, "archive")
	h.LogPath = filepath.Join(h.Dir, "iceboxd.log")
	h.Config = filepath.Join(h.Dir, "iceboxd.yaml")
	cfg := fmt.Sprintf(`hsm:
  module: %s
  token_label: %s
  pin_file: user.pin
  sessions: 2
  max_pin_failures: %d
store:
  dir: store
networks:
  btc: btc-regtest
  eth: eth-1337
inbox_dir: inbox
outbox_dir: outbox
archive_dir: archive
clock_tolerance: 5m
audit_checkpoint_every: 7
`, vars["ICEBOX_HSM_MODULE"], label, h.opts.MaxPINFailures)
	if err := os.WriteFile(h.Config, []byte(cfg), 0o600); err != nil {
		return err
	}
	D := func(args ...string) (string, error) {
		return h.Cmd(h.IceboxdBin, append([]string{"--config", h.Config}, args...)...)
	}
	icebox := filepath.Join(bin, "icebox")
	out, err := D("init")
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`(?m)^signer fingerprint: *(\S+)`).FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("iceboxd init printed no fingerprint:\n%s", out)
	}
	fp := m[1]
	h.Fingerprint = fp
	for _, c := range []string{"btc", "eth"} {
		if _, err := D("keys", "generate", "--chain", c, "--count", "3"); err != nil {
			return err
		}
	}
	mpath := filepath.Join(h.Dir, "manifest.json")
	if _, err := D("keys", "manifest", "-o", mpath); err != nil {
		return err
	}
	mdata, err := os.ReadFile(mpath)
	if err != nil {
		return err
	}
	if h.Manifest, err = manifest.Verify(mdata, fp); err != nil {
		return err
	}
	if h.Adapters, err = manifestAdapters(h.Manifest); err != nil {
		return err
	}

	// Officers, requester and governance, as in scripts/demo.sh.
	pass := filepath.Join(h.Dir, "passphrase")
	if err := os.WriteFile(pass, []byte("crashtest passphrase, throwaway\n"), 0o600); err != nil {
		return err
	}
	pub := map[string]string{}
	h.TokenDir = filepath.Join(h.Dir, "hsm", "tokens")
	for _, who := range []string{"alice", "bob", "hot-1"} {
		out, err := h.Cmd(icebox, "officer", "keygen", "-o", filepath.Join(h.Dir, who+".key"), "--passphrase-file", pass)
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`(?m)^public key: *(\S+)`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("officer keygen printed no public key:\n%s", out)
		}
		pub[who] = m[1]
	}
	if _, err := h.Cmd(filepath.Join(bin, "demofund"), "--manifest", mpath, "--signer", fp, "--out", h.Dir,
		"--utxos-per-address", fmt.Sprint(h.opts.UTXOsPerAddress), "--token", "0x5FbDB2315678afecb367f032d93F642f64180aa3"); err != nil {
		return err
	}
	var dests struct {
		Vault    map[string]string `json:"vault"`
		Outsider map[string]string `json:"outsider"`
	}
	if err := readJSON(filepath.Join(h.Dir, "destinations.json"), &dests); err != nil {
		return err
	}
	roster := fmt.Sprintf(`version: 1
admin_quorum: 2
members:
  - {id: alice, key: %s, roles: [officer, admin]}
  - {id: bob, key: %s, roles: [officer, admin]}
  - {id: hot-1, key: %s, roles: [requester]}
`, pub["alice"], pub["bob"], pub["hot-1"])
	pol := fmt.Sprintf(`version: 1
name: crashtest policy
tokens:
  DEMO: {contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", decimals: 6}
allowlists:
  vault: [%s, "%s"]
approver_groups:
  treasury: [alice, bob]
requester_groups:
  hot: [hot-1]
rules:
  - name: btc-sweep
    match: {network: [btc-regtest], asset: BTC, kind: [sweep], destination: [vault], requester_group: [hot]}
    limits:
      per_batch: "50 BTC"
      velocity:
        - {per: rule, window: 24h, max: "1000 BTC"}
      max_fee_rate: "50 sat/vB"
      max_transactions: 20
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: eth-sweep
    match: {network: [eth-1337], kind: [sweep], destination: [vault], requester_group: [hot]}
    limits: {max_transactions: 50}
    action: allow
    approvals: {group: treasury, threshold: 2}
  - name: deny-everything-else
    action: deny
    reason: not covered
`, dests.Vault["btc"], dests.Vault["eth"])
	files := map[string]string{"roster": roster, "policy": pol}
	for _, kind := range []string{"roster", "policy"} {
		p := filepath.Join(h.Dir, kind+".yaml")
		if err := os.WriteFile(p, []byte(files[kind]), 0o600); err != nil {
			return err
		}
		ch := filepath.Join(h.Dir, kind+".change")
		if _, err := h.Cmd(icebox, "admin", "propose", "--kind", kind, "--file", p, "-o", ch); err != nil {
			return err
		}
		for _, admin := range []string{"alice", "bob"} {
			if _, err := h.Cmd(icebox, "admin", "sign", ch, "--id", admin, "--key", filepath.Join(h.Dir, admin+".key"),
				"--passphrase-file", pass, "--yes"); err != nil {
				return err
			}
		}
		if _, err := D(kind, "install", ch); err != nil {
			return err
		}
	}
	parsedPol, err := policy.Parse("policy.yaml", []byte(pol))
	if err != nil {
		return err
	}
	parsedRoster, err := quorum.ParseRoster("roster.yaml", []byte(roster))
	if err != nil {
		return err
	}
	keys := map[string]sigkey.Signer{}
	pp, err := os.ReadFile(pass)
	if err != nil {
		return err
	}
	for _, who := range []string{"alice", "bob", "hot-1"} {
		if keys[who], err = officer.Load(filepath.Join(h.Dir, who+".key"), []byte(strings.TrimRight(string(pp), "\n"))); err != nil {
			return fmt.Errorf("load %s key: %w", who, err)
		}
	}
	h.keys, h.policyHash, h.rosterHash = keys, parsedPol.Hash(), parsedRoster.Hash()
	h.vaultBTC, h.vaultETH = dests.Vault["btc"], dests.Vault["eth"]
	if err := readJSON(filepath.Join(h.Dir, "utxos.json"), &h.UTXOs); err != nil {
		return err
	}
	return readJSON(filepath.Join(h.Dir, "accounts.json"), &h.Accounts)
}

func readJSON(path string, v any) error { return wallet.ReadJSON(path, v) }

func manifestAdapters(m *manifest.Manifest) (map[chain.Network]chain.Adapter, error) {
	out := map[chain.Network]chain.Adapter{}
	for _, n := range []chain.Network{"btc-regtest", "eth-1337"} {
		var ks []chain.OwnKey
		for _, e := range m.Entries {
			if e.Network == n {
				ks = append(ks, chain.OwnKey{Ref: hsm.KeyRef{Label: e.Label, ID: e.KeyID}, PublicKey: e.PublicKey})
			}
		}
		var (
			ad  chain.Adapter
			err error
		)
		if n.Family() == chain.FamilyBTC {
			ad, err = btc.NewAdapter(btc.Config{Network: n, Keys: ks})
		} else {
			ad, err = eth.NewAdapter(eth.Config{Network: n, Keys: ks})
		}
		if err != nil {
			return nil, err
		}
		out[n] = ad
	}
	return out, nil
}

// request wraps txs, signs it as the requester and adds alice's and bob's
// approvals, as `icebox request sweep` and `icebox approve` do.
func (g *World) request(id string, txs []bundle.Transaction) (*Submission, error) {
	now := time.Now()
	req, err := wallet.NewRequest(wallet.RequestInput{ID: id, Requester: "hot-1", Kind: bundle.KindSweep,
		Reason: "crashtest", Now: now, TTL: 6 * time.Hour, Transactions: txs})
	if err != nil {
		return nil, err
	}
	if err := bundle.SignRequest(req, g.keys["hot-1"], "hot-1"); err != nil {
		return nil, err
	}
	d := bundle.RequestDigest(req)
	for _, o := range []string{"alice", "bob"} {
		ap, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: d, Officer: o, Expires: now.Add(6 * time.Hour).Unix(),
			PolicyHash: g.policyHash, RosterHash: g.rosterHash}, g.keys[o])
		if err != nil {
			return nil, err
		}
		if err := bundle.AddApproval(req, ap); err != nil {
			return nil, err
		}
	}
	data, err := bundle.EncodeRequest(req)
	if err != nil {
		return nil, err
	}
	s := &Submission{ID: id, Digest: d, Data: data}
	for i, t := range txs {
		tx, err := g.Adapters[chain.Network(t.Network)].Parse(t.Payload)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		s.Txs = append(s.Txs, tx.Summary())
	}
	return s, nil
}
