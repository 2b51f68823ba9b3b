package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/signer"
)

// errRefused: the signer refused the request (a signed refusal was written).
var errRefused = errors.New("request refused")

var signOut string

var signCmd = &cobra.Command{
	Use:   "sign REQUEST.icebox [-o RESPONSE.icebox]",
	Short: "Check one request bundle against policy and quorum, sign it in the HSM, write the signed response",
	Long: `sign runs one request bundle through the whole pipeline: decode, requester
signature, every transaction decoded, policy, officer quorum, durable
reservation, HSM signing, self-verification, audit log. It writes exactly one
signed response: the signed transactions, or a signed refusal naming the stage
and the reason (exit status 5). When the decision cannot be recorded in the
audit log nothing is written at all.

The response goes to -o, else to outbox_dir, else next to the request.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// At most one byte over the cap is read: an oversize request is
		// refused by the pipeline's decoder (a signed refusal naming the
		// size), never read whole and never left unanswered.
		data, err := readPrefix(args[0], int64(bundle.DefaultLimits().MaxRequestBytes)+1)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		d, err := openDaemon(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		bar := newProgress(cmd.ErrOrStderr(), "signing")
		p, err := d.pipeline(ctx, bar.update)
		if err != nil {
			return err
		}
		out, err := p.Process(ctx, data)
		bar.finish()
		if err != nil {
			return err
		}
		path, err := writeOutcome(cfg, args[0], signOut, out)
		if err != nil {
			return err
		}
		return report(cmd.OutOrStdout(), out, path)
	},
}

// readPrefix reads at most limit bytes of path.
func readPrefix(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// writeOutcome writes the response atomically: to explicit, else the
// outbox, else next to the request.
func writeOutcome(cfg Config, requestPath, explicit string, out signer.Outcome) (string, error) {
	id := out.Response.RequestID
	if id == "" {
		id = strings.TrimSuffix(filepath.Base(requestPath), filepath.Ext(requestPath))
	}
	switch {
	case explicit != "":
		if err := files.WriteFileAtomic(explicit, out.Encoded, files.FileMode); err != nil {
			return "", fmt.Errorf("write response: %w", err)
		}
		return explicit, nil
	case cfg.OutboxDir != "":
		return files.WriteResponse(cfg.OutboxDir, id, out.Encoded)
	default:
		return files.WriteResponse(filepath.Dir(requestPath), id, out.Encoded)
	}
}

// report prints what happened and turns a refusal into errRefused.
func report(w io.Writer, out signer.Outcome, path string) error {
	r := out.Response
	if out.Refused() {
		fmt.Fprintf(w, "REFUSED  request %q at stage %s (%s)\n  %s\n  audit record %d; signed refusal written to %s\n",
			r.RequestID, r.Refusal.Stage, r.Refusal.Code, r.Refusal.Reason, r.AuditSeq, path)
		return fmt.Errorf("%w at stage %s: %s", errRefused, r.Refusal.Stage, r.Refusal.Code)
	}
	again := ""
	if out.Replayed {
		again = " (identical request seen before: stored response returned)"
	}
	fmt.Fprintf(w, "SIGNED   request %q: %d transactions%s\n  audit record %d; response written to %s\n",
		r.RequestID, len(r.Signed), again, r.AuditSeq, path)
	return nil
}

// progress draws a bar on a terminal and stays quiet otherwise.
type progress struct {
	bar *progressbar.ProgressBar
	w   io.Writer
	msg string
}

func newProgress(w io.Writer, msg string) *progress {
	p := &progress{msg: msg}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.w = w
	}
	return p
}

func (p *progress) update(done, total int) {
	if p == nil || p.w == nil {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.msg), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set(done)
}

func (p *progress) finish() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
	}
}

func init() {
	signCmd.Flags().StringVarP(&signOut, "out", "o", "", "where to write the response bundle")
	rootCmd.AddCommand(signCmd)
}
