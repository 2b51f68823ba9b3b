package store_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
	"github.com/icebox-custody/icebox/store/storetest"
)

const childEnv = "ICEBOX_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child runs in a re-executed test binary. Arguments come from the
// environment: ICEBOX_STORE_PATH, ICEBOX_STORE_ANCHOR_DIR, ICEBOX_STORE_NOW.
func child(mode string) int {
	ns, _ := strconv.ParseInt(os.Getenv("ICEBOX_STORE_NOW"), 10, 64)
	now := time.Unix(0, ns).UTC()
	opts := store.Options{
		Clock: func() time.Time { return now }, ClockTolerance: time.Minute, CheckpointEvery: 8,
		Identity: storetest.NewEd25519Signer("identity"),
		Anchor:   storetest.FileAnchor{Dir: os.Getenv("ICEBOX_STORE_ANCHOR_DIR")},
	}
	s, err := store.Open(os.Getenv("ICEBOX_STORE_PATH"), opts)
	switch mode {
	case "open-locked":
		if errors.Is(err, store.ErrLocked) {
			fmt.Println("locked:", err)
			return 3
		}
		fmt.Println("unexpected:", err)
		return 1
	case "reserve-and-hang":
		if err != nil {
			fmt.Println("open:", err)
			return 1
		}
		if _, err := s.Reserve(crashRequest()); err != nil {
			fmt.Println("reserve:", err)
			return 1
		}
		fmt.Println("reserved")
		// Killed here, between reserve and complete (no signature yet).
		time.Sleep(time.Hour)
		return 1
	}
	return 2
}

func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func crashRequest() store.ReserveRequest {
	return store.ReserveRequest{
		RequestID: "req-crash", RequestDigest: digest("crash body"),
		Consumes: []store.Consume{
			{Key: store.OutpointKey("btc-regtest", strings.Repeat("ab", 32), 0), ContentHash: digest("tx A")},
			{Key: store.NonceKey(1337, "0xABCDEF0000000000000000000000000000000001", 7), ContentHash: digest("eth tx A")},
		},
		Charges: []store.Charge{{Counter: "btc-daily", Amount: big.NewInt(50_000)}},
		Intent:  store.Record{Decision: "allow", Reasons: []string{"within limits"}},
	}
}

func childCmd(t *testing.T, env *storetest.Env, mode string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "ICEBOX_STORE_PATH="+env.Path,
		"ICEBOX_STORE_ANCHOR_DIR="+env.Dir, "ICEBOX_STORE_NOW="+strconv.FormatInt(env.Clock.Now().UnixNano(), 10))
	return cmd
}

// fileEnv is an Env whose anchor lives in files, so child processes share it.
func fileEnv(t *testing.T) *storetest.Env {
	env := storetest.NewEnv(t)
	env.Anchor = storetest.FileAnchor{Dir: env.Dir}
	return env
}

func TestOpenCreatesPrivateFilesAndGenesis(t *testing.T) {
	env := storetest.NewEnv(t)
	s := env.MustOpen(t)
	fi, err := os.Stat(env.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %o, want 600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(env.Path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("store dir mode %o, want 700", di.Mode().Perm())
	}
	rep, err := s.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 1 || rep.Checkpoints != 1 || rep.Unanchored != 0 {
		t.Errorf("fresh store report %+v, want 1 record, 1 checkpoint", rep)
	}
	v, err := env.Anchor.ReadAnchor(context.Background(), store.AnchorName)
	if err != nil {
		t.Fatalf("anchor not written: %v", err)
	}
	cp, err := audit.ParseCheckpointLine(v)
	if err != nil || cp.Seq != 1 || cp.Head != rep.Head {
		t.Errorf("anchor %+v (%v), want seq 1 head %s", cp, err, rep.Head)
	}
}

func TestOpenRefusesReadableByOthers(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(env.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := env.Open(); err == nil || !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "chmod 600") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open of a 0644 store: %v, want a refusal naming the mode", err)
	}
}

