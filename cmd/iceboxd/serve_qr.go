package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/icebox-custody/icebox/qr"
	"github.com/icebox-custody/icebox/ur"
)

// showResponseQR renders a response bundle as QR: PNG frames in
// <outbox>/qr/<response file name>/ (for a screen or a printer), and — when
// w is a terminal — one pass of the animation for a phone or webcam.
func showResponseQR(ctx context.Context, outbox, responsePath string, encoded []byte, w io.Writer) (string, error) {
	parts, err := ur.PayloadParts(ur.TypeIceboxResponse, encoded, 0, 0)
	if err != nil {
		return "", fmt.Errorf("response as UR: %w", err)
	}
	frames, err := qr.EncodeFrames(parts, qr.Options{})
	if err != nil {
		return "", fmt.Errorf("response as QR: %w", err)
	}
	dir := filepath.Join(outbox, "qr", strings.TrimSuffix(filepath.Base(responsePath), filepath.Ext(responsePath)))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if _, err := qr.WritePNGs(dir, frames); err != nil {
		return "", fmt.Errorf("write QR frames: %w", err)
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if err := qr.AnimateTerminal(ctx, w, parts, qr.DefaultLevel, 8, 1); err != nil && ctx.Err() == nil {
			return dir, err
		}
	}
	return dir, nil
}
