package qr

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/ur"
)

const testFragmentLen = 300

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

var (
	lossyOnce  sync.Once
	lossyData  []byte
	lossyPaths []string
	lossyErr   error
)

// lossyFrames encodes a 100 KB payload as 2.5·seqLen UR parts, drops 30% of
// them at random, shuffles the rest and writes those as PNG frames. It runs
// once per test binary (the gozxing and zbarimg tests read the same files);
// dropped frames are never rendered, since nothing would read them (the CLI
// test renders and drops whole frame files).
func lossyFrames(t *testing.T) (data []byte, kept []string) {
	t.Helper()
	lossyOnce.Do(func() {
		lossyData = payload(100_000, 1)
		enc, err := ur.NewEncoder(ur.TypeIceboxRequest, ur.WrapBytes(lossyData), ur.EncoderOptions{MaxFragmentLen: testFragmentLen})
		if err != nil {
			lossyErr = err
			return
		}
		parts := enc.Parts((enc.SeqLen()*5 + 1) / 2)
		rng := rand.New(rand.NewPCG(5, 6))
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		keptParts := parts[:len(parts)*7/10]
		frames, err := EncodeFrames(keptParts, Options{})
		if err != nil {
			lossyErr = err
			return
		}
		dir, err := os.MkdirTemp("", "icebox-qr-frames")
		if err != nil {
			lossyErr = err
			return
		}
		if lossyPaths, lossyErr = WritePNGs(dir, frames); lossyErr != nil {
			return
		}
		t.Logf("100 KB payload: %d fragments of %d bytes, %d parts, %d kept as %dx%d px frames in %s",
			enc.SeqLen(), enc.FragmentLen(), len(parts), len(frames), frames[0].Rect.Dx(), frames[0].Rect.Dy(), dir)
	})
	if lossyErr != nil {
		t.Fatal(lossyErr)
	}
	return lossyData, lossyPaths
}

func finish(t *testing.T, d *ur.Decoder, want []byte) {
	t.Helper()
	if !d.IsComplete() {
		t.Fatalf("incomplete: %d of %d fragments", d.Recovered(), d.Expected())
	}
	typ, cbor, err := d.Result()
	if err != nil || typ != ur.TypeIceboxRequest {
		t.Fatalf("Result: %s %v", typ, err)
	}
	got, err := ur.UnwrapBytes(cbor)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("payload differs (%v)", err)
	}
}

