package qr

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG for image.Decode
	_ "image/png"  // registers PNG for image.Decode
	"io"
	"os"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// MaxImageBytes caps an image file read by DecodeFile, and MaxImagePixels
// the decoded size, both checked before decoding the pixels.
const (
	MaxImageBytes  = 32 << 20
	MaxImagePixels = 40_000_000
)

// DecodeImage reads one QR code from img and returns its text as stored (a
// UR from a QR is upper case). It tries gozxing three ways until one reads:
// PURE_BARCODE (an upright code with a quiet zone, as our frames and
// screenshots are: gozxing's finder-pattern detector misses about 5% of
// those), then TRY_HARDER for photos, then without hints (some go-qrcode
// renderings are only read that way).
// No code found is ErrNoCode. It never panics: a panic inside the decoder
// library on a hostile image is turned into ErrNoCode.
func DecodeImage(img image.Image) (text string, err error) {
	defer func() {
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("%w: decoder failed: %v", ErrNoCode, r)
		}
	}()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCode, err)
	}
	reader := zxqr.NewQRCodeReader()
	var res *gozxing.Result
	for _, hints := range []map[gozxing.DecodeHintType]interface{}{
		{gozxing.DecodeHintType_PURE_BARCODE: true},
		{gozxing.DecodeHintType_TRY_HARDER: true},
		nil,
	} {
		if res, err = reader.Decode(bmp, hints); err == nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCode, err)
	}
	return res.GetText(), nil
}

// DecodeFile reads a PNG or JPEG file (at most MaxImageBytes, at most
// MaxImagePixels) and returns the text of its QR code. Unreadable files are
// ErrImage, images without a readable code ErrNoCode; both name the file.
func DecodeFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrImage, path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrImage, path, err)
	}
	if len(data) > MaxImageBytes {
		return "", fmt.Errorf("%w: %s: larger than %d bytes", ErrImage, path, MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrImage, path, err)
	}
	if format != "png" && format != "jpeg" {
		return "", fmt.Errorf("%w: %s: format %s, want PNG or JPEG", ErrImage, path, format)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return "", fmt.Errorf("%w: %s: %dx%d pixels, cap %d", ErrImage, path, cfg.Width, cfg.Height, MaxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrImage, path, err)
	}
	text, err := DecodeImage(img)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return text, nil
}
