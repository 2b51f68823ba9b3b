// Command crashtest kills a real `iceboxd serve` with SIGKILL at random
// moments while it answers a stream of batched requests, restarts it each
// time, and checks after every restart that nothing was lost or signed
// twice. It is run by `make crashtest` (CRASH_KILLS=K, default 200).
//
// Setup mirrors scripts/demo.sh with the real binaries in -bin: a throwaway
// SoftHSM2 token, iceboxd init, 3 BTC + 3 ETH keys, a signed manifest,
// officer keys, a roster and a policy installed through change bundles
// signed by two admins, and demofund's UTXOs and accounts. The request
// stream (BTC and ETH sweeps, many distinct ids; some spending the same
// outpoints or nonces with other content; some reusing an id for other
// content; some identical re-submissions) is built in this process with the
// same library calls `icebox request sweep` and `icebox approve` make,
// because hundreds of CLI runs would take longer than the test itself.
//
// After every kill it checks:
//   - `iceboxd audit verify` passes;
//   - every response in the outbox decodes and verifies with the signer
//     identity from the manifest, and answers a request that was submitted;
//   - no request id, outpoint or (address, nonce) is signed with two
//     different contents (signed transactions are decoded independently:
//     Bitcoin PSBTs are finalized and their raw transactions parsed here,
//     Ethereum transactions are decoded and their sender recovered);
//   - a signed response, once in the outbox, never changes.
//
// At the end every submission must have been archived and answered by
// exactly one response file. It prints "crashtest: K kills, V violations"
// and exits 1 when V > 0.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/internal/world"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/store"
)

const (
	userPIN = "12345678" // throwaway token only
	soPIN   = "87654321"
	label   = "icebox-crash"
)

type options struct {
	kills     int
	bin       string
	dir       string
	keep      bool
	seed      uint64
	minUp     time.Duration
	maxUp     time.Duration
	poll      time.Duration
	finalWait time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.kills, "kills", 200, "number of SIGKILLs")
	flag.StringVar(&o.bin, "bin", "bin", "directory with iceboxd, icebox and demofund")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temp dir, removed unless -keep)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed (0: from the clock; printed)")
	flag.DurationVar(&o.minUp, "min-up", 5*time.Millisecond, "shortest time iceboxd runs before a kill")
	flag.DurationVar(&o.maxUp, "max-up", 450*time.Millisecond, "longest time iceboxd runs before a kill")
	flag.DurationVar(&o.poll, "poll", 10*time.Millisecond, "iceboxd serve --poll")
	flag.DurationVar(&o.finalWait, "final-wait", 3*time.Minute, "how long the last run may take to answer everything")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	v, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: %v\n", err)
		os.Exit(2)
	}
	if v > 0 {
		os.Exit(1)
	}
}

// submission is one request file dropped into the inbox.
type submission struct {
	file   string // inbox file name
	id     string
	digest bundle.Digest
	data   []byte
	// txs are the requested transactions' summaries (unsigned), in order.
	txs []chain.Summary
}

type key struct {
	id     string
	digest bundle.Digest
}

// harness holds the environment and what has been observed so far.
type harness struct {
	o        options
	rnd      *rand.Rand
	dir      string
	env      []string
	cfg      string
	inbox    string
	outbox   string
	archive  string
	logPath  string
	iceboxd  string
	w        *world.World
	man      *manifest.Manifest
	ads      map[chain.Network]chain.Adapter
	subs     []*submission
	byKey    map[key]*submission
	fed      int
	seenResp map[string][]byte // signed response file → bytes first seen
	torn     int
	viol     []string
	violSeen map[string]bool
}

func (h *harness) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if h.violSeen[msg] {
		return
	}
	h.violSeen[msg] = true
	h.viol = append(h.viol, msg)
	fmt.Fprintf(os.Stderr, "VIOLATION: %s\n", msg)
}

