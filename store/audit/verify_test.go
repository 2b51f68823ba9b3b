package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store/audit"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures")

type edSigner struct{ priv ed25519.PrivateKey }

func (e edSigner) Public() sigkey.PublicKey {
	return sigkey.PublicKey{Algorithm: sigkey.Ed25519, Key: []byte(e.priv.Public().(ed25519.PublicKey))}
}
func (e edSigner) Sign(m []byte) ([]byte, error) { return ed25519.Sign(e.priv, m), nil }

func signer(seed string) edSigner {
	s := sha256.Sum256([]byte(seed))
	return edSigner{ed25519.NewKeyFromSeed(s[:])}
}

var identity = signer("audit fixture identity")

// buildExport chains n records and checkpoints at the given seqs.
func buildExport(t testing.TB, n int, checkpointAt ...uint64) []string {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lines := []string{string(audit.Header{Signer: identity.Public()}.MarshalLine())}
	cps := map[uint64]bool{}
	for _, s := range checkpointAt {
		cps[s] = true
	}
	var prev audit.Digest
	var end audit.End
	for i := 1; i <= n; i++ {
		r := audit.Record{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Second), Kind: audit.KindIntent,
			PrevHash: prev, RequestID: fmt.Sprintf("req-%d", i), RequestDigest: sha256.Sum256([]byte{byte(i)}),
			Decision: "allow", Reasons: []string{"within <daily> limit & quorum 2-of-3"}, Approvers: []string{"alice", "bob"},
			TxIDs: []string{fmt.Sprintf("%064x", i)}}
		if i == 1 {
			r.Kind, r.RequestID, r.RequestDigest, r.Detail = audit.KindStoreCreated, "", audit.Digest{}, "identity="+identity.Public().String()
		}
		if i%3 == 0 {
			r.Kind, r.Decision = audit.KindSigned, "signed"
		}
		r.Hash = r.ComputeHash()
		prev = r.Hash
		lines = append(lines, string(r.MarshalLine()))
		if cps[r.Seq] {
			cp, err := audit.Checkpoint{Seq: r.Seq, Head: r.Hash, Time: r.Time}.Sign(identity)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(cp.MarshalLine()))
			end.Checkpoints++
		}
		end.Records, end.Head = r.Seq, r.Hash
	}
	return append(lines, string(end.MarshalLine()))
}

func joinLines(ls []string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

// find returns the index of the record line with seq.
func find(ls []string, seq int) int {
	for i, l := range ls {
		if strings.HasPrefix(l, fmt.Sprintf(`{"type":"record","seq":%d,`, seq)) {
			return i
		}
	}
	panic(seq)
}

// fixtures builds every testdata file: name -> content.
func fixtures(t testing.TB) map[string][]byte {
	base := buildExport(t, 12, 1, 4, 8)
	mut := func(f func(c []string) []string) []byte {
		return joinLines(f(append([]string(nil), base...)))
	}
	i7 := find(base, 7)
	i2 := find(base, 2)
	return map[string][]byte{
		"ok_export.jsonl":           joinLines(base),
		"ok_all_anchored.jsonl":     joinLines(buildExport(t, 5, 1, 2, 3, 4, 5)),
		"expfail_edited.jsonl":      mut(func(c []string) []string { c[i7] = strings.Replace(c[i7], "req-7", "req-8", 1); return c }),
		"expfail_hash_edited.jsonl": mut(func(c []string) []string { c[i7] = c[i7][:len(c[i7])-3] + `0"}`; return c }),
		"expfail_deleted.jsonl":     mut(func(c []string) []string { return append(c[:i7], c[i7+1:]...) }),
		"expfail_swapped.jsonl":     mut(func(c []string) []string { c[i7], c[i7+1] = c[i7+1], c[i7]; return c }),
		"expfail_inserted.jsonl": mut(func(c []string) []string {
			return append(c[:i2+1], append([]string{c[i2]}, c[i2+1:]...)...)
		}),
		"expfail_truncated.jsonl":       joinLines(base[:i7+1]),
		"expfail_cut_mid_line.jsonl":    joinLines(base)[:len(joinLines(base[:i7+1]))-20],
		"expfail_no_end_tail_cut.jsonl": joinLines(append(append([]string(nil), base[:find(base, 11)]...), base[len(base)-1])),
		"expfail_bad_checkpoint_sig.jsonl": mut(func(c []string) []string {
			j := find(c, 8) + 1
			c[j] = c[j][:len(c[j])-4] + `00"}`
			return c
		}),
		"expfail_noncanonical.jsonl": mut(func(c []string) []string { c[i7] = strings.Replace(c[i7], `,"kind"`, ` ,"kind"`, 1); return c }),
		"expfail_duplicate_key.jsonl": mut(func(c []string) []string {
			c[i7] = strings.Replace(c[i7], `"decision":"allow",`, `"decision":"allow","decision":"allow",`, 1)
			return c
		}),
		"expfail_unknown_field.jsonl": mut(func(c []string) []string {
			c[i7] = strings.Replace(c[i7], `"detail"`, `"extra":1,"detail"`, 1)
			return c
		}),
		"expfail_wrong_signer.jsonl": func() []byte {
			c := append([]string(nil), base...)
			c[0] = string(audit.Header{Signer: signer("mallory").Public()}.MarshalLine())
			return joinLines(c)
		}(),
	}
}

func TestFixturesAreCurrent(t *testing.T) {
	for name, want := range fixtures(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the builder makes (run go test -update and review)", name)
		}
	}
}