func TestOpenRequiresOptions(t *testing.T) {
	env := storetest.NewEnv(t)
	for name, mut := range map[string]func(*store.Options){
		"no clock":    func(o *store.Options) { o.Clock = nil },
		"no identity": func(o *store.Options) { o.Identity = nil },
		"no anchor":   func(o *store.Options) { o.Anchor = nil },
	} {
		o := env.Options()
		mut(&o)
		if _, err := store.Open(env.Path, o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestSecondOpenInProcessFailsWithErrLocked(t *testing.T) {
	env := storetest.NewEnv(t)
	env.MustOpen(t)
	s2, err := env.Open()
	if !errors.Is(err, store.ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), env.Path) || !strings.Contains(err.Error(), "another iceboxd") {
		t.Errorf("error %q should name the path and say why", err)
	}
}

func TestSecondOpenFromAnotherProcessFailsWithErrLocked(t *testing.T) {
	env := fileEnv(t)
	env.MustOpen(t)
	out, err := childCmd(t, env, "open-locked").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v, output %q; want exit 3 (ErrLocked)", err, out)
	}
	if !strings.Contains(string(out), "locked") {
		t.Errorf("child output %q", out)
	}
}

func TestCloseReleasesLock(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(crashRequest()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("reserve on closed store: %v, want ErrClosed", err)
	}
	env.MustOpen(t)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func simpleReq(id, body string, keys ...string) store.ReserveRequest {
	r := store.ReserveRequest{RequestID: id, RequestDigest: digest(body), Intent: store.Record{Decision: "allow"}}
	for _, k := range keys {
		r.Consumes = append(r.Consumes, store.Consume{Key: k, ContentHash: digest(body + "/" + k)})
	}
	return r
}

func mustSign(t *testing.T, s *store.Store, r store.ReserveRequest) {
	t.Helper()
	res, err := s.Reserve(r)
	if err != nil {
		t.Fatalf("reserve %s: %v", r.RequestID, err)
	}
	if _, err := s.Complete(res, store.CompleteRequest{Response: []byte("response " + r.RequestID), Outcome: store.Record{Decision: "signed"}}); err != nil {
		t.Fatalf("complete %s: %v", r.RequestID, err)
	}
	if _, err := s.Checkpoint(context.Background()); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
}

func TestRollbackToOlderStoreIsRefusedUntilAcknowledged(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, simpleReq("r1", "b1", "k1"))
	s.Close()
	old := filepath.Join(env.Dir, "old.db")
	copyFile(t, env.Path, old)

	s, err = env.Open()
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, simpleReq("r2", "b2", "k2"))
	s.Close()

	copyFile(t, old, env.Path) // an old disk restored
	s, err = env.Open()
	var rb *store.RollbackError
	if !errors.As(err, &rb) || !errors.Is(err, store.ErrRolledBack) {
		t.Fatalf("open of restored old store: %v, want *RollbackError", err)
	}
	if s == nil {
		t.Fatal("quarantined open must return the store for acknowledgement")
	}
	defer s.Close()
	if rb.Diverged || rb.StoreSeq >= rb.Anchor.Seq {
		t.Errorf("rollback error %+v: want store behind anchor", rb)
	}
	if !strings.Contains(err.Error(), "admin quorum") {
		t.Errorf("message %q should tell the operator what to do", err)
	}
	// Quarantined: no writes. k2 was signed in the newer store and the old
	// copy does not know it: signing it again must be impossible.
	if _, err := s.Reserve(simpleReq("r2-again", "other", "k2")); !errors.Is(err, store.ErrRolledBack) {
		t.Fatalf("reserve on quarantined store: %v, want ErrRolledBack", err)
	}
	if _, err := s.RecordRefusal(store.Record{RequestID: "x"}); !errors.Is(err, store.ErrRolledBack) {
		t.Fatalf("refusal on quarantined store: %v, want ErrRolledBack", err)
	}
	if _, err := s.Checkpoint(context.Background()); !errors.Is(err, store.ErrRolledBack) {
		t.Fatalf("checkpoint on quarantined store: %v, want ErrRolledBack", err)
	}
	s.Close()
	// Still refused on the next start.
	s, err = env.Open()
	if !errors.Is(err, store.ErrRolledBack) {
		t.Fatalf("second open: %v, want ErrRolledBack", err)
	}
	rec, err := s.AcknowledgeRollback([]byte("ack: admins a,b approved restore of backup 2026-03-01"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != audit.KindRollbackAcknowledged || !strings.Contains(rec.Reasons[0], "anchor seq") {
		t.Errorf("ack record %+v", rec)
	}
	if _, err := s.AcknowledgeRollback([]byte("again")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("second acknowledgement: %v, want ErrInvalid", err)
	}
	mustSign(t, s, simpleReq("r3", "b3", "k3"))
	s.Close()
	env.MustOpen(t) // the anchor now follows the acknowledged store
}

func TestDivergedStoreIsRefused(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	old := filepath.Join(env.Dir, "old.db")
	copyFile(t, env.Path, old)
	s, err = env.Open()
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, simpleReq("r1", "real", "k1")) // anchored: seq 4
	s.Close()

	// A forged store with the same length but other content, written with
	// a different (fresh) anchor store.
	forged := *env
	forged.Path = old
	forged.Anchor = &storetest.MemAnchor{}
	fs, err := forged.Open()
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, fs, simpleReq("r1", "forged", "k1"))
	fs.Close()
	copyFile(t, old, env.Path)

	s, err = env.Open()
	var rb *store.RollbackError
	if !errors.As(err, &rb) || !rb.Diverged {
		t.Fatalf("open of diverged store: %v, want diverged *RollbackError", err)
	}
	s.Close()
}

