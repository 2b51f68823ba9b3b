package qr

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// Level is a QR error-correction level.
type Level int

// Error-correction levels: L recovers about 7% of damaged modules, M 15%,
// Q 25%, H 30%; each step costs capacity.
const (
	LevelL Level = iota + 1
	LevelM
	LevelQ
	LevelH
)

// String returns "L", "M", "Q" or "H".
func (l Level) String() string {
	switch l {
	case LevelL:
		return "L"
	case LevelM:
		return "M"
	case LevelQ:
		return "Q"
	case LevelH:
		return "H"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel parses "L", "M", "Q" or "H" (any case).
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(s) {
	case "L":
		return LevelL, nil
	case "M":
		return LevelM, nil
	case "Q":
		return LevelQ, nil
	case "H":
		return LevelH, nil
	}
	return 0, fmt.Errorf("%w: error-correction level %q, want L, M, Q or H", ErrInvalidOptions, s)
}

func (l Level) recovery() (qrcode.RecoveryLevel, error) {
	switch l {
	case LevelL:
		return qrcode.Low, nil
	case LevelM:
		return qrcode.Medium, nil
	case LevelQ:
		return qrcode.High, nil
	case LevelH:
		return qrcode.Highest, nil
	}
	return 0, fmt.Errorf("%w: error-correction level %v", ErrInvalidOptions, l)
}

// Defaults for phone and webcam scanning; docs/qr.md explains them.
const (
	DefaultLevel           = LevelM
	DefaultPixelsPerModule = 4
	DefaultQuietZone       = 4 // modules, as ISO/IEC 18004 requires
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalidOptions: options out of range.
	ErrInvalidOptions = errors.New("qr: invalid options")
	// ErrTooLong: the text does not fit in a version-40 QR code at the level.
	ErrTooLong = errors.New("qr: text too long for one QR code")
	// ErrNoCode: no QR code could be read from an image.
	ErrNoCode = errors.New("qr: no QR code found")
	// ErrImage: an image file could not be read or decoded.
	ErrImage = errors.New("qr: unreadable image")
)

// Options control rendering. Zero fields take the defaults.
type Options struct {
	Level           Level // error correction, default DefaultLevel
	PixelsPerModule int   // default DefaultPixelsPerModule, 1–64
	QuietZone       int   // white border in modules, default DefaultQuietZone, 0–16
}

func (o Options) resolve() (Options, error) {
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.PixelsPerModule == 0 {
		o.PixelsPerModule = DefaultPixelsPerModule
	}
	if o.QuietZone == 0 {
		o.QuietZone = DefaultQuietZone
	}
	if _, err := o.Level.recovery(); err != nil {
		return o, err
	}
	if o.PixelsPerModule < 1 || o.PixelsPerModule > 64 {
		return o, fmt.Errorf("%w: PixelsPerModule %d, want 1–64", ErrInvalidOptions, o.PixelsPerModule)
	}
	if o.QuietZone < 0 || o.QuietZone > 16 {
		return o, fmt.Errorf("%w: QuietZone %d, want 0–16", ErrInvalidOptions, o.QuietZone)
	}
	return o, nil
}

// Palette is the two-colour palette of every frame: index 0 white, 1 black.
var Palette = color.Palette{color.White, color.Black}

// Symbol is one QR code: its version and its dark modules, without quiet zone.
type Symbol struct {
	Version int
	Modules [][]bool // [row][column], true = dark
}

// Size is the width (and height) in modules, without quiet zone.
func (s Symbol) Size() int { return len(s.Modules) }

// NewSymbol encodes text as a QR code, upper-casing it first so a UR uses
// the alphanumeric mode (5.5 bits a character instead of 8). version 0 picks
// the smallest version that fits; otherwise that version is forced (it must
// fit). Text that does not fit is ErrTooLong.
func NewSymbol(text string, level Level, version int) (Symbol, error) {
	rl, err := level.recovery()
	if err != nil {
		return Symbol{}, err
	}
	text = strings.ToUpper(text)
	var q *qrcode.QRCode
	if version == 0 {
		q, err = qrcode.New(text, rl)
	} else {
		q, err = qrcode.NewWithForcedVersion(text, version, rl)
	}
	if err != nil {
		return Symbol{}, fmt.Errorf("%w: %d characters at level %v: %v", ErrTooLong, len(text), level, err)
	}
	q.DisableBorder = true
	return Symbol{Version: q.VersionNumber, Modules: q.Bitmap()}, nil
}

// Image renders s at a fixed number of pixels per module with a white quiet
// zone (gozxing reads such images reliably; scaling to a fixed total size
// does not).
func (s Symbol) Image(opts Options) (*image.Paletted, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	n := s.Size()
	side := (n + 2*o.QuietZone) * o.PixelsPerModule
	img := image.NewPaletted(image.Rect(0, 0, side, side), Palette) // all index 0: white
	for r, row := range s.Modules {
		for c, dark := range row {
			if !dark {
				continue
			}
			x0 := (c + o.QuietZone) * o.PixelsPerModule
			y0 := (r + o.QuietZone) * o.PixelsPerModule
			for y := y0; y < y0+o.PixelsPerModule; y++ {
				line := img.Pix[y*img.Stride+x0 : y*img.Stride+x0+o.PixelsPerModule]
				for i := range line {
					line[i] = 1
				}
			}
		}
	}
	return img, nil
}

// Encode renders one text (a UR part) as a QR image.
func Encode(text string, opts Options) (*image.Paletted, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	s, err := NewSymbol(text, o.Level, 0)
	if err != nil {
		return nil, err
	}
	return s.Image(o)
}

// EncodeSymbols encodes every text at one common QR version — the smallest
// that fits them all — so that an animation keeps a constant size.
func EncodeSymbols(texts []string, level Level) ([]Symbol, error) {
	syms := make([]Symbol, len(texts))
	maxVersion := 0
	for i, t := range texts {
		s, err := NewSymbol(t, level, 0)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i+1, err)
		}
		syms[i] = s
		maxVersion = max(maxVersion, s.Version)
	}
	for i, s := range syms {
		if s.Version == maxVersion {
			continue
		}
		forced, err := NewSymbol(texts[i], level, maxVersion)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i+1, err)
		}
		syms[i] = forced
	}
	return syms, nil
}

// EncodeFrames renders UR parts as same-sized QR images, one per part, in
// order.
func EncodeFrames(parts []string, opts Options) ([]*image.Paletted, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	syms, err := EncodeSymbols(parts, o.Level)
	if err != nil {
		return nil, err
	}
	frames := make([]*image.Paletted, len(syms))
	for i, s := range syms {
		if frames[i], err = s.Image(o); err != nil {
			return nil, err
		}
	}
	return frames, nil
}