func TestVerifyFixtures(t *testing.T) {
	type want struct {
		err  error
		line int
		seq  uint64
	}
	// Line numbers: header 1, record 1, checkpoint 1, records 2..4,
	// checkpoint 4, records 5..8, checkpoint 8, records 9..12, end.
	wants := map[string]want{
		"expfail_edited.jsonl":             {audit.ErrTampered, 10, 7},
		"expfail_hash_edited.jsonl":        {audit.ErrTampered, 10, 7},
		"expfail_deleted.jsonl":            {audit.ErrTampered, 10, 8},
		"expfail_swapped.jsonl":            {audit.ErrTampered, 10, 8},
		"expfail_inserted.jsonl":           {audit.ErrTampered, 5, 2},
		"expfail_truncated.jsonl":          {audit.ErrTruncated, 10, 0},
		"expfail_cut_mid_line.jsonl":       {audit.ErrTruncated, 10, 0},
		"expfail_no_end_tail_cut.jsonl":    {audit.ErrTruncated, 15, 0},
		"expfail_bad_checkpoint_sig.jsonl": {audit.ErrBadCheckpoint, 12, 8},
		"expfail_noncanonical.jsonl":       {audit.ErrMalformed, 10, 7},
		"expfail_duplicate_key.jsonl":      {audit.ErrMalformed, 10, 7},
		"expfail_unknown_field.jsonl":      {audit.ErrMalformed, 10, 7},
		"expfail_wrong_signer.jsonl":       {audit.ErrWrongSigner, 1, 0},
	}
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := audit.Verify(bytes.NewReader(b), identity.Public())
			if strings.HasPrefix(name, "ok_") {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if rep.Records == 0 || rep.Head.IsZero() || rep.Records-rep.LastCheckpoint.Seq != rep.Unanchored {
					t.Errorf("report %+v", rep)
				}
				return
			}
			w, ok := wants[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, w.err) {
				t.Fatalf("verify: %v, want %v", err, w.err)
			}
			if ve.Line != w.line || ve.Seq != w.seq {
				t.Errorf("error names line %d seq %d, want line %d seq %d: %v", ve.Line, ve.Seq, w.line, w.seq, err)
			}
		})
	}
}

func TestVerifyReport(t *testing.T) {
	rep, err := audit.Verify(bytes.NewReader(joinLines(buildExport(t, 12, 1, 4, 8))), identity.Public())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 12 || rep.Checkpoints != 3 || rep.LastCheckpoint.Seq != 8 || rep.Unanchored != 4 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.String(), "4 unanchored") {
		t.Errorf("summary %q", rep.String())
	}
}

