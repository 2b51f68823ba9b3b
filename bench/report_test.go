package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/hsm/pkcs11/pkcs11test"
)

// Environment knobs of make bench.
const (
	// envDoc: where to write the report (default ../docs/benchmarks.md).
	envDoc = "ICEBOX_BENCH_DOC"
	// envProfile: a directory to write one CPU profile per end-to-end
	// measurement into (pprof), for finding what to fix.
	envProfile = "ICEBOX_BENCH_PROFILE"
	// envQuick: smaller sizes and repeats, for trying the harness out.
	envQuick = "ICEBOX_BENCH_QUICK"
)

// rawResult is one raw measurement.
type rawResult struct {
	sessions int
	sigs     int
	elapsed  time.Duration
	lat      []time.Duration // per signature (1 session only)
	cpu      time.Duration   // process CPU time (user + system; SoftHSM runs in-process)
}

func (r rawResult) rate() float64 { return float64(r.sigs) / r.elapsed.Seconds() }

// cpuPerSig is the CPU time of this process per signature: immune to what
// other processes on a shared machine do.
func (r rawResult) cpuPerSig() time.Duration { return r.cpu / time.Duration(r.sigs) }

// processCPU returns this process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawRun signs n digests with the bare C_Sign path on sessions sessions.
func (e *env) rawRun(tb testing.TB, sessions, n int) rawResult {
	tb.Helper()
	raw := pkcs11test.OpenRawSigner(tb, pkcs11test.Token{ModulePath: e.tok.ModulePath, Label: e.tok.Label, UserPIN: e.tok.UserPIN},
		e.side.keys[0].Ref, sessions)
	defer raw.Close()
	res := rawResult{sessions: sessions, sigs: n}
	if sessions == 1 {
		res.lat = make([]time.Duration, 0, n)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	cpu0 := processCPU()
	start := time.Now()
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d [32]byte
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				binary.BigEndian.PutUint64(d[:], uint64(i))
				d = sha256.Sum256(d[:])
				t0 := time.Now()
				if _, err := raw.Sign(s, d[:]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if sessions == 1 {
					res.lat = append(res.lat, time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = processCPU() - cpu0
	if err, _ := firstErr.Load().(error); err != nil {
		tb.Fatalf("raw sign: %v", err)
	}
	return res
}

// e2eResult is one end-to-end measurement with the raw runs around it.
type e2eResult struct {
	name      string
	txs, sigs int
	runs      int
	elapsed   time.Duration // all runs
	rawBefore rawResult
	rawAfter  rawResult
	rssMB     float64 // child runs only
	cpu       time.Duration
}

func (r e2eResult) rate() float64 { return float64(r.sigs*r.runs) / r.elapsed.Seconds() }
func (r e2eResult) raw() float64  { return (r.rawBefore.rate() + r.rawAfter.rate()) / 2 }
func (r e2eResult) ratio() float64 {
	return r.rate() / r.raw()
}

// cpuPerSig is the process CPU time per signature end to end.
func (r e2eResult) cpuPerSig() time.Duration { return r.cpu / time.Duration(r.sigs*r.runs) }

// cpuRatio is raw CPU per signature over end-to-end CPU per signature: the
// share of the CPU the HSM gets, which on a dedicated machine with a
// session per core bounds e2e/raw. It does not drift with other load.
func (r e2eResult) cpuRatio() float64 {
	raw := (r.rawBefore.cpuPerSig() + r.rawAfter.cpuPerSig()) / 2
	return float64(raw) / float64(r.cpuPerSig())
}

// batch measures runs requests of the same shape, bracketed by raw runs of
// as many signatures (at least 1,000) on one session per core.
func (e *env) batch(tb testing.TB, name string, kind bundle.RequestKind, sigs, runs int, build func() []bundle.Transaction) e2eResult {
	tb.Helper()
	reqs := make([][]byte, runs)
	var ntx int
	for i := range reqs {
		txs := build()
		ntx = len(txs)
		reqs[i] = e.request(kind, txs)
	}
	rawN := max(1000, min(sigs*runs, 6000))
	res := e2eResult{name: name, txs: ntx, sigs: sigs, runs: runs}
	res.rawBefore = e.rawRun(tb, runtime.NumCPU(), rawN)
	stop := startProfile(tb, name)
	ctx := context.Background()
	for _, r := range reqs {
		cpu0 := processCPU()
		d, out, err := process(ctx, e.side.pipeline, r)
		res.cpu += processCPU() - cpu0
		if err == nil {
			err = checkSigned(out, ntx)
		}
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		res.elapsed += d
	}
	stop()
	res.rawAfter = e.rawRun(tb, runtime.NumCPU(), rawN)
	return res
}

func startProfile(tb testing.TB, name string) func() {
	dir := os.Getenv(envProfile)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".pprof"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// childResult is what the RSS child reports on stdout.
type childResult struct {
	ElapsedNS int64  `json:"elapsed_ns"`
	CPUNS     int64  `json:"cpu_ns"`
	Signed    int    `json:"signed"`
	VmHWMKB   int64  `json:"vmhwm_kb"`
	Error     string `json:"error,omitempty"`
}

// childBatch runs one request in a child process (the test binary in child
// mode, see TestMain) that opens the same token and store the way iceboxd
// sign does, and reports the time of Process and its peak RSS.
func (e *env) childBatch(tb testing.TB, name string, kind bundle.RequestKind, sigs int, build func() []bundle.Transaction) e2eResult {
	tb.Helper()
	txs := build()
	req := e.request(kind, txs)
	dir := tb.TempDir()
	reqPath, specPath := filepath.Join(dir, "request.icebox"), filepath.Join(dir, "spec.json")
	if err := os.WriteFile(reqPath, req, 0o600); err != nil {
		tb.Fatal(err)
	}
	e.writeSpec(specPath)
	res := e2eResult{name: name, txs: len(txs), sigs: sigs, runs: 1}
	rawN := min(sigs, 6000)
	res.rawBefore = e.rawRun(tb, runtime.NumCPU(), rawN)
	e.close() // the child takes the store's file lock and the token
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+specPath, envChildRequest+"="+reqPath)
	if p := os.Getenv(envProfile); p != "" {
		cmd.Env = append(cmd.Env, envChildProfile+"="+filepath.Join(p, strings.ReplaceAll(name, " ", "_")+".pprof"))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	e.open()
	if err != nil {
		tb.Fatalf("%s child: %v\n%s\n%s", name, err, stdout.String(), stderr.String())
	}
	var cr childResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &cr); err != nil {
		tb.Fatalf("%s child output %q: %v", name, stdout.String(), err)
	}
	if cr.Error != "" || cr.Signed != len(txs) {
		tb.Fatalf("%s child: signed %d of %d: %s", name, cr.Signed, len(txs), cr.Error)
	}
	res.elapsed = time.Duration(cr.ElapsedNS)
	res.cpu = time.Duration(cr.CPUNS)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res.rssMB = float64(cr.VmHWMKB) / 1024
	if ru != nil && float64(ru.Maxrss)/1024 > res.rssMB {
		res.rssMB = float64(ru.Maxrss) / 1024 // Linux: kilobytes
	}
	res.rawAfter = e.rawRun(tb, runtime.NumCPU(), rawN)
	return res
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// floorResult: the floor of one withdrawal and one withdrawal end to end.
type floorResult struct {
	floor, commit, sign []time.Duration
	single              []time.Duration
}

// floor measures n × (one raw signature, then one fsync'd bbolt commit in
// a separate file next to the store).
func (e *env) floor(tb testing.TB, n int) floorResult {
	tb.Helper()
	raw := pkcs11test.OpenRawSigner(tb, pkcs11test.Token{ModulePath: e.tok.ModulePath, Label: e.tok.Label, UserPIN: e.tok.UserPIN},
		e.side.keys[0].Ref, 1)
	defer raw.Close()
	db, err := bolt.Open(filepath.Join(filepath.Dir(e.sp.StorePath), "floor.db"), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var res floorResult
	var d [32]byte
	for i := 0; i < n; i++ {
		d = sha256.Sum256(d[:])
		t0 := time.Now()
		sig, err := raw.Sign(0, d[:])
		if err != nil {
			tb.Fatal(err)
		}
		t1 := time.Now()
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("floor"))
			if err != nil {
				return err
			}
			return b.Put(d[:], sig)
		})
		if err != nil {
			tb.Fatal(err)
		}
		t2 := time.Now()
		res.sign = append(res.sign, t1.Sub(t0))
		res.commit = append(res.commit, t2.Sub(t1))
		res.floor = append(res.floor, t2.Sub(t0))
	}
	return res
}

// singles runs n one-transaction withdrawals end to end, one at a time.
func (e *env) singles(tb testing.TB, n int) []time.Duration {
	tb.Helper()
	reqs := make([][]byte, n)
	for i := range reqs {
		reqs[i] = e.request(bundle.KindWithdrawal, e.ethTxs(1))
	}
	stop := startProfile(tb, "single withdrawal")
	defer stop()
	out := make([]time.Duration, n)
	for i, r := range reqs {
		d, o, err := process(context.Background(), e.side.pipeline, r)
		if err == nil {
			err = checkSigned(o, 1)
		}
		if err != nil {
			tb.Fatalf("single withdrawal %d: %v", i, err)
		}
		out[i] = d
	}
	return out
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func mean(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}

// sizes of one make bench run.
type sizes struct {
	raw1, rawN, floorN, singles int
	eth100, eth1000, btc1000    int // repeats
	eth10k                      int // transactions of the child batch
}

func benchSizes() sizes {
	if os.Getenv(envQuick) != "" {
		return sizes{raw1: 300, rawN: 600, floorN: 30, singles: 30, eth100: 1, eth1000: 1, btc1000: 1, eth10k: 2000}
	}
	return sizes{raw1: 2000, rawN: 4000, floorN: 200, singles: 200, eth100: 5, eth1000: 3, btc1000: 2, eth10k: 10000}
}

// BenchmarkReport is make bench: every measurement once, side by side, the
// table and summary line on stdout, docs/benchmarks.md rewritten. It runs
// its work once whatever b.N is (run it with -benchtime=1x).
func BenchmarkReport(b *testing.B) {
	if b.N > 1 {
		b.Skip("BenchmarkReport measures once; run with -benchtime=1x")
	}
	sz := benchSizes()
	start := time.Now()
	// The store (and the floor's bbolt file) live on the disk of the
	// working directory, not on a tmpfs.
	dir, err := os.MkdirTemp(".", ".bench-")
	if err != nil {
		b.Fatal(err)
	}
	dir, _ = filepath.Abs(dir)
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	e := newEnv(b, dir)
	ctx := context.Background()
	_ = ctx

	rep := &report{started: start}
	rep.raw1 = e.rawRun(b, 1, sz.raw1)
	rep.rawN = e.rawRun(b, runtime.NumCPU(), sz.rawN)
	rep.floor = e.floor(b, sz.floorN)
	rep.floor.single = e.singles(b, sz.singles)
	rep.batches = append(rep.batches,
		e.batch(b, "ETH 100 tx", bundle.KindSweep, 100, sz.eth100, func() []bundle.Transaction { return e.ethTxs(100) }),
		e.batch(b, "ETH 1,000 tx", bundle.KindSweep, 1000, sz.eth1000, func() []bundle.Transaction { return e.ethTxs(1000) }),
		e.batch(b, "BTC 1,000 P2WPKH inputs", bundle.KindSweep, 1000, sz.btc1000, func() []bundle.Transaction { return e.btcSweep(1000) }),
		e.childBatch(b, fmt.Sprintf("ETH %s tx", thousands(sz.eth10k)), bundle.KindSweep, sz.eth10k, func() []bundle.Transaction { return e.ethTxs(sz.eth10k) }),
	)
	rep.qr = e.qrBench(b)
	rep.elapsed = time.Since(start)
	rep.write(b)
}
