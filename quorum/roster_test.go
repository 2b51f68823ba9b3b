package quorum

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/quorum/yamlstrict"
	"github.com/icebox-custody/icebox/sigkey"
)

func TestParseRosterOK(t *testing.T) {
	r, data := loadRoster(t, "ok_basic.yaml")
	if r.AdminQuorum != 2 || r.ChangeDelay != 24*time.Hour || len(r.Members()) != 7 {
		t.Fatalf("got quorum %d delay %s members %d", r.AdminQuorum, r.ChangeDelay, len(r.Members()))
	}
	if r.Hash() != RosterHash(data) || r.Hash() != ContentHash(ChangeRoster, data) {
		t.Fatal("hash is not the domain hash of the file bytes")
	}
	if RosterHash(append(data, ' ')) == r.Hash() {
		t.Fatal("hash ignores a changed byte")
	}
	a, ok := r.Member("alice")
	if !ok || !a.HasRole(RoleAdmin) || !a.HasRole(RoleOfficer) || a.HasRole(RoleRequester) || a.Name != "Alice Example" {
		t.Fatalf("alice = %+v", a)
	}
	if !a.NotAfter.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("not_after = %s", a.NotAfter)
	}
	f, _ := r.Member("frank")
	if f.Key.Algorithm != sigkey.P256 || !f.NotBefore.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("frank = %+v", f)
	}
	e, _ := r.Member("erin")
	if !e.Revoked {
		t.Fatal("erin should be revoked")
	}
	// Members returns a copy.
	ms := r.Members()
	ms[0].Roles[0] = "x"
	if a2, _ := r.Member("alice"); a2.Roles[0] == "x" {
		t.Fatal("Members aliases the roster")
	}
}

// wantLine returns the "# want: ..." expectation of an expfail fixture.
func wantLine(t *testing.T, data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Scan()
	w, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok {
		t.Fatal("expfail fixture lacks a '# want:' first line")
	}
	return w
}

func TestParseRosterExpFail(t *testing.T) {
	files, _ := filepath.Glob("testdata/expfail_*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d expfail fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseRoster(filepath.Base(f), data)
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, ErrBadRoster) {
				t.Errorf("error does not wrap ErrBadRoster: %v", err)
			}
			if !strings.Contains(err.Error(), wantLine(t, data)) {
				t.Errorf("error %q does not mention %q", err, wantLine(t, data))
			}
			var ye *yamlstrict.Error
			if !errors.As(err, &ye) || ye.Line == 0 || !strings.HasPrefix(err.Error(), "invalid roster: "+filepath.Base(f)+":") {
				t.Errorf("error does not name file and line: %v", err)
			}
		})
	}
}

func TestParseRosterSizeCap(t *testing.T) {
	big := bytes.Repeat([]byte("#"), MaxRosterSize+1)
	if _, err := ParseRoster("big", big); !errors.Is(err, yamlstrict.ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "x", "7 d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestExampleRosterParses(t *testing.T) {
	data, err := os.ReadFile("../configs/roster.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRoster("roster.example.yaml", data); err != nil {
		t.Fatal(err)
	}
}