func TestAnchorSignedByAnotherKeyIsRefused(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	env.Identity = storetest.NewEd25519Signer("someone else")
	if s, err := env.Open(); !errors.Is(err, store.ErrAnchorInvalid) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open with another identity: %v, want ErrAnchorInvalid", err)
	}
}

func TestClockBehindTimeFloorIsRefused(t *testing.T) {
	env := storetest.NewEnv(t) // tolerance 2 minutes
	s := env.MustOpen(t)
	mustSign(t, s, simpleReq("r1", "b1", "k1"))
	floor := env.Clock.Now()

	env.Clock.Advance(-time.Minute) // within tolerance
	res, err := s.Reserve(simpleReq("r2", "b2", "k2"))
	if err != nil {
		t.Fatalf("reserve 1 minute behind (tolerance 2): %v", err)
	}
	if _, err := s.Abort(res, store.Record{Reasons: []string{"test"}}); err != nil {
		t.Fatal(err)
	}

	env.Clock.Set(floor.Add(-time.Hour))
	_, err = s.Reserve(simpleReq("r3", "b3", "k3"))
	var cb *store.ClockBehindError
	if !errors.As(err, &cb) || !errors.Is(err, store.ErrClockBehind) {
		t.Fatalf("reserve 1 hour behind: %v, want ErrClockBehind", err)
	}
	if !cb.Floor.Equal(floor) {
		t.Errorf("floor %s, want %s", cb.Floor, floor)
	}
	if err := s.CheckClock(env.Clock.Now()); !errors.Is(err, store.ErrClockBehind) {
		t.Errorf("CheckClock: %v", err)
	}
	if _, err := s.LookupRequest("r3"); !errors.Is(err, store.ErrRequestNotFound) {
		t.Errorf("refused reserve left state: %v", err)
	}
	// The refusal itself can be recorded, and does not lower the floor.
	if _, err := s.RecordRefusal(store.Record{RequestID: "r3", Reasons: []string{cb.Error()}}); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.TimeFloor(); !f.Equal(floor) {
		t.Errorf("floor moved to %s", f)
	}
	// Survives a restart.
	s.Close()
	s = env.MustOpen(t)
	if err := s.CheckClock(env.Clock.Now()); !errors.Is(err, store.ErrClockBehind) {
		t.Errorf("after restart CheckClock: %v", err)
	}
	env.Clock.Set(floor.Add(time.Second))
	if err := s.CheckClock(env.Clock.Now()); err != nil {
		t.Errorf("clock fixed: %v", err)
	}
}

