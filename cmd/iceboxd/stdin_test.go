package main

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/internal/world"
	"github.com/icebox-custody/icebox/qr"
	"github.com/icebox-custody/icebox/ur"
)

// testServeStdin feeds the real `iceboxd serve --stdin` the UR parts of two
// requests the way a camera scanner prints them: shuffled, repeated, with a
// garbage line and a part of another message in between. Both requests are
// answered in the outbox, each response is also written as QR frames that
// decode back to a response UR, and EOF ends serving with exit 0.
func testServeStdin(t *testing.T, w *world.World) {
	must := mustSub(t)
	a := must(w.BTCSweep("stdin-btc", 0, 0))
	b := must(w.ETHSweep("stdin-eth", 0, 50, 0))
	rnd := rand.New(rand.NewSource(1))
	var lines []string
	for _, s := range []*world.Submission{a, b} {
		parts, err := ur.PayloadParts(ur.TypeIceboxRequest, s.Data, 120, 0)
		if err != nil {
			t.Fatal(err)
		}
		rnd.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		lines = append(lines, parts[0], "not a UR part at all")
		lines = append(lines, parts...)
	}
	cmd := exec.Command(w.IceboxdBin, "--config", w.Config, "serve", "--stdin")
	cmd.Env = w.Env
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve --stdin: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "UR part refused") {
		t.Errorf("the garbage line was not reported:\n%s", out)
	}
	for _, s := range []*world.Submission{a, b} {
		path := filepath.Join(w.Outbox, s.ID+".response.icebox")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("response for %s: %v\n%s", s.ID, err, out)
		}
		resp, err := bundle.DecodeResponse(data, bundle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != bundle.StatusSigned || resp.RequestDigest != s.Digest {
			t.Fatalf("%s: %s %+v, digest %s want %s", s.ID, resp.Status, resp.Refusal, resp.RequestDigest, s.Digest)
		}
		frame := filepath.Join(w.Outbox, "qr", s.ID+".response", qr.FrameName(0))
		text, err := qr.DecodeFile(frame)
		if err != nil {
			t.Fatalf("QR frame of %s: %v", s.ID, err)
		}
		if !strings.HasPrefix(strings.ToLower(text), "ur:icebox-response") {
			t.Fatalf("QR frame of %s reads %.40q, want a ur:icebox-response part", s.ID, text)
		}
	}
}