func run(o options) (int, error) {
	start := time.Now()
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "icebox-crashtest-")
		if err != nil {
			return 0, err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return 0, err
	}
	h := &harness{o: o, rnd: rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)), dir: dir,
		byKey:    map[key]*submission{},
		seenResp: map[string][]byte{}, violSeen: map[string]bool{}}
	fmt.Printf("crashtest: seed %d, work dir %s\n", o.seed, dir)
	w, err := world.Setup(world.Options{Dir: dir, Bin: bin, UTXOsPerAddress: 60})
	if err != nil {
		return 0, fmt.Errorf("setup: %w", err)
	}
	h.w, h.man, h.ads = w, w.Manifest, w.Adapters
	h.env, h.cfg, h.iceboxd = w.Env, w.Config, w.IceboxdBin
	h.inbox, h.outbox, h.archive, h.logPath = w.Inbox, w.Outbox, w.Archive, filepath.Join(dir, "iceboxd.log")
	if err := h.generate(o.kills*2 + 20); err != nil {
		return 0, fmt.Errorf("requests: %w", err)
	}
	fmt.Printf("crashtest: setup done in %s; %d submissions prepared\n", time.Since(start).Round(time.Millisecond), len(h.subs))

	loopStart := time.Now()
	for k := 1; k <= o.kills; k++ {
		if err := h.feed(1 + h.rnd.IntN(4)); err != nil {
			return 0, err
		}
		up := o.minUp + time.Duration(h.rnd.Int64N(int64(o.maxUp-o.minUp)+1))
		if err := h.snapshotToken(); err != nil {
			return 0, err
		}
		if err := h.killAfter(up); err != nil {
			return 0, err
		}
		if err := h.repairTornToken(); err != nil {
			return 0, err
		}
		if err := h.check(fmt.Sprintf("after kill %d", k)); err != nil {
			return 0, err
		}
		if k%25 == 0 {
			fmt.Printf("crashtest: %d kills, %d/%d submitted, %d violations (%s)\n", k, h.fed, len(h.subs), len(h.viol), time.Since(loopStart).Round(time.Millisecond))
		}
	}
	killTime := time.Since(loopStart)
	// Last run: everything left goes in, nobody kills; wait for every answer.
	if err := h.feed(len(h.subs)); err != nil {
		return 0, err
	}
	if err := h.snapshotToken(); err != nil {
		return 0, err
	}
	if err := h.finalRun(); err != nil {
		return 0, err
	}
	if err := h.check("final"); err != nil {
		return 0, err
	}
	h.checkComplete()
	fmt.Printf("crashtest: %d submissions answered; kill loop %s, total %s\n", len(h.subs), killTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if h.torn > 0 {
		fmt.Printf("crashtest: %d kills tore SoftHSM2 token files (its file store is not crash-safe); the token was restored from its state before that run, as an HSM with atomic writes would be\n", h.torn)
	}
	fmt.Printf("crashtest: %d kills, %d violations\n", o.kills, len(h.viol))
	return len(h.viol), nil
}

// ---- request stream ----

// generate prepares about n submissions in groups: a fresh request, then
// sometimes a conflicting one (same outpoint / nonce, other content, other
// id), a reuse of its id for other content, and identical re-submissions,
// shuffled within the group.
func (h *harness) generate(n int) error {
	nextUTXO := 0
	nonces := map[int]uint64{}
	for g := 1; len(h.subs) < n; g++ {
		var build func(id string, variant int) (*world.Submission, error)
		if h.rnd.IntN(5) < 2 && nextUTXO < len(h.w.UTXOs.UTXOs) {
			u := nextUTXO
			nextUTXO++
			build = func(id string, variant int) (*world.Submission, error) { return h.w.BTCSweep(id, u, variant) }
		} else {
			a := h.rnd.IntN(len(h.w.Accounts.Accounts))
			nonce := h.w.Accounts.Accounts[a].Nonce + nonces[a]
			nonces[a] += 2 // a token transfer and the native sweep
			build = func(id string, variant int) (*world.Submission, error) { return h.w.ETHSweep(id, a, nonce, variant) }
		}
		base := fmt.Sprintf("crash-%04d", g)
		var group []*submission
		add := func(id string, variant int) error {
			ws, err := build(id, variant)
			if err != nil {
				return fmt.Errorf("build %s: %w", id, err)
			}
			group = append(group, &submission{id: ws.ID, digest: ws.Digest, data: ws.Data, txs: ws.Txs})
			return nil
		}
		if err := add(base, 0); err != nil {
			return err
		}
		if h.rnd.IntN(4) == 0 { // other id, same outpoint/nonce, other content
			if err := add(base+"-conflict", 1); err != nil {
				return err
			}
		}
		if h.rnd.IntN(6) == 0 { // same id, other content
			if err := add(base, 2); err != nil {
				return err
			}
		}
		if h.rnd.IntN(5) == 0 { // identical re-submission
			dup := *group[0]
			group = append(group, &dup)
		}
		h.rnd.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
		for _, s := range group {
			s.file = fmt.Sprintf("%05d-%s.icebox", len(h.subs), s.id)
			h.subs = append(h.subs, s)
			h.byKey[key{s.id, s.digest}] = s
		}
	}
	return nil
}

