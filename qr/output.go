package qr

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Frame rate bounds and default, frames per second.
const (
	DefaultFPS = 8
	MaxFPS     = 30
)

// FrameName returns the file name of frame i (0-based): frame-0001.png …
func FrameName(i int) string { return fmt.Sprintf("frame-%04d.png", i+1) }

// WritePNGs writes frames into dir (created with mode 0755 if missing) as
// frame-0001.png, frame-0002.png, … and returns the paths in order. Each file
// is written to a temporary name and renamed, so a reader never sees half a
// frame. An existing frame file of the same name is replaced.
func WritePNGs(dir string, frames []*image.Paletted) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("qr: png directory: %w", err)
	}
	paths := make([]string, 0, len(frames))
	for i, f := range frames {
		p := filepath.Join(dir, FrameName(i))
		if err := writeAtomic(p, func(w io.Writer) error { return png.Encode(w, f) }); err != nil {
			return nil, fmt.Errorf("qr: frame %d: %w", i+1, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// FrameDelay returns the GIF delay of one frame at fps, in hundredths of a
// second (at least 2: many viewers slow shorter delays down to 10).
func FrameDelay(fps int) int {
	return max(2, (100+fps/2)/fps)
}

// WriteGIF writes frames as an endlessly looping animated GIF at fps frames
// per second (1–MaxFPS).
func WriteGIF(w io.Writer, frames []*image.Paletted, fps int) error {
	if fps < 1 || fps > MaxFPS {
		return fmt.Errorf("%w: fps %d, want 1–%d", ErrInvalidOptions, fps, MaxFPS)
	}
	if len(frames) == 0 {
		return fmt.Errorf("%w: no frames", ErrInvalidOptions)
	}
	g := &gif.GIF{Image: frames, Delay: make([]int, len(frames)), LoopCount: 0}
	for i := range g.Delay {
		g.Delay[i] = FrameDelay(fps)
	}
	if err := gif.EncodeAll(w, g); err != nil {
		return fmt.Errorf("qr: gif: %w", err)
	}
	return nil
}

// WriteGIFFile writes the animated GIF to path atomically.
func WriteGIFFile(path string, frames []*image.Paletted, fps int) error {
	return writeAtomic(path, func(w io.Writer) error { return WriteGIF(w, frames, fps) })
}

// Terminal rendering: two modules per character cell with the upper and
// lower half-block characters, drawn black on white with ANSI colours so the
// code reads the same on dark and light terminals.
const (
	ansiColours   = "\x1b[30;107m" // black foreground, bright white background
	ansiReset     = "\x1b[0m"
	ansiHome      = "\x1b[H"
	ansiClear     = "\x1b[2J"
	ansiHideCur   = "\x1b[?25l"
	ansiShowCur   = "\x1b[?25h"
	quietTerminal = 2 // modules; terminals add their own margin
)

// RenderTerminal returns s drawn with half blocks and ANSI colours, one line
// per two module rows, with a two-module quiet zone.
func RenderTerminal(s Symbol) string {
	n := s.Size() + 2*quietTerminal
	dark := func(r, c int) bool {
		r, c = r-quietTerminal, c-quietTerminal
		return r >= 0 && c >= 0 && r < s.Size() && c < s.Size() && s.Modules[r][c]
	}
	var sb strings.Builder
	for r := 0; r < n; r += 2 {
		sb.WriteString(ansiColours)
		for c := 0; c < n; c++ {
			top, bottom := dark(r, c), dark(r+1, c)
			switch {
			case top && bottom:
				sb.WriteString("█")
			case top:
				sb.WriteString("▀")
			case bottom:
				sb.WriteString("▄")
			default:
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(ansiReset + "\n")
	}
	return sb.String()
}

// AnimateTerminal draws the parts as QR codes in turn, fps frames a second,
// repeating until ctx is done (or once through when loops is 1; loops <= 0
// repeats forever). Each frame starts with cursor-home so it overdraws the
// last one; the caption under it shows the part's sequence. It returns
// ctx.Err() when cancelled, nil after the loops, or a write error.
func AnimateTerminal(ctx context.Context, w io.Writer, parts []string, level Level, fps, loops int) error {
	if fps < 1 || fps > MaxFPS {
		return fmt.Errorf("%w: fps %d, want 1–%d", ErrInvalidOptions, fps, MaxFPS)
	}
	syms, err := EncodeSymbols(parts, level)
	if err != nil {
		return err
	}
	frames := make([]string, len(syms))
	for i, s := range syms {
		frames[i] = RenderTerminal(s)
	}
	if _, err := io.WriteString(w, ansiClear+ansiHideCur); err != nil {
		return err
	}
	defer io.WriteString(w, ansiShowCur)
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	for loop := 0; loops <= 0 || loop < loops; loop++ {
		for i, f := range frames {
			caption := fmt.Sprintf("frame %d/%d  %s\x1b[K\n", i+1, len(frames), caption(parts[i]))
			if _, err := io.WriteString(w, ansiHome+f+caption); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
	return nil
}

// caption is the UR's type and sequence ("ur:icebox-request/3-40").
func caption(part string) string {
	if i := strings.LastIndexByte(part, '/'); i > 0 {
		return strings.ToLower(part[:i])
	}
	return ""
}
