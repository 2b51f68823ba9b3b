package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// InstallCommand is what an operator runs when SoftHSM2 is missing.
const InstallCommand = "sudo apt-get update && sudo apt-get install -y softhsm2"

// Default test PINs (throwaway tokens only).
const (
	DefaultSOPIN   = "87654321"
	DefaultUserPIN = "12345678"
)

// Options configure NewToken. The zero value is usable: label
// "icebox-test-N", default PINs.
type Options struct {
	Label   string
	SOPIN   string
	UserPIN string
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	// Dir holds softhsm2.conf and tokens/ (shared by all tokens of one test).
	Dir string
	// ConfPath is the softhsm2.conf that SOFTHSM2_CONF points at.
	ConfPath string
	// ModulePath is the absolute path of libsofthsm2.so.
	ModulePath string
	Label      string
	SOPIN      string
	UserPIN    string
	// PINFile holds UserPIN followed by a newline, mode 0600.
	PINFile string
}

var (
	mu       sync.Mutex
	testDirs = map[testing.TB]string{}
	counter  int
)

// candidates lists where distributions put the SoftHSM2 module.
var candidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// ModulePath returns the path of libsofthsm2.so: $SOFTHSM2_MODULE when set,
// else the first of the usual install locations that exists.
func ModulePath() (string, error) {
	list := candidates
	if env := os.Getenv("SOFTHSM2_MODULE"); env != "" {
		list = append([]string{env}, list...)
	}
	if m, _ := filepath.Glob("/usr/lib/*/softhsm/libsofthsm2.so"); len(m) > 0 {
		list = append(list, m...)
	}
	for _, c := range list {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("libsofthsm2.so not found (looked in %s); install it with: %s",
		strings.Join(list, ", "), InstallCommand)
}

// NewToken creates and initialises a token for t. See the package comment for
// the rules about SOFTHSM2_CONF and parallel tests.
func NewToken(t testing.TB, opts Options) *Token {
	t.Helper()
	module, err := ModulePath()
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsmtest: softhsm2-util not found; install it with: %s", InstallCommand)
	}

	mu.Lock()
	counter++
	n := counter
	dir, ok := testDirs[t]
	mu.Unlock()
	conf := filepath.Join(dir, "softhsm2.conf")
	if !ok {
		dir = t.TempDir()
		conf = filepath.Join(dir, "softhsm2.conf")
		tokens := filepath.Join(dir, "tokens")
		if err := os.MkdirAll(tokens, 0o700); err != nil {
			t.Fatalf("softhsmtest: %v", err)
		}
		body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("softhsmtest: %v", err)
		}
		// t.Setenv also forbids t.Parallel for this test, which is what
		// SoftHSM's read-once configuration requires.
		t.Setenv("SOFTHSM2_CONF", conf)
		mu.Lock()
		testDirs[t] = dir
		mu.Unlock()
		t.Cleanup(func() {
			mu.Lock()
			delete(testDirs, t)
			mu.Unlock()
		})
	}

	tok := &Token{
		Dir: dir, ConfPath: conf, ModulePath: module,
		Label: opts.Label, SOPIN: opts.SOPIN, UserPIN: opts.UserPIN,
	}
	if tok.Label == "" {
		tok.Label = fmt.Sprintf("icebox-test-%d", n)
	}
	if tok.SOPIN == "" {
		tok.SOPIN = DefaultSOPIN
	}
	if tok.UserPIN == "" {
		tok.UserPIN = DefaultUserPIN
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", tok.Label,
		"--so-pin", tok.SOPIN, "--pin", tok.UserPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsmtest: softhsm2-util --init-token --label %s: %v\n%s", tok.Label, err, out)
	}
	tok.PINFile = filepath.Join(dir, tok.Label+".pin")
	if err := os.WriteFile(tok.PINFile, []byte(tok.UserPIN+"\n"), 0o600); err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	return tok
}
