package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/noderpc"
)

const (
	btcNet   = chain.Network("btc-simnet")
	ethNet   = chain.Network("eth-1337")
	rpcUser  = "interop"
	feeRate  = 5 // sat/vB
	tokenSym = "ITK"
)

// env is the state shared by the steps.
type env struct {
	bin, work        string
	btcdBin, gethBin string
	noETH            bool
	suite            *suite

	mu     sync.Mutex
	closed bool // stopNodes ran: start nothing more
	btcd   *node
	geth   *node
	btcdA  []string // btcd's fixed arguments (restarted with other mining addresses)

	rpcPass        string
	btcURL, ethURL string
	btc            *noderpc.BTC
	eth            *noderpc.ETH

	signers  map[string]*signerInst
	passFile string
	vaultBTC string
	// bumpVaultBTC is the destination of the fee-bump scenario: the only
	// destination of the policy rule with allow_fee_bump.
	bumpVaultBTC     string
	vaultETH         string
	minerBTC         string
	multisig         btc.MultisigWallet
	multisigSpec     string
	multisigAddr     string
	token            string
	devAccount       string
	devNonce         *uint64
	policyYAML       string
	rosterYAML       string
	seq              int
	bumpFirstRequest string
}

// signerInst is one iceboxd instance with its own SoftHSM2 token and store.
type signerInst struct {
	name     string
	dir      string
	conf     string
	env      []string // SOFTHSM2_CONF
	fp       string
	manifest string
	m        *manifest.Manifest
}

func (s *signerInst) addresses(n chain.Network) []manifest.Entry {
	var out []manifest.Entry
	for _, e := range s.m.Entries {
		if e.Network == n {
			out = append(out, e)
		}
	}
	return out
}

// run executes a program, appending its output to work/commands.log; the
// error carries the tail of its stderr.
func (e *env) run(extraEnv []string, stdin []byte, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if lf, lerr := os.OpenFile(filepath.Join(e.work, "commands.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); lerr == nil {
		fmt.Fprintf(lf, "$ %s %s\n%s%s\n", filepath.Base(prog), strings.Join(args, " "), out.String(), errb.String())
		lf.Close()
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(prog), firstArg(args), err, firstLines(errb.String()+out.String(), 8))
	}
	return out.String(), nil
}

func firstArg(a []string) string {
	if len(a) > 2 {
		return strings.Join(a[:2], " ")
	}
	return strings.Join(a, " ")
}

func (e *env) icebox(args ...string) (string, error) {
	return e.run(nil, nil, filepath.Join(e.bin, "icebox"), args...)
}

func (s *signerInst) iceboxd(e *env, args ...string) (string, error) {
	return e.run(s.env, nil, filepath.Join(e.bin, "iceboxd"), append([]string{"--config", s.conf}, args...)...)
}

func (e *env) keyArgs(who string) []string {
	return []string{"--key", filepath.Join(e.work, "keys", who+".key"), "--passphrase-file", e.passFile}
}

