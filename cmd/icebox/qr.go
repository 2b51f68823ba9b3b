package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/qr"
	"github.com/icebox-custody/icebox/ur"
	"github.com/icebox-custody/icebox/ur/fountain"
)

const (
	// maxQRPayload is the largest file qr encode reads: the UR decoder's
	// default message cap less the CBOR byte-string head.
	maxQRPayload = fountain.DefaultMaxMessageLen - 9
	typeAuto     = "auto"
)

// qrTypes are the UR types icebox qr reads and writes.
var qrTypes = []string{ur.TypeIceboxRequest, ur.TypeIceboxResponse, ur.TypeIceboxApproval, ur.TypePSBT, ur.TypeCryptoPSBT}

var qrCmd = &cobra.Command{
	Use:   "qr",
	Short: "Carry bundles and PSBTs across the air gap as (animated) BC-UR QR codes",
}

var qrEncodeCmd = &cobra.Command{
	Use:   "encode FILE",
	Short: "Encode a bundle or PSBT as UR parts: PNG frames, animated GIF, terminal animation or text",
	Long: `Encode FILE (an Icebox bundle or a binary PSBT) as BC-UR parts and render them.

The type is detected from the file (Icebox bundle header → ur:icebox-request,
ur:icebox-response or ur:icebox-approval; PSBT magic → ur:crypto-psbt) or given
with --type, which must agree with the file. A payload that fits one fragment
is one single-part UR; otherwise the parts are the pure fragments followed by
fountain parts, --parts in all (default 2.5 × the fragment count, enough for a
scanner that misses 30% of the frames to finish in one pass).

Outputs (any combination): --png-dir DIR writes frame-0001.png …; --gif FILE
an endlessly looping animation; --terminal animates in the terminal until
Ctrl-C (text parts when stdout is not a terminal); --text prints the parts one
per line. With no output flag, --terminal is assumed.`,
	Args: cobra.ExactArgs(1),
	RunE: runQREncode,
}

var qrDecodeCmd = &cobra.Command{
	Use:   "decode [IMAGE...]",
	Short: "Reassemble a bundle or PSBT from QR images or UR text parts on stdin",
	Long: `Read UR parts from PNG/JPEG images, or — with no IMAGE — one part per line on
stdin (as "zbarcam --raw" prints them), in any order, repeated or with some
missing, until the payload is complete. Writes the payload to --out (or
stdout when it is not a terminal): the raw PSBT for ur:psbt / ur:crypto-psbt,
the bundle file for the Icebox types.

A part that is malformed, fails its checksum, or belongs to another message
stops the decode with an error. An image without a readable code is skipped
with a warning. Integrity is the UR's CRC32 only: verify the bundle's
signatures afterwards.`,
	RunE: runQRDecode,
}

func init() {
	f := qrEncodeCmd.Flags()
	f.String("type", typeAuto, "UR type: auto, "+strings.Join(qrTypes, ", "))
	f.String("png-dir", "", "write PNG frames frame-0001.png … into this directory")
	f.String("gif", "", "write an animated GIF to this file")
	f.Bool("terminal", false, "animate the QR codes in the terminal until Ctrl-C")
	f.Bool("text", false, "print the UR parts, one per line")
	f.Int("fragment-len", ur.DefaultFragmentLen, "maximum payload bytes per QR code")
	f.Int("fps", qr.DefaultFPS, "frames per second of the GIF and terminal animation")
	f.Int("parts", 0, "number of parts to emit (0: 2.5 × the fragment count)")
	f.String("level", qr.DefaultLevel.String(), "QR error correction: L, M, Q or H")
	f.Int("pixels-per-module", qr.DefaultPixelsPerModule, "pixels per QR module in PNG and GIF frames")

	d := qrDecodeCmd.Flags()
	d.String("out", "", "write the payload to this file (default: stdout, if not a terminal)")
	d.String("type", "", "accept only this UR type (default: any of "+strings.Join(qrTypes, ", ")+")")
	d.Bool("quiet", false, "no progress bar")

	qrCmd.AddCommand(qrEncodeCmd, qrDecodeCmd)
	rootCmd.AddCommand(qrCmd)
}

func qrIsTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// detectURType says which UR type data travels as, checking an explicit
// --type against the content: a bundle must carry the matching header, a
// PSBT its magic.
func detectURType(data []byte, want string) (string, error) {
	var found string
	if t, err := bundle.Sniff(data); err == nil {
		switch t {
		case bundle.TypeRequest:
			found = ur.TypeIceboxRequest
		case bundle.TypeResponse:
			found = ur.TypeIceboxResponse
		case bundle.TypeApproval:
			found = ur.TypeIceboxApproval
		}
	} else if bytes.HasPrefix(data, []byte("psbt\xff")) {
		found = ur.TypeCryptoPSBT
	}
	switch want {
	case typeAuto:
		if found == "" {
			return "", errors.New("--type auto: the file is neither an Icebox bundle nor a PSBT (magic \"psbt\\xff\"); give --type")
		}
		return found, nil
	case ur.TypePSBT, ur.TypeCryptoPSBT:
		if found != ur.TypeCryptoPSBT {
			return "", fmt.Errorf("--type %s: the file does not start with the PSBT magic \"psbt\\xff\"", want)
		}
		return want, nil
	case ur.TypeIceboxRequest, ur.TypeIceboxResponse, ur.TypeIceboxApproval:
		if found != want {
			return "", fmt.Errorf("--type %s: the file's header says %s", want, qrDescribeFound(found))
		}
		return want, nil
	}
	return "", fmt.Errorf("--type %q: want auto, %s", want, strings.Join(qrTypes, ", "))
}

func qrDescribeFound(found string) string {
	switch found {
	case "":
		return "it is neither an Icebox bundle nor a PSBT"
	case ur.TypeCryptoPSBT:
		return "it is a PSBT"
	}
	return "ur:" + found
}

func qrReadFile(path string, limit int) ([]byte, error) {
	data, err := files.ReadCapped(path, int64(limit))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	return data, nil
}