func TestReserveConflicts(t *testing.T) {
	outpoint := store.OutpointKey("btc-regtest", strings.Repeat("11", 32), 1)
	nonce := store.NonceKey(1, "0x00000000000000000000000000000000000000aa", 5)
	base := store.ReserveRequest{
		RequestID: "base", RequestDigest: digest("base"),
		Consumes: []store.Consume{{Key: outpoint, ContentHash: digest("btc tx 1")}, {Key: nonce, ContentHash: digest("eth tx 1")}},
	}
	tests := []struct {
		name    string
		req     store.ReserveRequest
		wantErr error
		key     string
	}{
		{"same id, different digest", store.ReserveRequest{RequestID: "base", RequestDigest: digest("other")}, store.ErrRequestConflict, "base"},
		{"same outpoint, different content", store.ReserveRequest{RequestID: "r2", RequestDigest: digest("r2"),
			Consumes: []store.Consume{{Key: outpoint, ContentHash: digest("btc tx 2")}}}, store.ErrConsumeConflict, outpoint},
		{"same address+nonce, different content", store.ReserveRequest{RequestID: "r3", RequestDigest: digest("r3"),
			Consumes: []store.Consume{{Key: store.NonceKey(1, "0x00000000000000000000000000000000000000AA", 5), ContentHash: digest("eth tx 2")}}}, store.ErrConsumeConflict, nonce},
		{"identical re-submission of a done request", base, store.ErrAlreadyCompleted, ""},
		{"same content under another id", store.ReserveRequest{RequestID: "r4", RequestDigest: digest("r4"),
			Consumes: []store.Consume{{Key: outpoint, ContentHash: digest("btc tx 1")}}}, nil, ""},
		{"fee bump allowed by policy", store.ReserveRequest{RequestID: "r5", RequestDigest: digest("r5"),
			Consumes: []store.Consume{{Key: outpoint, ContentHash: digest("btc tx 1 bumped"), AllowReplace: true}}}, nil, ""},
		{"same nonce on another chain", store.ReserveRequest{RequestID: "r6", RequestDigest: digest("r6"),
			Consumes: []store.Consume{{Key: store.NonceKey(5, "0x00000000000000000000000000000000000000aa", 5), ContentHash: digest("eth tx 9")}}}, nil, ""},
		{"duplicate key in one request", store.ReserveRequest{RequestID: "r7", RequestDigest: digest("r7"),
			Consumes: []store.Consume{{Key: "k", ContentHash: digest("a")}, {Key: "k", ContentHash: digest("a")}}}, store.ErrInvalid, ""},
		{"empty id", store.ReserveRequest{RequestDigest: digest("x")}, store.ErrInvalid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.MustOpenStore(t)
			mustSign(t, s, base)
			before, err := s.LedgerSnapshot()
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Reserve(tc.req)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("reserve: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("reserve: %v, want %v", err, tc.wantErr)
			}
			if tc.key != "" {
				var ce *store.ConflictError
				if !errors.As(err, &ce) || ce.Key != tc.key || ce.ExistingRequest != "base" {
					t.Errorf("conflict %+v, want key %q held by base", ce, tc.key)
				}
			}
			after, _ := s.LedgerSnapshot()
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("refused reserve changed the ledger")
			}
			if tc.wantErr == store.ErrAlreadyCompleted {
				st, err := s.LookupRequest("base")
				if err != nil || st.State != store.StateDone || string(st.Response) != "response base" || st.Digest != base.RequestDigest {
					t.Errorf("lookup %+v %v: want the stored response", st, err)
				}
			}
		})
	}
}

