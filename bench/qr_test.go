package bench

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/qr"
	"github.com/icebox-custody/icebox/ur"
)

// qrTarget is the size of the bundle carried as QR frames.
const qrTarget = 100_000

type qrResult struct {
	bundleBytes int
	frames      int
	encode      time.Duration
	icebox      time.Duration
	zbar        time.Duration
	zbarVersion string
}

func (r qrResult) iceboxRate() float64 { return float64(r.frames) / r.icebox.Seconds() }
func (r qrResult) zbarRate() float64   { return float64(r.frames) / r.zbar.Seconds() }

// qrBench encodes a real ~100 KB request bundle as the PNG frames of its
// pure UR fragments (exactly what is needed to reassemble it, at the
// defaults of icebox qr encode), then decodes every frame with Icebox
// (qr.DecodeFile: PNG decode + gozxing) and with zbarimg (one process for
// all frames), one thread each, and checks both read every part.
func (e *env) qrBench(tb testing.TB) qrResult {
	tb.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		tb.Fatalf("zbarimg not found: install zbar-tools (make deps)")
	}
	n := 600
	data := e.request(bundle.KindSweep, e.ethTxs(n))
	n = n * qrTarget / len(data)
	data = e.request(bundle.KindSweep, e.ethTxs(n))

	var res qrResult
	res.bundleBytes = len(data)
	t0 := time.Now()
	enc, err := ur.NewEncoder(ur.TypeIceboxRequest, ur.WrapBytes(data), ur.EncoderOptions{MaxFragmentLen: ur.DefaultFragmentLen})
	if err != nil {
		tb.Fatal(err)
	}
	parts := enc.Parts(enc.SeqLen())
	frames, err := qr.EncodeFrames(parts, qr.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	files, err := qr.WritePNGs(dir, frames)
	if err != nil {
		tb.Fatal(err)
	}
	res.encode = time.Since(t0)
	res.frames = len(files)

	t0 = time.Now()
	dec, err := ur.NewDecoder(ur.DecoderOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for i, f := range files {
		text, err := qr.DecodeFile(f)
		if err != nil {
			tb.Fatalf("icebox could not read frame %d: %v", i+1, err)
		}
		if err := dec.Receive(text); err != nil {
			tb.Fatalf("frame %d: %v", i+1, err)
		}
	}
	res.icebox = time.Since(t0)
	if _, cbor, err := dec.Result(); err != nil {
		tb.Fatal(err)
	} else if got, err := ur.UnwrapBytes(cbor); err != nil || !bytes.Equal(got, data) {
		tb.Fatalf("icebox reassembled a different bundle (%v)", err)
	}

	t0 = time.Now()
	cmd := exec.Command(zbar, append([]string{"--raw", "-q", "-Sdisable", "-Sqrcode.enable"}, files...)...)
	out, err := cmd.Output()
	res.zbar = time.Since(t0)
	if err != nil {
		tb.Fatalf("zbarimg: %v", err)
	}
	got := strings.Fields(string(out))
	if len(got) != len(parts) {
		tb.Fatalf("zbarimg read %d of %d frames", len(got), len(parts))
	}
	for i := range parts {
		if !strings.EqualFold(got[i], parts[i]) {
			tb.Fatalf("zbarimg frame %d: read %q", i+1, got[i])
		}
	}
	if v, err := exec.Command(zbar, "--version").Output(); err == nil {
		res.zbarVersion = strings.TrimSpace(string(v))
	}
	_ = filepath.Base
	return res
}
