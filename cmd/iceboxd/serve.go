package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/signer"
)

var (
	serveInterval  time.Duration
	serveStdinFlag bool
)

var serveCmd = &cobra.Command{
	Use:   "serve",
	Short: "Watch the inbox directory and answer every request bundle in the outbox",
	Long: `serve watches inbox_dir for request bundles (*.icebox files that are
complete: a file still being copied is never read), runs each through the
signing pipeline, writes the signed response to outbox_dir atomically and
moves the request to archive_dir. SIGTERM or SIGINT finishes or aborts the
bundle in progress — never leaving a partial output — and exits. iceboxd
opens no network socket.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		if cfg.InboxDir == "" || cfg.OutboxDir == "" || cfg.ArchiveDir == "" {
			return fmt.Errorf("%w: serve needs inbox_dir, outbox_dir and archive_dir", errConfig)
		}
		for _, dir := range []string{cfg.InboxDir, cfg.OutboxDir, cfg.ArchiveDir} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("%w: %v", errConfig, err)
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		d, err := openDaemon(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		if serveStdinFlag {
			slog.Info("serving UR parts from stdin", "outbox", cfg.OutboxDir)
			return serveStdin(ctx, cfg, d, os.Stdin, os.Stdout)
		}
		in := &files.Inbox{Dir: cfg.InboxDir, Archive: cfg.ArchiveDir, Interval: serveInterval,
			MaxBytes: int64(bundle.DefaultLimits().MaxRequestBytes)}
		slog.Info("serving", "inbox", cfg.InboxDir, "outbox", cfg.OutboxDir)
		for {
			it, err := in.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					slog.Info("stopping: no bundle in progress")
					return nil
				}
				return err
			}
			if err := serveOne(ctx, cfg, d, in, it); err != nil {
				if errors.Is(err, signer.ErrInterrupted) || ctx.Err() != nil {
					slog.Info("stopping: the bundle in progress was aborted and stays in the inbox", "file", it.Name)
					return nil
				}
				return err
			}
		}
	},
}

// serveOne answers one inbox item. The governance in force is re-read for
// every bundle, so an installed change takes effect at its activation time.
func serveOne(ctx context.Context, cfg Config, d *daemon, in *files.Inbox, it files.Item) error {
	log := slog.With("file", it.Name)
	var data []byte
	if it.Err == nil {
		data = it.Data
	} else {
		// Oversize or unreadable: the pipeline refuses it at the decode stage
		// with the reason, so the requester learns why.
		log.Warn("inbox file unreadable", "err", it.Err)
		data = nil
	}
	p, err := d.pipeline(ctx, nil)
	if err != nil {
		return err
	}
	out, err := p.Process(ctx, data)
	if err != nil {
		return err
	}
	path, err := files.WriteResponse(cfg.OutboxDir, responseID(out, it), out.Encoded)
	if err != nil {
		return fmt.Errorf("write response for %s: %w", it.Name, err)
	}
	if dir, err := showResponseQR(ctx, cfg.OutboxDir, path, out.Encoded, os.Stdout); err != nil {
		log.Warn("response written, but its QR frames could not be", "err", err)
	} else {
		log.Info("response QR frames written", "dir", dir)
	}
	if _, err := in.Done(it); err != nil {
		return fmt.Errorf("archive %s: %w", it.Name, err)
	}
	r := out.Response
	if out.Refused() {
		log.Warn("refused", "request", r.RequestID, "stage", r.Refusal.Stage, "code", r.Refusal.Code, "response", path)
	} else {
		log.Info("signed", "request", r.RequestID, "transactions", len(r.Signed), "response", path)
	}
	return nil
}

func responseID(out signer.Outcome, it files.Item) string {
	if out.Response.RequestID != "" {
		return out.Response.RequestID
	}
	return "unreadable-" + it.Name
}

func init() {
	serveCmd.Flags().BoolVar(&serveStdinFlag, "stdin", false, "read requests as UR parts, one per line on stdin (e.g. from zbarcam --raw), instead of watching the inbox")
	serveCmd.Flags().DurationVar(&serveInterval, "poll", time.Second, "how often to look at the inbox")
	rootCmd.AddCommand(serveCmd)
}