// feed drops up to n more submissions into the inbox (write to a hidden
// temp file, then rename, as a careful transfer does) while fewer than 4
// are waiting.
func (h *harness) feed(n int) error {
	if err := os.MkdirAll(h.inbox, 0o700); err != nil {
		return err
	}
	pending, err := visibleFiles(h.inbox)
	if err != nil {
		return err
	}
	if len(pending) >= 4 && n < len(h.subs) {
		return nil
	}
	for i := 0; i < n && h.fed < len(h.subs); i++ {
		s := h.subs[h.fed]
		tmp := filepath.Join(h.inbox, "."+s.file+".part")
		if err := os.WriteFile(tmp, s.data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(h.inbox, s.file)); err != nil {
			return err
		}
		h.fed++
	}
	return nil
}

// ---- the SoftHSM2 token ----

// SoftHSM2's file object store rewrites token.object and object files in
// place (truncate, then write): a SIGKILL in between leaves an empty file
// and the token is gone. A real HSM commits an object write atomically. So
// before every run the token directory is copied, and a token torn by the
// kill is put back as it was before that run: the anchor writes of that run
// are lost, which Icebox must (and does) tolerate — the anchor may lag the
// store, never lead it.

func (h *harness) snapshotToken() error {
	snap := h.w.TokenDir + ".snapshot"
	if err := os.RemoveAll(snap); err != nil {
		return err
	}
	return exec.Command("cp", "-a", h.w.TokenDir, snap).Run()
}

// tokenTorn reports an empty token.object in the token directory.
func (h *harness) tokenTorn() bool {
	m, _ := filepath.Glob(filepath.Join(h.w.TokenDir, "*", "token.object"))
	if len(m) == 0 {
		return true
	}
	for _, f := range m {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			return true
		}
	}
	return false
}

func (h *harness) repairTornToken() error {
	if !h.tokenTorn() {
		return nil
	}
	h.torn++
	if err := os.RemoveAll(h.w.TokenDir); err != nil {
		return err
	}
	return exec.Command("cp", "-a", h.w.TokenDir+".snapshot", h.w.TokenDir).Run()
}

// ---- running iceboxd ----

