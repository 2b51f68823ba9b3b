package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/signer"
)

var (
	serveInterval  time.Duration
	serveStdinFlag bool
)

// errHSMUnavailable: the HSM failed while a bundle was being answered
// (token removed, session lost, device error). Nothing was output for that
// bundle; it stays in the inbox and is answered after the HSM is reopened.
var errHSMUnavailable = errors.New("HSM unavailable while answering a bundle")

// Reconnect back-off after an HSM failure while serving.
const (
	reconnectFirst = 500 * time.Millisecond
	reconnectMax   = 30 * time.Second
)

var serveCmd = &cobra.Command{
	Use:   "serve",
	Short: "Watch the inbox directory and answer every request bundle in the outbox",
	Long: `serve watches inbox_dir for request bundles (*.icebox files that are
complete: a file still being copied is never read), runs each through the
signing pipeline, writes the signed response to outbox_dir atomically and
moves the request to archive_dir. SIGTERM or SIGINT finishes or aborts the
bundle in progress — never leaving a partial output — and exits. iceboxd
opens no network socket.

Failures, and what serve does about them:
  - At start, a wrong or locked PIN, a missing token or module, or a store
    that cannot be opened: serve exits at once with the reason (exit status
    3 for the PIN, 4 for the device, 2 for configuration).
  - The HSM fails while a bundle is answered (token removed, session lost,
    device error): nothing is output for that bundle, its reservation is
    released, it stays in the inbox, and serve reopens the HSM with back-off
    (0.5 s doubling to 30 s), logging every attempt. When the token is back
    the bundle is answered. A wrong or locked PIN on reopening stops serve
    (retrying would burn PIN attempts). A bundle that fails in the HSM again
    right after a successful reopen gets its signed hsm-failure refusal.
  - The store cannot record a decision (disk full, read-only): nothing is
    output, the bundle stays in the inbox and serve exits with the reason;
    nothing is ever signed without its audit record.
  - A response file for the same request id but a different request (other
    digest) already in the outbox is kept: the new answer is written under
    <id>-<first 16 hex digits of its digest>.response.icebox.

Every response is also written as QR frames (outbox_dir/qr/<name>/frame-*.png)
and, on a terminal, animated once. With --stdin, serve reads requests as UR
parts, one per line (what "zbarcam --raw" prints), instead of the inbox; EOF
ends it.`,
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
		if serveStdinFlag {
			defer d.Close()
			slog.Info("serving UR parts from stdin", "outbox", cfg.OutboxDir)
			return serveStdin(ctx, cfg, d, os.Stdin, os.Stdout)
		}
		s := &server{cfg: cfg, d: d, open: openDaemon, retried: map[string]bool{}, pause: reconnectFirst}
		defer s.close()
		return s.run(ctx)
	},
}

// server is the serve loop's state.
type server struct {
	cfg  Config
	d    *daemon // nil while the HSM is being reopened
	in   *files.Inbox
	open func(context.Context, Config) (*daemon, error)
	// retried: inbox files that already failed once in the HSM and were
	// retried after a reopen.
	retried map[string]bool
	// pause is the wait before the next reopen after an HSM failure; it
	// doubles while failures repeat and is reset by an answered bundle.
	pause time.Duration
}

func (s *server) newInbox() {
	s.in = &files.Inbox{Dir: s.cfg.InboxDir, Archive: s.cfg.ArchiveDir, Interval: serveInterval,
		MaxBytes: int64(bundle.DefaultLimits().MaxRequestBytes)}
}

func (s *server) close() {
	if s.d != nil {
		s.d.Close()
		s.d = nil
	}
}

func (s *server) run(ctx context.Context) error {
	s.newInbox()
	slog.Info("serving", "inbox", s.cfg.InboxDir, "outbox", s.cfg.OutboxDir)
	for {
		if s.d == nil {
			if err := s.reopen(ctx); err != nil {
				return err
			}
			if ctx.Err() != nil {
				slog.Info("stopping: no bundle in progress")
				return nil
			}
		}
		it, err := s.in.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				slog.Info("stopping: no bundle in progress")
				return nil
			}
			return err
		}
		err = s.serveOne(ctx, it)
		switch {
		case err == nil:
			s.pause = reconnectFirst
		case errors.Is(err, signer.ErrInterrupted) || ctx.Err() != nil:
			slog.Info("stopping: the bundle in progress was aborted and stays in the inbox", "file", it.Name)
			return nil
		case errors.Is(err, errHSMUnavailable):
			slog.Error("HSM failure: nothing was output for this bundle; it stays in the inbox and is answered once the HSM is reopened",
				"file", it.Name, "retry_in", s.pause.String(), "err", err)
			s.close()
			s.newInbox() // forget the pending item so it is read again
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(s.pause):
			}
			s.pause = min(2*s.pause, reconnectMax)
		default:
			return err
		}
	}
}

