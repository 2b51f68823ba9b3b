package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
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

// serveStdin answers request bundles that arrive as UR parts, one per line
// on r (what `zbarcam --raw` prints while an officer holds the hot wallet's
// animated QR code to the signer's camera). Parts of one request may come in
// any order and repeat; when a request is complete it is processed, its
// response written to the outbox and shown as QR, and the next request may
// begin. A bad part is reported and skipped; EOF ends serving.
func serveStdin(ctx context.Context, cfg Config, d *daemon, r io.Reader, w io.Writer) error {
	lim := bundle.DefaultLimits()
	newDecoder := func() (*ur.Decoder, error) {
		return ur.NewDecoder(ur.DecoderOptions{MaxMessageLen: lim.MaxRequestBytes + 16, Types: []string{ur.TypeIceboxRequest}})
	}
	dec, err := newDecoder()
	if err != nil {
		return err
	}
	done := map[string]bool{} // messages already answered
	current := ""             // the message being assembled
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if ctx.Err() != nil {
			return nil
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		key := messageKey(line)
		if key != "" && done[key] {
			continue // the scanner is still showing a request already answered
		}
		if key != "" && current != "" && key != current {
			slog.Warn("a new request began before the previous one was complete; the incomplete one is dropped")
			if dec, err = newDecoder(); err != nil {
				return err
			}
			current = ""
		}
		if err := dec.Receive(line); err != nil {
			slog.Warn("UR part refused", "err", err)
			continue
		}
		current = key
		if !dec.IsComplete() {
			continue
		}
		if len(done) > 4096 {
			clear(done)
		}
		done[key], current = true, ""
		_, cbor, err := dec.Result()
		if dec, _ = newDecoder(); dec == nil {
			return errors.New("cannot reset the UR decoder")
		}
		if err != nil {
			slog.Warn("UR message refused", "err", err)
			continue
		}
		data, err := ur.UnwrapBytes(cbor)
		if err != nil {
			slog.Warn("UR payload refused", "err", err)
			continue
		}
		p, err := d.pipeline(ctx, nil)
		if err != nil {
			return err
		}
		out, err := p.Process(ctx, data)
		if err != nil {
			return err
		}
		id := out.Response.RequestID
		path, err := writeServeResponse(cfg.OutboxDir, out, files.Item{Name: "stdin"})
		if err != nil {
			return err
		}
		if _, err := showResponseQR(ctx, cfg.OutboxDir, path, out.Encoded, w); err != nil {
			slog.Warn("response written, but its QR frames could not be", "err", err)
		}
		if out.Refused() {
			slog.Warn("refused", "request", id, "stage", out.Response.Refusal.Stage, "code", out.Response.Refusal.Code, "response", path)
		} else {
			slog.Info("signed", "request", id, "transactions", len(out.Response.Signed), "response", path)
		}
	}
	return sc.Err()
}

// messageKey names the message a UR part belongs to (type, checksum and
// lengths of a multi-part UR; type and content of a single-part UR), or ""
// for a line that is no UR part at all.
func messageKey(line string) string {
	if t, p, err := ur.ParsePart(line); err == nil {
		return fmt.Sprintf("%s/%08x/%d/%d", t, p.Checksum, p.SeqLen, p.MessageLen)
	}
	if t, cbor, err := ur.Decode(line); err == nil {
		return fmt.Sprintf("%s/single/%x", t, sha256.Sum256(cbor))
	}
	return ""
}