func TestPNGFramesLossyGozxing(t *testing.T) {
	data, kept := lossyFrames(t)
	d, err := ur.NewDecoder(ur.DecoderOptions{Types: []string{ur.TypeIceboxRequest}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, p := range kept {
		text, err := DecodeFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if text != strings.ToUpper(text) {
			t.Fatalf("frame %s is not upper case", p)
		}
		if err := d.Receive(text); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("gozxing: %d frames in %v (%.0f frames/s)", len(kept), time.Since(start), float64(len(kept))/time.Since(start).Seconds())
	finish(t, d, data)
}

// TestPNGFramesLossyZbarimg reads the same frames with the independent
// zbarimg. It fails, never skips, when zbarimg is missing.
func TestPNGFramesLossyZbarimg(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg is required (Debian zbar-tools): %v", err)
	}
	data, kept := lossyFrames(t)
	start := time.Now()
	out, err := exec.Command(zbar, append([]string{"--raw", "-q", "-Sdisable", "-Sqrcode.enable"}, kept...)...).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	elapsed := time.Since(start)
	lines := strings.Fields(string(out))
	if len(lines) != len(kept) {
		t.Fatalf("zbarimg read %d codes from %d frames", len(lines), len(kept))
	}
	t.Logf("zbarimg: %d frames in %v (%.0f frames/s)", len(kept), elapsed, float64(len(kept))/elapsed.Seconds())
	d, err := ur.NewDecoder(ur.DecoderOptions{Types: []string{ur.TypeIceboxRequest}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if err := d.Receive(l); err != nil {
			t.Fatal(err)
		}
	}
	finish(t, d, data)
}

func TestFramesShareOneVersion(t *testing.T) {
	// Sequence numbers 9-10 and 10-10 differ in length; a one-byte payload
	// and a long part differ a lot. All frames get the largest version.
	parts := []string{"ur:bytes/1-10/x", strings.Repeat("A", 200), "ur:bytes/10-10/lpbk"}
	syms, err := EncodeSymbols(parts, LevelM)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms[1:] {
		if s.Version != syms[0].Version || s.Size() != syms[0].Size() {
			t.Fatalf("versions %d and %d differ", s.Version, syms[0].Version)
		}
	}
	frames, err := EncodeFrames(parts, Options{PixelsPerModule: 3, QuietZone: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := (syms[0].Size() + 4) * 3
	for i, f := range frames {
		if f.Rect.Dx() != want || f.Rect.Dy() != want {
			t.Fatalf("frame %d is %v, want %dx%d", i, f.Rect, want, want)
		}
		text, err := DecodeImage(f)
		if err != nil || text != strings.ToUpper(parts[i]) {
			t.Fatalf("frame %d reads %q, %v", i, text, err)
		}
	}
	// The quiet zone is white.
	if frames[0].ColorIndexAt(0, 0) != 0 || frames[0].ColorIndexAt(want-1, want-1) != 0 {
		t.Fatal("quiet zone not white")
	}
}

func TestSinglePartVectorReadsBack(t *testing.T) {
	// The BCR-2020-006 ur:crypto-psbt example, as a QR image, read back.
	const part = "ur:crypto-psbt/hdosjojkidjyzmadaenyaoaeaeaeaohdvsknclrejnpebncnrnmnjojofejzeojlkerdonspkpkkdkykfelokgprpyutkpaeaeaeaeaezmzmzmzmlslgaaditiwpihbkispkfgrkbdaslewdfycprtjsprsgksecdratkkhktikewdcaadaeaeaeaezmzmzmzmaojopkwtayaeaeaeaecmaebbtphhdnjstiambdassoloimwmlyhygdnlcatnbggtaevyykahaeaeaeaecmaebbaeplptoevwwtyakoonlourgofgvsjydpcaltaemyaeaeaeaeaeaeaeaeaebkgdcarh"
	img, err := Encode(part, Options{Level: LevelL})
	if err != nil {
		t.Fatal(err)
	}
	// JPEG, as a phone would save it.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := DecodeFile(path)
	if err != nil {
		t.Fatal(err)
	}
	typ, cbor, err := ur.Decode(text)
	if err != nil || typ != ur.TypeCryptoPSBT {
		t.Fatalf("Decode: %s %v", typ, err)
	}
	psbt, err := ur.UnwrapBytes(cbor)
	if err != nil || !bytes.HasPrefix(psbt, []byte("psbt\xff")) {
		t.Fatalf("payload: %v", err)
	}
}

func TestGIF(t *testing.T) {
	enc, _ := ur.NewEncoder(ur.TypeBytes, ur.WrapBytes(payload(2000, 3)), ur.EncoderOptions{MaxFragmentLen: 300})
	parts := enc.Parts(enc.SeqLen() * 2)
	frames, err := EncodeFrames(parts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "anim.gif")
	if err := WriteGIFFile(path, frames, 8); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gif.DecodeAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != len(parts) || g.LoopCount != 0 || g.Delay[0] != 13 {
		t.Fatalf("gif: %d frames, loop %d, delay %d", len(g.Image), g.LoopCount, g.Delay[0])
	}
	d, _ := ur.NewDecoder(ur.DecoderOptions{})
	for _, img := range g.Image {
		text, err := DecodeImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Receive(text); err != nil {
			t.Fatal(err)
		}
	}
	if !d.IsComplete() {
		t.Fatal("gif frames did not complete the message")
	}
	if err := WriteGIF(&bytes.Buffer{}, frames, 0); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("fps 0: %v", err)
	}
}

func TestTerminal(t *testing.T) {
	s, err := NewSymbol("UR:BYTES/AEADAOLAZMJENDEOTI", LevelM, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := RenderTerminal(s)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if want := (s.Size() + 2*quietTerminal + 1) / 2; len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	// Rebuild the module matrix from the half blocks and compare.
	for li, line := range lines {
		line = strings.TrimSuffix(strings.TrimPrefix(line, ansiColours), ansiReset)
		for c, ch := range []rune(line) {
			top := ch == '█' || ch == '▀'
			bottom := ch == '█' || ch == '▄'
			for k, dark := range []bool{top, bottom} {
				r, cc := 2*li+k-quietTerminal, c-quietTerminal
				want := r >= 0 && cc >= 0 && r < s.Size() && cc < s.Size() && s.Modules[r][cc]
				if dark != want {
					t.Fatalf("module (%d,%d) dark=%v, want %v", r, cc, dark, want)
				}
			}
		}
	}
	var buf bytes.Buffer
	err = AnimateTerminal(context.Background(), &buf, []string{"ur:bytes/1-2/ae", "ur:bytes/2-2/ae"}, LevelL, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), ansiHome); n != 2 || !strings.Contains(buf.String(), "frame 2/2  ur:bytes/2-2") {
		t.Fatalf("animation wrote %d frames", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := AnimateTerminal(ctx, &bytes.Buffer{}, []string{"ur:bytes/1-2/ae"}, LevelL, 8, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled animation: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	if _, err := Encode(strings.Repeat("A", 5000), Options{}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("5000 characters: %v", err)
	}
	if _, err := Encode("UR:BYTES/AE", Options{PixelsPerModule: 100}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("100 px/module: %v", err)
	}
	if _, err := ParseLevel("X"); !errors.Is(err, ErrInvalidOptions) {
		t.Fatal("level X accepted")
	}
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.png")
	img := image.NewPaletted(image.Rect(0, 0, 100, 100), Palette)
	if _, err := WritePNGs(dir, []*image.Paletted{img}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, FrameName(0)), blank); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(blank); !errors.Is(err, ErrNoCode) {
		t.Fatalf("blank image: %v", err)
	}
	notImage := filepath.Join(dir, "note.png")
	os.WriteFile(notImage, []byte("ur:bytes/aeadaolazmjendeoti"), 0o644)
	if _, err := DecodeFile(notImage); !errors.Is(err, ErrImage) {
		t.Fatalf("text file: %v", err)
	}
	var g bytes.Buffer
	WriteGIF(&g, []*image.Paletted{img}, 8)
	gifPath := filepath.Join(dir, "x.png")
	os.WriteFile(gifPath, g.Bytes(), 0o644)
	if _, err := DecodeFile(gifPath); !errors.Is(err, ErrImage) {
		t.Fatalf("gif named .png: %v", err)
	}
}

// Benchmarks: frames decoded per second by gozxing and by zbarimg.
func benchFrames(b *testing.B) []string {
	enc, _ := ur.NewEncoder(ur.TypeIceboxRequest, ur.WrapBytes(payload(100_000, 1)), ur.EncoderOptions{MaxFragmentLen: testFragmentLen})
	frames, err := EncodeFrames(enc.Parts(50), Options{})
	if err != nil {
		b.Fatal(err)
	}
	paths, err := WritePNGs(b.TempDir(), frames)
	if err != nil {
		b.Fatal(err)
	}
	return paths
}

func BenchmarkDecodeGozxing(b *testing.B) {
	paths := benchFrames(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeFile(paths[i%len(paths)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeZbarimg(b *testing.B) {
	paths := benchFrames(b)
	b.ResetTimer()
	// One zbarimg process per 50 frames, as a batch decode would run.
	for done := 0; done < b.N; done += len(paths) {
		n := min(len(paths), b.N-done)
		if err := exec.Command("zbarimg", append([]string{"--raw", "-q"}, paths[:n]...)...).Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if len(lossyPaths) > 0 {
		os.RemoveAll(filepath.Dir(lossyPaths[0]))
	}
	os.Exit(code)
}