func runQREncode(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	typ, _ := f.GetString("type")
	pngDir, _ := f.GetString("png-dir")
	gifPath, _ := f.GetString("gif")
	toTerminal, _ := f.GetBool("terminal")
	asText, _ := f.GetBool("text")
	fragLen, _ := f.GetInt("fragment-len")
	fps, _ := f.GetInt("fps")
	nParts, _ := f.GetInt("parts")
	levelName, _ := f.GetString("level")
	ppm, _ := f.GetInt("pixels-per-module")

	level, err := qr.ParseLevel(levelName)
	if err != nil {
		return fmt.Errorf("--level: %w", err)
	}
	// 4296 alphanumeric characters fit a version-40 code at level L; a part
	// is two characters a byte plus about 80 of header.
	if fragLen < 10 || fragLen > 2000 {
		return fmt.Errorf("--fragment-len %d: want 10–2000 bytes (one QR code holds at most ~2,100 payload bytes as a UR)", fragLen)
	}
	if fps < 1 || fps > qr.MaxFPS {
		return fmt.Errorf("--fps %d: want 1–%d", fps, qr.MaxFPS)
	}
	if nParts < 0 {
		return fmt.Errorf("--parts %d: want 0 (automatic) or more", nParts)
	}
	opts := qr.Options{Level: level, PixelsPerModule: ppm}
	if pngDir == "" && gifPath == "" && !asText {
		toTerminal = true
	}

	data, err := qrReadFile(args[0], maxQRPayload)
	if err != nil {
		return fmt.Errorf("qr encode: %w", err)
	}
	urType, err := detectURType(data, typ)
	if err != nil {
		return fmt.Errorf("qr encode %s: %w", args[0], err)
	}
	enc, err := ur.NewEncoder(urType, ur.WrapBytes(data), ur.EncoderOptions{MaxFragmentLen: fragLen})
	if err != nil {
		return fmt.Errorf("qr encode: %w", err)
	}
	if nParts == 0 {
		nParts = (enc.SeqLen()*5 + 1) / 2
		if enc.IsSinglePart() {
			nParts = 1
		}
	}
	parts := enc.Parts(nParts)

	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "ur:%s: %d bytes in %d fragment(s) of %d bytes; %d part(s)\n",
		urType, len(data), enc.SeqLen(), enc.FragmentLen(), len(parts))

	if pngDir != "" || gifPath != "" {
		frames, err := qr.EncodeFrames(parts, opts)
		if err != nil {
			return fmt.Errorf("qr encode: %w", err)
		}
		if pngDir != "" {
			paths, err := qr.WritePNGs(pngDir, frames)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %d PNG frames to %s\n", len(paths), pngDir)
		}
		if gifPath != "" {
			if err := qr.WriteGIFFile(gifPath, frames, fps); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %s (%d frames at %d fps)\n", gifPath, len(frames), fps)
		}
	}
	out := cmd.OutOrStdout()
	if toTerminal && !qrIsTerminal(out) {
		fmt.Fprintln(stderr, "stdout is not a terminal: printing the UR parts as text")
		toTerminal, asText = false, true
	}
	if asText {
		w := bufio.NewWriter(out)
		for _, p := range parts {
			fmt.Fprintln(w, p)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if toTerminal {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		err := qr.AnimateTerminal(ctx, out, parts, level, fps, 0)
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

func runQRDecode(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	outPath, _ := f.GetString("out")
	only, _ := f.GetString("type")
	quiet, _ := f.GetBool("quiet")

	types := qrTypes
	if only != "" {
		if !qrContains(qrTypes, only) {
			return fmt.Errorf("--type %q: want one of %s", only, strings.Join(qrTypes, ", "))
		}
		types = []string{only}
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if outPath == "" && qrIsTerminal(stdout) {
		return errors.New("qr decode: refusing to write a binary payload to the terminal: give --out FILE or redirect stdout")
	}
	d, err := ur.NewDecoder(ur.DecoderOptions{Types: types})
	if err != nil {
		return err
	}
	p := newQRProgress(stderr, quiet || !qrIsTerminal(stderr))

	unreadable := 0
	if len(args) > 0 {
		for _, path := range args {
			if d.IsComplete() {
				break
			}
			text, err := qr.DecodeFile(path)
			if err != nil {
				if errors.Is(err, qr.ErrNoCode) || errors.Is(err, qr.ErrImage) {
					unreadable++
					p.warn("skipping: %v", err)
					continue
				}
				return fmt.Errorf("qr decode: %w", err)
			}
			if err := d.Receive(strings.TrimSpace(text)); err != nil {
				return fmt.Errorf("qr decode: image %s: %w", path, err)
			}
			p.update(d)
		}
	} else {
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 0, 64<<10), 2*fountain.DefaultMaxMessageLen+4096)
		line := 0
		for !d.IsComplete() && sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			if err := d.Receive(text); err != nil {
				return fmt.Errorf("qr decode: stdin line %d: %w", line, err)
			}
			p.update(d)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("qr decode: stdin line %d: %w", line+1, err)
		}
	}
	p.done()
	if !d.IsComplete() {
		msg := fmt.Sprintf("qr decode: incomplete: recovered %d of %d fragments from %d parts", d.Recovered(), d.Expected(), d.Received())
		if unreadable > 0 {
			msg += fmt.Sprintf(" (%d images unreadable)", unreadable)
		}
		if d.Expected() == 0 {
			msg = "qr decode: no UR parts received"
		}
		return errors.New(msg + "; scan more parts")
	}
	urType, cbor, err := d.Result()
	if err != nil {
		return fmt.Errorf("qr decode: %w", err)
	}
	payload, err := ur.UnwrapBytes(cbor)
	if err != nil {
		return fmt.Errorf("qr decode: ur:%s payload: %w", urType, err)
	}
	if want, err := detectURType(payload, urType); err != nil || want != urType {
		return fmt.Errorf("qr decode: ur:%s payload does not match its type: %v", urType, err)
	}
	if outPath == "" {
		_, err := stdout.Write(payload)
		return err
	}
	if err := files.WriteFileAtomic(outPath, payload, files.FileMode); err != nil {
		return fmt.Errorf("qr decode: --out: %w", err)
	}
	fmt.Fprintf(stderr, "ur:%s: wrote %d bytes to %s\n", urType, len(payload), outPath)
	return nil
}

func qrContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// qrProgress shows a progress bar on a terminal and nothing otherwise.
type qrProgress struct {
	w     io.Writer
	quiet bool
	bar   *progressbar.ProgressBar
}

func newQRProgress(w io.Writer, quiet bool) *qrProgress {
	return &qrProgress{w: w, quiet: quiet}
}

func (p *qrProgress) update(d *ur.Decoder) {
	if p.quiet || d.Expected() == 0 {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(d.Expected(),
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("ur:"+d.Type()+" fragments"),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set(d.Recovered())
}

func (p *qrProgress) warn(format string, args ...any) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, "warning: "+format+"\n", args...)
}

func (p *qrProgress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
