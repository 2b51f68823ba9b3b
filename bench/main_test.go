package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Child mode: the parent sets these to make the test binary sign one
// request the way iceboxd sign does and report its time and peak RSS.
const (
	envChild        = "ICEBOX_BENCH_CHILD_SPEC"
	envChildRequest = "ICEBOX_BENCH_CHILD_REQUEST"
	envChildProfile = "ICEBOX_BENCH_CHILD_PROFILE"
)

func TestMain(m *testing.M) {
	if sp := os.Getenv(envChild); sp != "" {
		res := runChild(sp, os.Getenv(envChildRequest), os.Getenv(envChildProfile))
		b, _ := json.Marshal(res)
		fmt.Fprintln(os.Stdout, string(b))
		if res.Error != "" {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(specPath, reqPath, profile string) childResult {
	fail := func(err error) childResult { return childResult{Error: err.Error()} }
	b, err := os.ReadFile(specPath)
	if err != nil {
		return fail(err)
	}
	var sp spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return fail(err)
	}
	ctx := context.Background()
	s, err := openSigner(ctx, sp)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	data, err := os.ReadFile(reqPath)
	if err != nil {
		return fail(err)
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
	}
	cpu0 := processCPU()
	start := time.Now()
	out, err := s.pipeline.Process(ctx, data)
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return fail(err)
	}
	if out.Refused() {
		r := out.Response.Refusal
		return fail(fmt.Errorf("refused at %s (%s): %s", r.Stage, r.Code, r.Reason))
	}
	return childResult{ElapsedNS: elapsed.Nanoseconds(), CPUNS: cpu.Nanoseconds(), Signed: len(out.Response.Signed), VmHWMKB: vmHWM()}
}

// vmHWM reads the peak resident set size of this process (kB) from
// /proc/self/status; 0 where there is none.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