// reopen opens the daemon again after an HSM failure, retrying with
// back-off while the token or device is missing. PIN problems, a rolled-back
// store and configuration errors end serve. It returns nil with s.d nil when
// ctx ends.
func (s *server) reopen(ctx context.Context) error {
	wait := reconnectFirst
	for attempt := 1; ; attempt++ {
		d, err := s.open(ctx, s.cfg)
		if err == nil {
			slog.Info("HSM reopened; serving again", "attempts", attempt)
			s.d = d
			return nil
		}
		if !hsmDeviceError(err) {
			return fmt.Errorf("reopen after an HSM failure: %w", err)
		}
		slog.Error("HSM still unavailable; retrying", "attempt", attempt, "retry_in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, reconnectMax)
	}
}

// hsmDeviceError reports an HSM problem that reopening the token may cure:
// the token or module went away or a session broke. PIN errors are not.
func hsmDeviceError(err error) bool {
	if errors.Is(err, hsm.ErrPINIncorrect) || errors.Is(err, hsm.ErrPINLocked) || errors.Is(err, hsm.ErrPINMissing) {
		return false
	}
	return errors.Is(err, hsm.ErrSessionFailed) || errors.Is(err, hsm.ErrTokenNotPresent) || errors.Is(err, hsm.ErrModuleLoad)
}

// hsmFailedWhileServing reports an HSM error in the middle of answering a
// bundle. Besides device errors this includes a key or object handle that
// went invalid (SoftHSM2 reports CKR_OBJECT_HANDLE_INVALID when its token
// files vanish): the bundle is held back and the HSM reopened. On reopening,
// a key that is really missing ends serve (see reopen).
func hsmFailedWhileServing(err error) bool {
	return hsmDeviceError(err) || errors.Is(err, hsm.ErrKeyNotFound)
}

// serveOne answers one inbox item. The governance in force is re-read for
// every bundle, so an installed change takes effect at its activation time.
func (s *server) serveOne(ctx context.Context, it files.Item) error {
	log := slog.With("file", it.Name)
	if it.Err != nil {
		log.Warn("inbox file unreadable", "err", it.Err)
	}
	p, err := s.d.pipeline(ctx, nil)
	if err != nil {
		if hsmFailedWhileServing(err) {
			return fmt.Errorf("%w: %w", errHSMUnavailable, err)
		}
		return err
	}
	var out signer.Outcome
	if it.Err == nil {
		out, err = p.Process(ctx, it.Data)
	} else {
		// Oversize or unreadable: refused at the decode stage with the
		// reason, so the requester learns why.
		out, err = p.RefuseUnreadable(ctx, it.Err)
	}
	if err != nil {
		if hsmFailedWhileServing(err) {
			return fmt.Errorf("%w: %s: %w", errHSMUnavailable, it.Name, err)
		}
		return err
	}
	r := out.Response
	if out.Refused() && r.Refusal.Code == signer.CodeHSM && !s.retried[it.Name] {
		// The reservation was released and the refusal is in the audit log,
		// but the HSM may only have been unplugged: hold the answer back,
		// reopen, and try once more before refusing.
		s.retried[it.Name] = true
		return fmt.Errorf("%w: request %q: %s", errHSMUnavailable, r.RequestID, r.Refusal.Reason)
	}
	path, err := writeServeResponse(s.cfg.OutboxDir, out, it)
	if err != nil {
		return fmt.Errorf("write response for %s: %w", it.Name, err)
	}
	if dir, err := showResponseQR(ctx, s.cfg.OutboxDir, path, out.Encoded, os.Stdout); err != nil {
		log.Warn("response written, but its QR frames could not be", "err", err)
	} else {
		log.Info("response QR frames written", "dir", dir)
	}
	if _, err := s.in.Done(it); err != nil {
		return fmt.Errorf("archive %s: %w", it.Name, err)
	}
	delete(s.retried, it.Name)
	if out.Refused() {
		log.Warn("refused", "request", r.RequestID, "stage", r.Refusal.Stage, "code", r.Refusal.Code, "response", path)
	} else {
		log.Info("signed", "request", r.RequestID, "transactions", len(r.Signed), "response", path)
	}
	return nil
}

// writeServeResponse writes the response under its request id, unless the
// outbox already holds the answer to a different request (other digest)
// with that id: that answer is kept and this one gets the digest in its
// name. Re-answering the same request (a crash before the input was
// archived, an identical re-submission) replaces the file with the same
// stored response, so every request has exactly one response file.
func writeServeResponse(dir string, out signer.Outcome, it files.Item) (string, error) {
	id := responseID(out, it)
	prev, err := files.ReadCapped(filepath.Join(dir, files.Name(id, bundle.TypeResponse)), int64(bundle.DefaultLimits().MaxResponseBytes))
	if err == nil {
		old, derr := bundle.DecodeResponse(prev, bundle.Limits{})
		if derr != nil || old.RequestDigest != out.Response.RequestDigest {
			id = id + "-" + out.Response.RequestDigest.String()[:16]
		}
	}
	return files.WriteResponse(dir, id, out.Encoded)
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