func TestVerifyCaps(t *testing.T) {
	base := buildExport(t, 3, 1)
	long := append(append([]string(nil), base[:2]...), strings.Repeat("x", audit.MaxLineBytes+1))
	_, err := audit.Verify(bytes.NewReader(joinLines(long)), identity.Public())
	if !errors.Is(err, audit.ErrTooLarge) {
		t.Errorf("oversized line: %v", err)
	}
	for name, in := range map[string]string{"empty": "", "garbage": "hello\n", "bad header": `{"type":"header"}` + "\n",
		"second header": strings.Join(append(base[:2:2], base[0]), "\n") + "\n", "after end": string(joinLines(base)) + "\n",
		"no records": string(joinLines([]string{base[0], string(audit.End{}.MarshalLine())}))} {
		if _, err := audit.Verify(strings.NewReader(in), identity.Public()); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := audit.Verify(bytes.NewReader(joinLines(base)), sigkey.PublicKey{}); err == nil {
		t.Error("zero trusted key accepted")
	}
}

func TestRecordEncodingIsStable(t *testing.T) {
	r := audit.Record{Seq: 7, Time: time.Date(2026, 3, 1, 12, 0, 0, 5, time.FixedZone("x", 3600)), Kind: audit.KindRefused,
		RequestID: "r<1>", Reasons: nil, Detail: "é"}
	want := `{"seq":7,"time":"2026-03-01T11:00:00.000000005Z","kind":"refused","request_id":"r\u003c1\u003e","request_digest":"` +
		strings.Repeat("0", 64) + `","decision":"","reasons":[],"policy_hash":"` + strings.Repeat("0", 64) + `","roster_hash":"` +
		strings.Repeat("0", 64) + `","approvers":[],"tx_ids":[],"detail":"é"}`
	if got := string(r.Encoding()); got != want {
		t.Errorf("encoding\n got %s\nwant %s", got, want)
	}
	r.Hash = r.ComputeHash()
	back, err := audit.ParseRecordLine(r.MarshalLine())
	if err != nil {
		t.Fatal(err)
	}
	if back.ComputeHash() != r.Hash || back.Hash != r.Hash {
		t.Error("round trip changed the hash")
	}
	// The body is the line minus the type prefix and the chain suffix.
	line := string(r.MarshalLine())
	body := "{" + strings.TrimPrefix(line[:strings.Index(line, `,"prev_hash":`)], `{"type":"record",`) + "}"
	if body != want {
		t.Errorf("body extracted from the line differs:\n%s", body)
	}
}

func FuzzVerify(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jsonl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	pub := identity.Public()
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := audit.Verify(bytes.NewReader(in), pub)
		if err == nil {
			// Anything accepted must re-verify and be internally consistent.
			if rep.Records == 0 || rep.Unanchored != rep.Records-rep.LastCheckpoint.Seq {
				t.Fatalf("accepted with report %+v", rep)
			}
		}
	})
}

// TestEverySingleByteChangeIsRejected: under the canonical encoding no byte
// of an export is insignificant, so any single changed byte must fail
// verification (and never panic). A deterministic stand-in for fuzzing.
func TestEverySingleByteChangeIsRejected(t *testing.T) {
	orig := joinLines(buildExport(t, 6, 1, 3))
	pub := identity.Public()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1500; i++ {
		pos := r.IntN(len(orig))
		b := append([]byte(nil), orig...)
		b[pos] ^= byte(1 + r.IntN(255))
		if _, err := audit.Verify(bytes.NewReader(b), pub); err == nil {
			t.Fatalf("byte %d changed (%q -> %q) and the export still verified", pos, orig[pos], b[pos])
		}
	}
	for i := 0; i < 300; i++ { // deletions and insertions
		pos := r.IntN(len(orig))
		del := append(append([]byte(nil), orig[:pos]...), orig[pos+1:]...)
		ins := append(append(append([]byte(nil), orig[:pos]...), byte(r.IntN(256))), orig[pos:]...)
		for _, b := range [][]byte{del, ins} {
			if _, err := audit.Verify(bytes.NewReader(b), pub); err == nil {
				t.Fatalf("edit at byte %d verified", pos)
			}
		}
	}
}