func TestFeeBumpAbortRestoresEarlierHolder(t *testing.T) {
	s := storetest.MustOpenStore(t)
	mustSign(t, s, simpleReq("orig", "orig", "op"))
	before, _ := s.LedgerSnapshot()
	res, err := s.Reserve(store.ReserveRequest{RequestID: "bump", RequestDigest: digest("bump"),
		Consumes: []store.Consume{{Key: "op", ContentHash: digest("bumped"), AllowReplace: true}}})
	if err != nil {
		t.Fatal(err)
	}
	// While the bump holds it, a third content is refused and names the bump.
	_, err = s.Reserve(store.ReserveRequest{RequestID: "x", RequestDigest: digest("x"),
		Consumes: []store.Consume{{Key: "op", ContentHash: digest("third")}}})
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.ExistingRequest != "bump" {
		t.Fatalf("third content: %v", err)
	}
	if _, err := s.Abort(res, store.Record{}); err != nil {
		t.Fatal(err)
	}
	after, _ := s.LedgerSnapshot()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("abort of a fee bump did not restore the earlier holder:\n%v\n%v", before, after)
	}
}

func TestAbortReleasesExactlyWhatReserveTook(t *testing.T) {
	env := storetest.NewEnv(t)
	s := env.MustOpen(t)
	// Some standing state to release around.
	mustSign(t, s, store.ReserveRequest{RequestID: "standing", RequestDigest: digest("standing"),
		Consumes: []store.Consume{{Key: "op-0", ContentHash: digest("c0")}},
		Charges:  []store.Charge{{Counter: "daily", Amount: big.NewInt(7)}}})
	for i := 1; i <= 40; i++ {
		env.Clock.Advance(time.Duration(i) * time.Second)
		before, err := s.LedgerSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		spentBefore, _ := s.Spent("daily", time.Time{})
		req := store.ReserveRequest{RequestID: fmt.Sprintf("r%d", i), RequestDigest: digest(fmt.Sprint("r", i))}
		for j := 0; j < i%4; j++ {
			k := fmt.Sprintf("op-%d-%d", i, j)
			if j == 2 {
				k = "op-0" // same content as standing: shared, not owned
				req.Consumes = append(req.Consumes, store.Consume{Key: k, ContentHash: digest("c0")})
				continue
			}
			req.Consumes = append(req.Consumes, store.Consume{Key: k, ContentHash: digest(k)})
		}
		for j := 0; j < i%3; j++ {
			req.Charges = append(req.Charges, store.Charge{Counter: []string{"daily", "hourly"}[j%2], Amount: big.NewInt(int64(i * 100))})
		}
		res, err := s.Reserve(req)
		if err != nil {
			t.Fatal(err)
		}
		mid, _ := s.LedgerSnapshot()
		if len(req.Consumes)+len(req.Charges) > 0 && fmt.Sprint(mid) == fmt.Sprint(before) && i%4 != 0 {
			t.Fatalf("reserve %d took nothing", i)
		}
		if _, err := s.Abort(res, store.Record{Reasons: []string{"hsm failed"}}); err != nil {
			t.Fatal(err)
		}
		after, _ := s.LedgerSnapshot()
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("iteration %d: abort did not restore the ledger:\nbefore %v\nafter  %v", i, before, after)
		}
		if spentAfter, _ := s.Spent("daily", time.Time{}); spentAfter.Cmp(spentBefore) != 0 {
			t.Fatalf("iteration %d: spent %v, want %v", i, spentAfter, spentBefore)
		}
		st, err := s.LookupRequest(req.RequestID)
		if err != nil || st.State != store.StateAborted {
			t.Fatalf("state %+v %v", st, err)
		}
		// An aborted reservation cannot be completed or aborted again.
		if _, err := s.Complete(res, store.CompleteRequest{Response: []byte("x")}); !errors.Is(err, store.ErrBadReservation) {
			t.Fatalf("complete after abort: %v", err)
		}
	}
	// The same id with the same digest may be reserved afresh after abort;
	// with another digest it may not.
	if _, err := s.Reserve(store.ReserveRequest{RequestID: "r1", RequestDigest: digest("other")}); !errors.Is(err, store.ErrRequestConflict) {
		t.Errorf("aborted id, other digest: %v", err)
	}
	res, err := s.Reserve(store.ReserveRequest{RequestID: "r1", RequestDigest: digest("r1")})
	if err != nil {
		t.Fatalf("aborted id, same digest: %v", err)
	}
	if _, err := s.Complete(res, store.CompleteRequest{Response: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
}

func TestVelocityRollingWindows(t *testing.T) {
	env := storetest.NewEnv(t)
	s := env.MustOpen(t)
	t0 := env.Clock.Now()
	charge := func(id string, at time.Duration, counter string, amt int64) *store.Reservation {
		t.Helper()
		env.Clock.Set(t0.Add(at))
		res, err := s.Reserve(store.ReserveRequest{RequestID: id, RequestDigest: digest(id),
			Charges: []store.Charge{{Counter: counter, Amount: big.NewInt(amt)}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	complete := func(res *store.Reservation) {
		if _, err := s.Complete(res, store.CompleteRequest{Response: []byte("r")}); err != nil {
			t.Fatal(err)
		}
	}
	complete(charge("a", 0, "btc/daily", 100))
	complete(charge("b", 30*time.Minute, "btc/daily", 200))
	complete(charge("c", 2*time.Hour, "btc/daily", 400))
	aborted := charge("d", 3*time.Hour, "btc/daily", 800)
	if _, err := s.Abort(aborted, store.Record{}); err != nil {
		t.Fatal(err)
	}
	complete(charge("e", 3*time.Hour, "btc/daily-x", 1600)) // a counter whose name extends another
	big1e30, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	res, err := s.Reserve(store.ReserveRequest{RequestID: "f", RequestDigest: digest("f"),
		Charges: []store.Charge{{Counter: "eth/daily", Amount: big1e30}, {Counter: "eth/daily", Amount: big1e30}}})
	if err != nil {
		t.Fatal(err)
	}
	complete(res)

	tests := []struct {
		counter string
		since   time.Duration
		want    string
	}{
		{"btc/daily", -time.Hour, "700"},
		{"btc/daily", 0, "700"},                       // at-or-after since
		{"btc/daily", time.Nanosecond, "600"},         // a is just outside
		{"btc/daily", 30 * time.Minute, "600"},        // b inclusive
		{"btc/daily", 2*time.Hour + time.Second, "0"}, // only the aborted one was later
		{"btc/daily-x", 0, "1600"},                    // not mixed with btc/daily
		{"eth/daily", 0, "2000000000000000000000000000000"},
		{"unknown", 0, "0"},
	}
	for _, tc := range tests {
		got, err := s.Spent(tc.counter, t0.Add(tc.since))
		if err != nil || got.String() != tc.want {
			t.Errorf("Spent(%q, t0%+v) = %v, %v; want %s", tc.counter, tc.since, got, err, tc.want)
		}
	}
	at, ok, err := s.LastCharge("btc/daily")
	if err != nil || !ok || !at.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("LastCharge(btc/daily) = %v %v %v, want t0+2h (the aborted charge is gone)", at, ok, err)
	}
	if _, ok, _ := s.LastCharge("btc/dail"); ok {
		t.Error("LastCharge of a prefix counter found a charge")
	}
	if at, ok, _ := s.LastCharge("btc/daily-x"); !ok || !at.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("LastCharge(btc/daily-x) = %v %v", at, ok)
	}
}

// usage is the policy package's Usage method set; *store.Store must satisfy it.
type usage interface {
	Spent(counter string, since time.Time) (*big.Int, error)
	LastCharge(counter string) (at time.Time, ok bool, err error)
}

var _ usage = (*store.Store)(nil)

func TestInterruptedOnReopenWithoutCrash(t *testing.T) {
	env := storetest.NewEnv(t)
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(crashRequest()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = env.MustOpen(t)
	st, err := s.LookupRequest("req-crash")
	if err != nil || st.State != store.StateInterrupted {
		t.Fatalf("after reopen: %+v %v, want interrupted", st, err)
	}
}

// TestCrashBetweenReserveAndComplete kills a real process with SIGKILL after
// its reserve transaction committed and before it completed.
func TestCrashBetweenReserveAndComplete(t *testing.T) {
	env := fileEnv(t)
	env.Tolerance = time.Minute
	// Create the store (genesis + anchor) in this process first.
	s, err := env.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := childCmd(t, env, "reserve-and-hang")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "reserved\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child said %q (%v)", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	s = env.MustOpen(t)
	st, err := s.LookupRequest("req-crash")
	if err != nil || st.State != store.StateInterrupted || st.Digest != crashRequest().RequestDigest {
		t.Fatalf("after crash: %+v %v, want interrupted", st, err)
	}
	var buf bytes.Buffer
	if err := s.ExportAudit(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"kind":"interrupted","request_id":"req-crash"`) {
		t.Errorf("no interrupted record in the audit log:\n%s", buf.String())
	}
	// Velocity stays charged: a signature may exist.
	if spent, _ := s.Spent("btc-daily", time.Time{}); spent.Int64() != 50_000 {
		t.Errorf("spent after crash %v, want 50000", spent)
	}

	// Conflicting requests stay refused.
	conflicting := crashRequest()
	conflicting.RequestDigest = digest("tampered body")
	if _, err := s.Reserve(conflicting); !errors.Is(err, store.ErrRequestConflict) {
		t.Errorf("same id, other digest: %v", err)
	}
	other := crashRequest()
	other.RequestID, other.RequestDigest = "req-other", digest("other")
	other.Consumes[0].ContentHash = digest("tx B")
	if _, err := s.Reserve(other); !errors.Is(err, store.ErrConsumeConflict) {
		t.Errorf("same outpoint, other content: %v", err)
	}
	other.Consumes = other.Consumes[1:]
	other.Consumes[0].ContentHash = digest("eth tx B")
	if _, err := s.Reserve(other); !errors.Is(err, store.ErrConsumeConflict) {
		t.Errorf("same nonce, other content: %v", err)
	}

	// The identical request resumes and completes, without a second charge.
	res, err := s.Reserve(crashRequest())
	if err != nil || !res.Resumed {
		t.Fatalf("identical re-submission: %+v %v, want resumed", res, err)
	}
	if _, err := s.Reserve(crashRequest()); !errors.Is(err, store.ErrInProgress) {
		t.Errorf("while resumed: %v, want ErrInProgress", err)
	}
	if _, err := s.Complete(res, store.CompleteRequest{Response: []byte("signed response")}); err != nil {
		t.Fatal(err)
	}
	if spent, _ := s.Spent("btc-daily", time.Time{}); spent.Int64() != 50_000 {
		t.Errorf("spent after resume %v, want 50000 (charged once)", spent)
	}
	st, _ = s.LookupRequest("req-crash")
	if st.State != store.StateDone || string(st.Response) != "signed response" {
		t.Errorf("after complete: %+v", st)
	}
	if _, err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointEveryNRecords(t *testing.T) {
	env := storetest.NewEnv(t) // every 8
	s := env.MustOpen(t)
	for i := 0; i < 20; i++ {
		if _, err := s.RecordRefusal(store.Record{RequestID: fmt.Sprint("q", i), Reasons: []string{"no quorum"}}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	// seq 1 (open), 9, 17; records 18..21 unanchored.
	if rep.Records != 21 || rep.Checkpoints != 3 || rep.LastCheckpoint.Seq != 17 || rep.Unanchored != 4 {
		t.Errorf("report %+v", rep)
	}
	cp, err := s.Checkpoint(context.Background())
	if err != nil || cp.Seq != 21 {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	if again, _ := s.Checkpoint(context.Background()); again.Seq != 21 || !bytes.Equal(again.Signature, cp.Signature) {
		t.Errorf("checkpoint of an unchanged head made a new signature")
	}
}

func TestAppendKinds(t *testing.T) {
	s := storetest.MustOpenStore(t)
	if _, err := s.Append(store.Record{Kind: audit.KindPolicyInstalled, PolicyHash: digest("policy v2")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []audit.Kind{audit.KindSigned, audit.KindIntent, audit.KindRollbackAcknowledged, "made-up"} {
		if _, err := s.Append(store.Record{Kind: k}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Append(%q): %v, want ErrInvalid", k, err)
		}
	}
	if _, err := s.RecordRefusal(store.Record{RequestID: "bad\xffutf8"}); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := s.RecordRefusal(store.Record{Detail: strings.Repeat("x", audit.MaxRecordBytes)}); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Errorf("oversized record: %v", err)
	}
}

// exportLines returns the live store's export split into lines.
func exportLines(t *testing.T, s *store.Store) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.ExportAudit(&buf); err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(buf.String(), "\n")
	return ls[:len(ls)-1] // after the final newline

}

func TestExportTamperingIsDetected(t *testing.T) {
	env := storetest.NewEnv(t)
	s := env.MustOpen(t)
	for i := 0; i < 5; i++ {
		mustSign(t, s, simpleReq(fmt.Sprint("r", i), fmt.Sprint("b", i), fmt.Sprint("k", i)))
	}
	lines := exportLines(t, s)
	pub := env.Identity.Public()
	join := func(ls []string) string { return strings.Join(ls, "") }
	if _, err := audit.Verify(strings.NewReader(join(lines)), pub); err != nil {
		t.Fatalf("untouched export: %v", err)
	}
	// Find a record line in the middle.
	idx := -1
	for i, l := range lines {
		if strings.Contains(l, `"seq":4,"time"`) && strings.HasPrefix(l, `{"type":"record"`) {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("no record seq 4")
	}
	edit := func(f func([]string) []string) string {
		c := append([]string(nil), lines...)
		return join(f(c))
	}
	tests := []struct {
		name     string
		export   string
		wantErr  error
		wantLine int
	}{
		{"byte flipped in a record", edit(func(c []string) []string {
			c[idx] = strings.Replace(c[idx], `"request_id":"r1"`, `"request_id":"s1"`, 1)
			return c
		}), audit.ErrTampered, idx + 1},
		{"record before a checkpoint deleted", edit(func(c []string) []string { return append(c[:idx+1], c[idx+2:]...) }), audit.ErrTampered, idx + 2},
		{"record deleted", edit(func(c []string) []string { return append(c[:idx], c[idx+1:]...) }), audit.ErrTampered, idx + 1},
		{"two records swapped", edit(func(c []string) []string {
			j := idx + 1
			for !strings.HasPrefix(c[j], `{"type":"record"`) {
				j++
			}
			c[idx], c[j] = c[j], c[idx]
			return c
		}), audit.ErrTampered, idx + 1},
		{"truncated mid-file", join(lines)[:len(join(lines[:idx+1]))-10], audit.ErrTruncated, idx + 1},
		{"truncated at a line boundary", join(lines[:idx+1]), audit.ErrTruncated, idx + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Verify(strings.NewReader(tc.export), pub)
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("verify: %v, want %v", err, tc.wantErr)
			}
			if ve.Line != tc.wantLine {
				t.Errorf("error names line %d, want %d: %v", ve.Line, tc.wantLine, err)
			}
		})
	}
}

var _ io.Writer = (*bytes.Buffer)(nil)

func TestConsumeHolder(t *testing.T) {
	s := storetest.MustOpenStore(t)
	if id, _, ok, err := s.ConsumeHolder("op"); err != nil || ok || id != "" {
		t.Fatalf("free key: %q %v %v", id, ok, err)
	}
	mustSign(t, s, simpleReq("orig", "orig", "op"))
	id, ch, ok, err := s.ConsumeHolder("op")
	if err != nil || !ok || id != "orig" || ch != digest("orig/op") {
		t.Fatalf("held key: %q %x %v %v", id, ch, ok, err)
	}
	res, err := s.Reserve(store.ReserveRequest{RequestID: "bump", RequestDigest: digest("bump"),
		Consumes: []store.Consume{{Key: "op", ContentHash: digest("bumped"), AllowReplace: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if id, ch, ok, _ := s.ConsumeHolder("op"); !ok || id != "bump" || ch != digest("bumped") {
		t.Fatalf("after the bump: %q %x %v", id, ch, ok)
	}
	if _, err := s.Abort(res, store.Record{}); err != nil {
		t.Fatal(err)
	}
	if id, ch, ok, _ := s.ConsumeHolder("op"); !ok || id != "orig" || ch != digest("orig/op") {
		t.Fatalf("after aborting the bump: %q %x %v", id, ch, ok)
	}
}