// setupSigners makes three signers (A: 5 BTC + 10 ETH keys, B and C: one
// BTC key each), the officers, and installs the same roster and policy in
// each signer. The 2-of-3 multisig is A's fifth key, B's and C's keys.
func (e *env) setupSigners(ctx context.Context) error {
	e.signers = map[string]*signerInst{}
	for _, k := range []struct {
		name     string
		btc, eth int
	}{{"a", 5, 10}, {"b", 1, 0}, {"c", 1, 0}} {
		s, err := e.newSigner(k.name, k.btc, k.eth)
		if err != nil {
			return fmt.Errorf("signer %s: %w", k.name, err)
		}
		e.signers[k.name] = s
	}
	a, b, c := e.signers["a"].addresses(btcNet), e.signers["b"].addresses(btcNet), e.signers["c"].addresses(btcNet)
	e.multisig = btc.MultisigWallet{Threshold: 2, PubKeys: [][]byte{a[4].PublicKey, b[0].PublicKey, c[0].PublicKey}}
	addr, err := e.multisig.Address(btcNet)
	if err != nil {
		return err
	}
	e.multisigAddr = addr
	e.multisigSpec = fmt.Sprintf("2:%x,%x,%x", a[4].PublicKey, b[0].PublicKey, c[0].PublicKey)
	for _, s := range e.signers {
		f, err := os.OpenFile(s.conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "multisig:\n  - threshold: 2\n    pubkeys: [%x, %x, %x]\n", a[4].PublicKey, b[0].PublicKey, c[0].PublicKey)
		f.Close()
	}
	// Destinations: keys nobody here holds in an HSM (2G, 3G).
	vaultPub := mustHex("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5")
	minerPub := mustHex("02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9")
	if e.vaultBTC, err = btc.P2WPKHAddress(vaultPub, btcNet); err != nil {
		return err
	}
	if e.minerBTC, err = btc.P2WPKHAddress(minerPub, btcNet); err != nil {
		return err
	}
	// 4G: the fee-bump destination.
	if e.bumpVaultBTC, err = btc.P2WPKHAddress(mustHex("02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13"), btcNet); err != nil {
		return err
	}
	if e.vaultETH, err = eth.Address(vaultPub); err != nil {
		return err
	}
	// Officers, admins and the hot wallet.
	if err := os.MkdirAll(filepath.Join(e.work, "keys"), 0o700); err != nil {
		return err
	}
	e.passFile = filepath.Join(e.work, "keys", "passphrase")
	if err := os.WriteFile(e.passFile, []byte("interop passphrase, throwaway\n"), 0o600); err != nil {
		return err
	}
	pubs := map[string]string{}
	for _, who := range []string{"alice", "bob", "carol", "hot-1"} {
		out, err := e.icebox("officer", "keygen", "-o", filepath.Join(e.work, "keys", who+".key"), "--passphrase-file", e.passFile)
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`(?m)^public key: *(\S+)`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("officer keygen %s: no public key in %q", who, out)
		}
		pubs[who] = m[1]
	}
	e.rosterYAML = fmt.Sprintf(`version: 1
admin_quorum: 2
members:
  - {id: alice, key: %s, roles: [officer, admin]}
  - {id: bob, key: %s, roles: [officer, admin]}
  - {id: carol, key: %s, roles: [officer]}
  - {id: hot-1, key: %s, roles: [requester]}
`, pubs["alice"], pubs["bob"], pubs["carol"], pubs["hot-1"])
	return nil
}

