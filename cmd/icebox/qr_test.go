package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/bundle"
)

var (
	qrBinaryOnce sync.Once
	qrBinaryPath string
	qrBinaryErr  error
)

// qrBinary builds the real icebox binary once per test run.
func qrBinary(t *testing.T) string {
	t.Helper()
	qrBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "icebox-qr-bin")
		if err != nil {
			qrBinaryErr = err
			return
		}
		qrBinaryPath = filepath.Join(dir, "icebox")
		out, err := exec.Command("go", "build", "-o", qrBinaryPath, ".").CombinedOutput()
		if err != nil {
			qrBinaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if qrBinaryErr != nil {
		t.Fatal(qrBinaryErr)
	}
	return qrBinaryPath
}

// runQR runs the binary with stdin and returns stdout, stderr and the error.
func runQR(t *testing.T, stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	cmd := exec.Command(qrBinary(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// sweepBundle writes a sweep request of n transactions (about 330 bytes of
// PSBT-like payload each) and returns its path and bytes.
func sweepBundle(t *testing.T, n int, seed uint64) (string, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Unix()
	r := &bundle.Request{
		Version:   bundle.Version,
		ID:        fmt.Sprintf("sweep-%d", seed),
		Created:   created,
		Expires:   created + 3600,
		Requester: "hotwallet",
		Kind:      bundle.KindSweep,
		Reason:    "nightly sweep",
	}
	for i := 0; i < n; i++ {
		p := make([]byte, 330)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		copy(p, "psbt\xff")
		r.Transactions = append(r.Transactions, bundle.Transaction{Network: "btc-regtest", Format: bundle.FormatPSBT, Payload: p})
	}
	data, err := bundle.EncodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sweep.icebox")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestQRCLIBundleRoundTrip(t *testing.T) {
	path, data := sweepBundle(t, 300, 1)
	pngDir := filepath.Join(t.TempDir(), "frames")
	textOut, stderr, err := runQR(t, nil, "qr", "encode", path, "--png-dir", pngDir, "--text")
	if err != nil {
		t.Fatalf("encode: %v\n%s", err, stderr)
	}
	t.Logf("bundle of %d bytes: %s", len(data), strings.TrimSpace(string(stderr)))
	parts := strings.Fields(string(textOut))
	frames, _ := filepath.Glob(filepath.Join(pngDir, "frame-*.png"))
	if len(frames) != len(parts) || len(parts) < 500 {
		t.Fatalf("%d frames, %d text parts", len(frames), len(parts))
	}
	if !strings.HasPrefix(parts[0], "ur:icebox-request/1-") {
		t.Fatalf("first part %q", parts[0][:40])
	}
	rng := rand.New(rand.NewPCG(3, 4))
	shuffleDrop := func(in []string) []string {
		out := append([]string(nil), in...)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:len(out)*7/10]
	}

	// PNG frames: 30% dropped, the rest shuffled.
	outPNG := filepath.Join(t.TempDir(), "from-png.icebox")
	_, stderr, err = runQR(t, nil, append([]string{"qr", "decode", "--out", outPNG}, shuffleDrop(frames)...)...)
	if err != nil {
		t.Fatalf("decode png: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(outPNG); !bytes.Equal(got, data) {
		t.Fatal("bundle from PNG frames differs")
	}

	// Text parts on stdin, upper case as a QR scanner prints them, 30%
	// dropped, shuffled, with a duplicate and blank lines; to stdout.
	kept := shuffleDrop(parts)
	kept = append(kept, kept[0], "")
	stdin := strings.ToUpper(strings.Join(kept, "\n")) + "\n"
	got, stderr, err := runQR(t, []byte(stdin), "qr", "decode")
	if err != nil {
		t.Fatalf("decode stdin: %v\n%s", err, stderr)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bundle from stdin differs")
	}
	if _, err := bundle.DecodeRequest(got, bundle.Limits{}); err != nil {
		t.Fatalf("decoded bundle does not parse: %v", err)
	}

	// Refusals: each exits non-zero with the reason.
	otherPath, _ := sweepBundle(t, 300, 2)
	otherText, _, err := runQR(t, nil, "qr", "encode", otherPath, "--text", "--parts", "3")
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(parts[5])
	i := len(tampered) - 30
	if tampered[i] == 'a' {
		tampered[i] = 'e'
	} else {
		tampered[i] = 'a'
	}
	refusals := []struct {
		name, stdin, want string
		args              []string
	}{
		{"expfail_tampered_part", parts[0] + "\n" + string(tampered) + "\n", "checksum", nil},
		{"expfail_mixed_messages", parts[0] + "\n" + strings.Fields(string(otherText))[1] + "\n", "mixed messages", nil},
		{"expfail_truncated_stream", strings.Join(parts[:10], "\n"), "incomplete", nil},
		{"expfail_wrong_type", parts[0], "unexpected UR type", []string{"--type", "psbt"}},
		{"expfail_not_ur", "hello\n", "scheme", nil},
		{"expfail_nothing", "", "no UR parts", nil},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			out, stderr, err := runQR(t, []byte(r.stdin), append([]string{"qr", "decode"}, r.args...)...)
			if err == nil {
				t.Fatalf("exit 0, want refusal")
			}
			if len(out) != 0 {
				t.Fatal("payload written despite refusal")
			}
			if !strings.Contains(string(stderr), r.want) {
				t.Fatalf("stderr %q does not say %q", stderr, r.want)
			}
		})
	}
}

func TestQRCLIPSBT(t *testing.T) {
	// The BCR-2020-006 ur:crypto-psbt example decodes to the BIP-174 PSBT.
	const vector = "UR:CRYPTO-PSBT/HDOSJOJKIDJYZMADAENYAOAEAEAEAOHDVSKNCLREJNPEBNCNRNMNJOJOFEJZEOJLKERDONSPKPKKDKYKFELOKGPRPYUTKPAEAEAEAEAEZMZMZMZMLSLGAADITIWPIHBKISPKFGRKBDASLEWDFYCPRTJSPRSGKSECDRATKKHKTIKEWDCAADAEAEAEAEZMZMZMZMAOJOPKWTAYAEAEAEAECMAEBBTPHHDNJSTIAMBDASSOLOIMWMLYHYGDNLCATNBGGTAEVYYKAHAEAEAEAECMAEBBAEPLPTOEVWWTYAKOONLOURGOFGVSJYDPCALTAEMYAEAEAEAEAEAEAEAEAEBKGDCARH"
	psbt, stderr, err := runQR(t, []byte(vector+"\n"), "qr", "decode", "--quiet")
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, stderr)
	}
	if !bytes.HasPrefix(psbt, []byte("psbt\xff")) || len(psbt) != 167 {
		t.Fatalf("payload %x", psbt)
	}
	// Encode it back: single part, the same UR (lower case).
	path := filepath.Join(t.TempDir(), "creator.psbt")
	os.WriteFile(path, psbt, 0o644)
	text, stderr, err := runQR(t, nil, "qr", "encode", path, "--text")
	if err != nil {
		t.Fatalf("encode: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(string(text)) != strings.ToLower(vector) {
		t.Fatalf("encode gave %q", text)
	}
	text, _, err = runQR(t, nil, "qr", "encode", path, "--text", "--type", "psbt")
	if err != nil || !strings.HasPrefix(string(text), "ur:psbt/") {
		t.Fatalf("--type psbt: %q %v", text, err)
	}
	// A terminal rendering request with stdout redirected falls back to text.
	text, stderr, err = runQR(t, nil, "qr", "encode", path, "--terminal")
	if err != nil || strings.TrimSpace(string(text)) != strings.ToLower(vector) || !strings.Contains(string(stderr), "not a terminal") {
		t.Fatalf("--terminal fallback: %q %q %v", text, stderr, err)
	}
	// PNG and GIF of a single-part UR read back.
	dir := t.TempDir()
	if _, stderr, err := runQR(t, nil, "qr", "encode", path, "--png-dir", dir, "--gif", filepath.Join(dir, "a.gif")); err != nil {
		t.Fatalf("png: %v %s", err, stderr)
	}
	back, stderr, err := runQR(t, nil, "qr", "decode", filepath.Join(dir, "frame-0001.png"))
	if err != nil || !bytes.Equal(back, psbt) {
		t.Fatalf("png decode: %v %s", err, stderr)
	}
	// --type must agree with the file.
	if _, stderr, err := runQR(t, nil, "qr", "encode", path, "--text", "--type", "icebox-request"); err == nil || !strings.Contains(string(stderr), "it is a PSBT") {
		t.Fatalf("mismatched --type accepted: %s", stderr)
	}
	garbage := filepath.Join(dir, "garbage.bin")
	os.WriteFile(garbage, []byte("not a psbt"), 0o644)
	if _, stderr, err := runQR(t, nil, "qr", "encode", garbage, "--text"); err == nil || !strings.Contains(string(stderr), "--type") {
		t.Fatalf("unknown file accepted: %s", stderr)
	}
	// An image without a code is skipped with a warning; the decode then
	// fails as incomplete.
	blank := filepath.Join(dir, "blank.png")
	os.WriteFile(blank, []byte("\x89PNG\r\n\x1a\n"), 0o644)
	if _, stderr, err := runQR(t, nil, "qr", "decode", blank); err == nil || !strings.Contains(string(stderr), "warning") {
		t.Fatalf("blank image: %v %s", err, stderr)
	}
}
