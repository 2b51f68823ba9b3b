package softhsmtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestNewTokenVisibleToSoftHSMUtil(t *testing.T) {
	a := NewToken(t, Options{Label: "alpha"})
	b := NewToken(t, Options{})
	if a.Dir != b.Dir || os.Getenv("SOFTHSM2_CONF") != a.ConfPath {
		t.Fatalf("tokens of one test must share one dir and SOFTHSM2_CONF: %q %q %q", a.Dir, b.Dir, os.Getenv("SOFTHSM2_CONF"))
	}
	out, err := exec.Command("softhsm2-util", "--show-slots").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	for _, l := range []string{"alpha", b.Label} {
		if !strings.Contains(string(out), l) {
			t.Errorf("token %q not listed:\n%s", l, out)
		}
	}
	st, err := os.Stat(a.PINFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("PIN file: %v mode %v", err, st.Mode())
	}
}