// installGovernance proposes, signs (alice + bob) and installs the roster
// and the policy in every signer. The policy names the token, so it runs
// after the token is deployed.
func (e *env) installGovernance() error {
	e.policyYAML = fmt.Sprintf(`version: 1
name: Icebox interop policy
tokens:
  %s: {contract: "%s", decimals: 6}
allowlists:
  treasury-vault: [%s, "%s"]
  bump-vault: [%s]
approver_groups:
  treasury: [alice, bob, carol]
requester_groups:
  hot-wallets: [hot-1]
rules:
  - name: no-contract-calls
    match: {kind: [contract-call, token-approve]}
    action: deny
    reason: contract calls need a change of policy
  - name: btc-fee-bump
    description: may replace our own unmined sweep with one paying more
    match:
      network: [btc-simnet]
      asset: BTC
      kind: [sweep]
      destination: [bump-vault]
      requester_group: [hot-wallets]
    limits:
      max_fee_rate: "50 sat/vB"
      max_transactions: 1
    action: allow
    approvals: {group: treasury, threshold: 2}
    allow_fee_bump: true
  - name: btc-sweep-to-vault
    match:
      network: [btc-simnet]
      asset: BTC
      kind: [sweep]
      destination: [treasury-vault]
      requester_group: [hot-wallets]
    limits:
      per_batch: "100000 BTC"
      max_fee_rate: "50 sat/vB"
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
`, tokenSym, e.token, e.vaultBTC, e.vaultETH, e.bumpVaultBTC)
	gov := filepath.Join(e.work, "gov")
	if err := os.MkdirAll(gov, 0o755); err != nil {
		return err
	}
	for kind, body := range map[string]string{"roster": e.rosterYAML, "policy": e.policyYAML} {
		if err := os.WriteFile(filepath.Join(gov, kind+".yaml"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	for _, kind := range []string{"roster", "policy"} {
		change := filepath.Join(gov, kind+".change")
		if _, err := e.icebox("admin", "propose", "--kind", kind, "--file", filepath.Join(gov, kind+".yaml"), "-o", change); err != nil {
			return err
		}
		for _, admin := range []string{"alice", "bob"} {
			args := append([]string{"admin", "sign", change, "--id", admin, "--yes"}, e.keyArgs(admin)...)
			if _, err := e.icebox(args...); err != nil {
				return err
			}
		}
		for _, name := range []string{"a", "b", "c"} {
			if _, err := e.signers[name].iceboxd(e, kind, "install", change); err != nil {
				return fmt.Errorf("signer %s: %w", name, err)
			}
		}
	}
	return nil
}

func (e *env) newSigner(name string, nBTC, nETH int) (*signerInst, error) {
	dir := filepath.Join(e.work, "signer-"+name)
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		return nil, err
	}
	label := "interop-" + name
	out, err := e.run(nil, nil, "softhsm-test/token.sh", dir, label, "87654321", "12345678")
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok {
			vars[k] = strings.Trim(v, "'")
		}
	}
	if vars["SOFTHSM2_CONF"] == "" || vars["ICEBOX_HSM_MODULE"] == "" {
		return nil, fmt.Errorf("token.sh printed %q", out)
	}
	s := &signerInst{name: name, dir: dir, conf: filepath.Join(dir, "iceboxd.yaml"), env: []string{"SOFTHSM2_CONF=" + vars["SOFTHSM2_CONF"]}}
	if err := os.WriteFile(filepath.Join(dir, "user.pin"), []byte("12345678\n"), 0o600); err != nil {
		return nil, err
	}
	nets := "  btc: btc-simnet\n"
	if nETH > 0 {
		nets += "  eth: eth-1337\n"
	}
	conf := fmt.Sprintf(`hsm:
  module: %s
  token_label: %s
  pin_file: user.pin
  sessions: 2
  max_pin_failures: 5
store:
  dir: store
networks:
%sinbox_dir: inbox
outbox_dir: out
archive_dir: archive
clock_tolerance: 5m
audit_checkpoint_every: 100
`, vars["ICEBOX_HSM_MODULE"], label, nets)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	out, err = s.iceboxd(e, "init")
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`(?m)^signer fingerprint: *(\S+)`).FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("iceboxd init printed no fingerprint: %q", out)
	}
	s.fp = m[1]
	if _, err := s.iceboxd(e, "keys", "generate", "--chain", "btc", "--count", fmt.Sprint(nBTC)); err != nil {
		return nil, err
	}
	if nETH > 0 {
		if _, err := s.iceboxd(e, "keys", "generate", "--chain", "eth", "--count", fmt.Sprint(nETH)); err != nil {
			return nil, err
		}
	}
	s.manifest = filepath.Join(dir, "out", "manifest.json")
	if _, err := s.iceboxd(e, "keys", "manifest", "-o", s.manifest); err != nil {
		return nil, err
	}
	if _, err := e.icebox("manifest", "verify", s.manifest, "--signer", s.fp); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.manifest)
	if err != nil {
		return nil, err
	}
	if s.m, err = manifest.Verify(data, s.fp); err != nil {
		return nil, err
	}
	if got := len(s.addresses(btcNet)); got != nBTC {
		return nil, fmt.Errorf("manifest lists %d btc keys, want %d", got, nBTC)
	}
	return s, nil
}
