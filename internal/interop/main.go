// Command interop proves against real node software that what Icebox signs
// is accepted: it starts btcd (simnet) and geth (--dev) on loopback with
// throwaway data directories, funds the cold keys of three SoftHSM2-backed
// signers, runs the whole flow with the real icebox and iceboxd binaries
// (requests read from the nodes' RPC, officer approvals, bundles crossing
// as QR text parts, iceboxd sign, icebox finalize --broadcast), mines, and
// checks on chain that every transaction is in a block and that the
// balances moved exactly as requested. It prints one final line
// "interop: N passed, M failed" and exits 1 when M > 0. Every node it
// started is stopped on the way out, also on failure or interrupt.
//
// Run it with make interop (which installs the pinned node binaries).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type result struct {
	name string
	err  error
	took time.Duration
}

// suite records the outcome of every item.
type suite struct {
	results []result
	log     *slog.Logger
}

func (s *suite) check(name string, fn func() error) bool {
	start := time.Now()
	err := fn()
	s.results = append(s.results, result{name: name, err: err, took: time.Since(start)})
	if err != nil {
		fmt.Printf("FAIL %s (%s): %v\n", name, time.Since(start).Round(time.Millisecond), err)
		return false
	}
	fmt.Printf("ok   %s (%s)\n", name, time.Since(start).Round(time.Millisecond))
	return true
}

func (s *suite) skip(name string, why error) {
	s.results = append(s.results, result{name: name, err: why})
	fmt.Printf("FAIL %s: %v\n", name, why)
}

func main() {
	os.Exit(run())
}

func run() int {
	binDir := flag.String("bin", "bin", "directory holding icebox and iceboxd")
	nodeDir := flag.String("nodes", "", "directory holding btcd and geth (or give -btcd and -geth)")
	btcdBin := flag.String("btcd", "", "btcd binary (default: NODES/btcd)")
	gethBin := flag.String("geth", "", "geth binary (default: NODES/geth)")
	workDir := flag.String("work", "", "working directory (default: a new temporary directory, removed unless -keep)")
	keep := flag.Bool("keep", false, "keep the working directory")
	noETH := flag.Bool("no-eth", false, "bitcoin only (no geth): for working on the bitcoin items")
	flag.Parse()
	start := time.Now()
	s := &suite{log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if *btcdBin == "" && *nodeDir != "" {
		*btcdBin = filepath.Join(*nodeDir, "btcd")
	}
	if *gethBin == "" && *nodeDir != "" {
		*gethBin = filepath.Join(*nodeDir, "geth")
	}
	if *btcdBin == "" || (*gethBin == "" && !*noETH) {
		fmt.Fprintln(os.Stderr, "interop: give -btcd and -geth (or -nodes DIR)")
		fmt.Println("interop: 0 passed, 1 failed")
		return 2
	}
	dir := *workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "icebox-interop-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "interop:", err)
			fmt.Println("interop: 0 passed, 1 failed")
			return 1
		}
		dir = d
		if !*keep {
			defer os.RemoveAll(dir)
		}
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	e := &env{bin: abs(*binDir), btcdBin: abs(*btcdBin), gethBin: abs(*gethBin), work: abs(dir), suite: s, noETH: *noETH}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	// Stop every node on the way out, whatever happened.
	defer e.stopNodes()
	go func() {
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.Canceled) {
			e.stopNodes()
		}
	}()

	fmt.Printf("interop: working in %s\n", e.work)
	e.runAll(ctx)

	passed, failed := 0, 0
	for _, r := range s.results {
		if r.err != nil {
			failed++
		} else {
			passed++
		}
	}
	e.stopNodes()
	fmt.Printf("interop: total time %s\n", time.Since(start).Round(time.Second))
	if failed > 0 && *workDir == "" && !*keep {
		fmt.Println("interop: rerun with -keep (or make interop INTEROP_KEEP=1) to keep the logs")
	}
	fmt.Printf("interop: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// items are the checks runAll performs, in order (for the skip list).
var items = []string{
	"setup: three signers on SoftHSM2 tokens, officers, roster and policy",
	"nodes: btcd simnet and geth --dev listen on loopback only",
	"funding: mine to our P2WPKH and 2-of-3 P2WSH addresses, mature, segwit active",
	"funding: ETH to 10 addresses, hand-assembled ERC-20 deployed with balances",
	"btc: P2WPKH batched sweep (>= 50 inputs, several transactions)",
	"btc: 2-of-3 P2WSH multisig signed by three signers in turn",
	"btc: a second spend of reserved outputs is refused (rule without allow_fee_bump)",
	"btc: fee bump of our own unmined transaction (allow_fee_bump; btcd accepts the BIP-125 replacement)",
	"eth: ERC-20 sweep",
	"eth: native sweep from 10 addresses",
}

func (e *env) runAll(ctx context.Context) {
	steps := []func(context.Context) error{
		e.setupSigners,
		e.startNodes,
		e.fundBTC,
		e.fundETH,
		e.btcSweep,
		e.btcMultisig,
		e.btcSecondSpend,
		e.btcFeeBump,
		e.ethTokenSweep,
		e.ethNativeSweep,
	}
	setup := 4
	for i, step := range steps {
		if ctx.Err() != nil {
			e.suite.skip(items[i], errors.New("interrupted"))
			continue
		}
		if e.noETH && strings.HasPrefix(items[i], "eth:") {
			continue
		}
		ok := e.suite.check(items[i], func() error { return step(ctx) })
		if !ok && i < setup {
			for _, name := range items[i+1:] {
				e.suite.skip(name, errors.New("not run: setup failed"))
			}
			return
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