func (h *harness) startServe() (*exec.Cmd, error) {
	logf, err := os.OpenFile(h.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	c := exec.Command(h.iceboxd, "--config", h.cfg, "serve", "--poll", h.o.poll.String())
	c.Env = h.env
	c.Dir = h.dir
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	logf.Close()
	return c, nil
}

// killAfter runs serve for up, then SIGKILLs it. serve exiting on its own
// before that is a violation.
func (h *harness) killAfter(up time.Duration) error {
	c, err := h.startServe()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		h.violation("iceboxd serve exited by itself (%v); see %s", err, h.logPath)
		return nil
	case <-time.After(up):
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	<-done
	return nil
}

// finalRun lets serve answer everything, then stops it with SIGTERM.
func (h *harness) finalRun() error {
	c, err := h.startServe()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	deadline := time.Now().Add(h.o.finalWait)
	for {
		select {
		case err := <-done:
			h.violation("iceboxd serve exited by itself in the final run (%v); see %s", err, h.logPath)
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		left, err := visibleFiles(h.inbox)
		if err != nil {
			return err
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			h.violation("iceboxd serve did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = c.Process.Signal(syscall.SIGKILL)
		<-done
		h.violation("iceboxd serve did not stop within 30 s of SIGTERM")
	}
	return nil
}

func visibleFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ---- checks ----

// check runs `iceboxd audit verify` and checks every response in the outbox.
func (h *harness) check(when string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, h.iceboxd, "--config", h.cfg, "audit", "verify")
	c.Env, c.Dir = h.env, h.dir
	if out, err := c.CombinedOutput(); err != nil {
		h.violation("%s: iceboxd audit verify failed: %v: %s", when, err, strings.TrimSpace(string(out)))
	}
	names, err := visibleFiles(h.outbox)
	if err != nil {
		return err
	}
	signedBy := map[string]string{}    // consume key → signed content (txid / signing hash)
	signedWhere := map[string]string{} // consume key → response file
	signedID := map[string]bundle.Digest{}
	for _, name := range names {
		path := filepath.Join(h.outbox, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		resp, err := bundle.DecodeResponse(data, bundle.Limits{})
		if err != nil {
			h.violation("%s: outbox %s does not decode: %v", when, name, err)
			continue
		}
		if err := bundle.VerifyResponse(resp, h.man.Signer); err != nil {
			h.violation("%s: outbox %s does not verify with the manifest's signer identity: %v", when, name, err)
			continue
		}
		sub, ok := h.byKey[key{resp.RequestID, resp.RequestDigest}]
		if !ok {
			h.violation("%s: outbox %s answers request %q digest %s, which was never submitted", when, name, resp.RequestID, resp.RequestDigest)
			continue
		}
		if resp.Status != bundle.StatusSigned {
			continue
		}
		if prev, ok := h.seenResp[name]; ok && string(prev) != string(data) {
			h.violation("%s: signed response %s changed after it was output", when, name)
		}
		h.seenResp[name] = data
		if d, ok := signedID[resp.RequestID]; ok && d != resp.RequestDigest {
			h.violation("%s: request id %q signed for two different digests (%s, %s)", when, resp.RequestID, d, resp.RequestDigest)
		}
		signedID[resp.RequestID] = resp.RequestDigest
		if len(resp.Signed) != len(sub.txs) {
			h.violation("%s: %s carries %d signed transactions, the request %d", when, name, len(resp.Signed), len(sub.txs))
			continue
		}
		for i, st := range resp.Signed {
			consumes, content, err := h.decodeSigned(st)
			if err != nil {
				h.violation("%s: %s transaction %d: %v", when, name, i, err)
				continue
			}
			if content != sub.txs[i].ID {
				h.violation("%s: %s transaction %d is %s, the request asked for %s", when, name, i, content, sub.txs[i].ID)
			}
			for _, k := range consumes {
				if prev, ok := signedBy[k]; ok && prev != content {
					h.violation("%s: %s signed twice with different content: %s (%s) and %s (%s)", when, k, prev, signedWhere[k], content, name)
				}
				signedBy[k], signedWhere[k] = content, name
			}
		}
	}
	return nil
}

// decodeSigned decodes a signed transaction independently of the request:
// what it consumes and its content id (Bitcoin txid, Ethereum signing hash).
func (h *harness) decodeSigned(t bundle.Transaction) ([]string, string, error) {
	switch a := h.ads[chain.Network(t.Network)].(type) {
	case *btc.Adapter:
		_, raw, err := btc.Finalize(t.Payload)
		if err != nil {
			return nil, "", fmt.Errorf("finalize PSBT: %w", err)
		}
		outs, txid, err := parseRawTx(raw)
		if err != nil {
			return nil, "", err
		}
		var keys []string
		for _, o := range outs {
			keys = append(keys, store.OutpointKey(t.Network, o.txid, o.vout))
		}
		return keys, txid, nil
	case *eth.Adapter:
		st, err := a.DecodeSigned(t.Payload)
		if err != nil {
			return nil, "", err
		}
		if !strings.EqualFold(st.Sender, st.Summary.From) {
			return nil, "", fmt.Errorf("recovered sender %s is not the transaction's %s", st.Sender, st.Summary.From)
		}
		return []string{store.NonceKey(a.ChainID(), st.Sender, st.Summary.Nonce)}, st.Summary.ID, nil
	default:
		return nil, "", fmt.Errorf("network %q not served", t.Network)
	}
}

type outpoint struct {
	txid string
	vout uint32
}

// parseRawTx reads the inputs of a serialized (segwit or legacy) Bitcoin
// transaction and computes its txid (double SHA-256 of the serialization
// without witness data, byte-reversed hex). Written by hand so that the
// check does not share the signer's decoder.
func parseRawTx(raw []byte) ([]outpoint, string, error) {
	r := &reader{b: raw}
	version := r.next(4)
	segwit := false
	if len(r.b) >= r.i+2 && r.b[r.i] == 0 && r.b[r.i+1] == 1 {
		segwit = true
		r.i += 2
	}
	bodyStart := r.i
	nin := r.varint()
	var outs []outpoint
	for j := uint64(0); j < nin && r.err == nil; j++ {
		h := r.next(32)
		idx := r.next(4)
		r.next(int(r.varint()))
		r.next(4)
		if r.err == nil {
			rev := make([]byte, 32)
			for k := range h {
				rev[31-k] = h[k]
			}
			outs = append(outs, outpoint{hex.EncodeToString(rev), binary.LittleEndian.Uint32(idx)})
		}
	}
	nout := r.varint()
	for j := uint64(0); j < nout && r.err == nil; j++ {
		r.next(8)
		r.next(int(r.varint()))
	}
	bodyEnd := r.i
	if segwit {
		for j := uint64(0); j < nin && r.err == nil; j++ {
			items := r.varint()
			for k := uint64(0); k < items && r.err == nil; k++ {
				r.next(int(r.varint()))
			}
		}
	}
	lock := r.next(4)
	if r.err != nil {
		return nil, "", fmt.Errorf("raw transaction: %w", r.err)
	}
	if r.i != len(raw) {
		return nil, "", fmt.Errorf("raw transaction: %d trailing bytes", len(raw)-r.i)
	}
	stripped := append(append(append([]byte{}, version...), raw[bodyStart:bodyEnd]...), lock...)
	first := sha256.Sum256(stripped)
	second := sha256.Sum256(first[:])
	for k := 0; k < 16; k++ {
		second[k], second[31-k] = second[31-k], second[k]
	}
	return outs, hex.EncodeToString(second[:]), nil
}

type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil || n < 0 || r.i+n > len(r.b) {
		if r.err == nil {
			r.err = errors.New("truncated")
		}
		return make([]byte, max(n, 0))
	}
	out := r.b[r.i : r.i+n]
	r.i += n
	return out
}

func (r *reader) varint() uint64 {
	p := r.next(1)
	switch p[0] {
	case 0xfd:
		return uint64(binary.LittleEndian.Uint16(r.next(2)))
	case 0xfe:
		return uint64(binary.LittleEndian.Uint32(r.next(4)))
	case 0xff:
		v := binary.LittleEndian.Uint64(r.next(8))
		if v > 1<<20 {
			r.err = errors.New("count too large")
			return 0
		}
		return v
	default:
		return uint64(p[0])
	}
}

// checkComplete: the inbox is empty, every submission was archived, and
// every distinct request (id, digest) has exactly one response file.
func (h *harness) checkComplete() {
	left, _ := visibleFiles(h.inbox)
	for _, f := range left {
		h.violation("final: %s is still in the inbox, unanswered", f)
	}
	archived, _ := visibleFiles(h.archive)
	inArchive := map[string]int{}
	for _, f := range archived {
		base := f
		if m := regexp.MustCompile(`^(.*)\.\d{8}T\d{6}Z-\d+\.icebox$`).FindStringSubmatch(f); m != nil {
			base = m[1] + ".icebox"
		}
		inArchive[base]++
	}
	twice := 0
	for _, s := range h.subs {
		switch inArchive[s.file] {
		case 0:
			h.violation("final: %s (request %q) was never archived", s.file, s.id)
		case 1:
		default:
			twice++
		}
	}
	answers := map[key][]string{}
	names, _ := visibleFiles(h.outbox)
	refused, signed := 0, 0
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(h.outbox, name))
		if err != nil {
			h.violation("final: read %s: %v", name, err)
			continue
		}
		resp, err := bundle.DecodeResponse(data, bundle.Limits{})
		if err != nil {
			continue // reported by check
		}
		k := key{resp.RequestID, resp.RequestDigest}
		answers[k] = append(answers[k], name)
		if resp.Status == bundle.StatusSigned {
			signed++
		} else {
			refused++
		}
	}
	for k, s := range h.byKey {
		switch n := len(answers[k]); n {
		case 0:
			h.violation("final: request %q (digest %s, %s) has no response", k.id, k.digest, s.file)
		case 1:
		default:
			h.violation("final: request %q (digest %s) has %d responses: %s", k.id, k.digest, n, strings.Join(answers[k], ", "))
		}
	}
	tmps := 0
	if ents, err := os.ReadDir(h.outbox); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				tmps++
			}
		}
	}
	fmt.Printf("crashtest: %d distinct requests: %d signed, %d refused; %d inputs archived twice (killed between link and unlink: answered again with the stored response); %d temp files left by killed writes\n",
		len(h.byKey), signed, refused, twice, tmps)
	if data, err := json.Marshal(map[string]int{"signed": signed, "refused": refused}); err == nil {
		_ = os.WriteFile(filepath.Join(h.dir, "summary.json"), data, 0o600)
	}
}
