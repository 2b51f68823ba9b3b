package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11/internal/module"
)

// HSM is an open, logged-in token. It is safe for concurrent use. The zero
// value is not usable; get one from Open and Close it when done.
type HSM struct {
	cfg    Config
	log    *slog.Logger
	mod    *module.Module
	slot   uint
	serial string
	label  string

	// loginSession stays open for the life of the HSM so that the login
	// (which belongs to the application) survives pool sessions being
	// dropped.
	loginSession p11.SessionHandle
	pool         *pool

	keysMu sync.Mutex
	keys   map[string]*cachedKey

	anchorMu sync.Mutex
	idMu     sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

var (
	_ hsm.Signer           = (*HSM)(nil)
	_ hsm.UnverifiedSigner = (*HSM)(nil)
	_ hsm.KeyGenerator     = (*HSM)(nil)
	_ hsm.KeyLister        = (*HSM)(nil)
	_ hsm.IdentityKeeper   = (*HSM)(nil)
	_ hsm.AnchorStore      = (*HSM)(nil)
)

// Open loads the module, finds the token, logs in with the user PIN and
// returns a ready HSM. On failure nothing stays open and the error wraps one
// of hsm.ErrModuleLoad, hsm.ErrTokenNotPresent, hsm.ErrPINMissing,
// hsm.ErrPINIncorrect, hsm.ErrPINLocked (or a configuration error).
func Open(cfg Config) (_ *HSM, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mod, err := module.Acquire(cfg.ModulePath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hsm.ErrModuleLoad, err)
	}
	h := &HSM{cfg: cfg, log: cfg.Logger, mod: mod, keys: map[string]*cachedKey{}}
	defer func() {
		if err != nil {
			_ = mod.Release()
		}
	}()
	if err := h.findToken(); err != nil {
		return nil, err
	}
	if err := mod.ClaimToken(h.serial); err != nil {
		return nil, fmt.Errorf("open token %s: %w", cfg.tokenName(), err)
	}
	defer func() {
		if err != nil {
			mod.UnclaimToken(h.serial)
		}
	}()
	if err := h.login(); err != nil {
		return nil, err
	}
	h.pool = newPool(mod.Ctx, h.slot, cfg.Sessions)
	h.log.Info("hsm open", "module", mod.Path, "token", h.label, "serial", h.serial, "sessions", cfg.Sessions)
	return h, nil
}

// findToken selects the slot whose initialised token matches the label or serial.
func (h *HSM) findToken() error {
	ctx := h.mod.Ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return wrap("list slots of "+h.mod.Path, err)
	}
	var found []uint
	var infos []p11.TokenInfo
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		label := strings.TrimRight(ti.Label, " \x00")
		serial := strings.TrimRight(ti.SerialNumber, " \x00")
		if (h.cfg.TokenLabel != "" && label == h.cfg.TokenLabel) ||
			(h.cfg.TokenSerial != "" && serial == h.cfg.TokenSerial) {
			found = append(found, s)
			infos = append(infos, ti)
		}
	}
	switch len(found) {
	case 0:
		return fmt.Errorf("%w: no initialised token with %s in module %s", hsm.ErrTokenNotPresent, h.cfg.tokenName(), h.mod.Path)
	case 1:
	default:
		return fmt.Errorf("%w: %d tokens carry %s in module %s; select by serial", hsm.ErrAmbiguousToken, len(found), h.cfg.tokenName(), h.mod.Path)
	}
	h.slot = found[0]
	h.label = strings.TrimRight(infos[0].Label, " \x00")
	h.serial = strings.TrimRight(infos[0].SerialNumber, " \x00")
	if infos[0].Flags&p11.CKF_USER_PIN_LOCKED != 0 {
		return fmt.Errorf("%w: token %s reports the user PIN locked", hsm.ErrPINLocked, h.cfg.tokenName())
	}
	if infos[0].Flags&p11.CKF_USER_PIN_INITIALIZED == 0 {
		return fmt.Errorf("%w: token %s has no user PIN set", hsm.ErrTokenNotPresent, h.cfg.tokenName())
	}
	return nil
}

// login checks Icebox's failure counter, reads the PIN and logs in.
func (h *HSM) login() error {
	counter := newFailureCounter(h.cfg.PINFailureFile)
	n, err := counter.failures(h.serial)
	if err != nil {
		return err
	}
	if n >= h.cfg.MaxPINFailures {
		return fmt.Errorf("%w: %d consecutive wrong PINs for token %s (limit %d); see %s",
			hsm.ErrPINLocked, n, h.cfg.tokenName(), h.cfg.MaxPINFailures, h.cfg.PINFailureFile)
	}
	pin, err := readPIN(h.cfg)
	if err != nil {
		return err
	}
	ctx := h.mod.Ctx
	sh, err := ctx.OpenSession(h.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return wrap("open session on token "+h.cfg.tokenName(), err)
	}
	err = ctx.Login(sh, p11.CKU_USER, pin)
	if code, ok := ckrCode(err); ok && code == p11.CKR_USER_ALREADY_LOGGED_IN {
		// Cannot happen for a token claimed by this handle alone; refuse
		// rather than accept a login we did not check.
		_ = ctx.CloseSession(sh)
		return fmt.Errorf("login to token %s: already logged in by another user of the module: %w", h.cfg.tokenName(), err)
	}
	if err != nil {
		_ = ctx.CloseSession(sh)
		werr := wrap("login to token "+h.cfg.tokenName(), err)
		if errors.Is(werr, hsm.ErrPINIncorrect) {
			count, cerr := counter.record(h.serial, false)
			if cerr != nil {
				return errors.Join(werr, cerr)
			}
			h.log.Warn("hsm login failed: wrong PIN", "token", h.label, "failures", count, "limit", h.cfg.MaxPINFailures)
			if count >= h.cfg.MaxPINFailures {
				return fmt.Errorf("%w: wrong PIN %d times for token %s (limit %d); see %s",
					hsm.ErrPINLocked, count, h.cfg.tokenName(), h.cfg.MaxPINFailures, h.cfg.PINFailureFile)
			}
		}
		return werr
	}
	if _, err := counter.record(h.serial, true); err != nil {
		_ = ctx.Logout(sh)
		_ = ctx.CloseSession(sh)
		return err
	}
	h.loginSession = sh
	return nil
}

// Close logs out, closes every session and finalizes the module when this
// was its last user. It is safe to call more than once.
func (h *HSM) Close() error {
	h.closeOnce.Do(func() {
		ctx := h.mod.Ctx
		var errs []error
		h.pool.close()
		if err := ctx.Logout(h.loginSession); err != nil {
			if code, _ := ckrCode(err); code != p11.CKR_USER_NOT_LOGGED_IN {
				errs = append(errs, wrap("logout", err))
			}
		}
		if err := ctx.CloseSession(h.loginSession); err != nil {
			errs = append(errs, wrap("close session", err))
		}
		h.mod.UnclaimToken(h.serial)
		if err := h.mod.Release(); err != nil {
			errs = append(errs, err)
		}
		h.closeErr = errors.Join(errs...)
	})
	return h.closeErr
}

// TokenLabel returns the label of the open token.
func (h *HSM) TokenLabel() string { return h.label }

// TokenSerial returns the serial number of the open token.
func (h *HSM) TokenSerial() string { return h.serial }

// ModulePath returns the resolved path of the loaded module.
func (h *HSM) ModulePath() string { return h.mod.Path }

// withSession runs fn on a pooled session. A session that fails with a
// broken-session error is closed and dropped from the pool.
func (h *HSM) withSession(ctx context.Context, fn func(sh p11.SessionHandle) error) error {
	sh, err := h.pool.get(ctx)
	if err != nil {
		return err
	}
	err = fn(sh)
	h.pool.put(sh, sessionBroken(err))
	return err
}

// pool is a bounded set of sessions on one slot.
type pool struct {
	ctx  *p11.Ctx
	slot uint
	sem  chan struct{}

	mu     sync.Mutex
	idle   []p11.SessionHandle
	closed bool
}

func newPool(ctx *p11.Ctx, slot uint, size int) *pool {
	return &pool{ctx: ctx, slot: slot, sem: make(chan struct{}, size)}
}

// get borrows a session, opening one when none is idle; it blocks while all
// sessions are in use, until ctx is done.
func (p *pool) get(ctx context.Context) (p11.SessionHandle, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return 0, fmt.Errorf("%w: HSM is closed", hsm.ErrSessionFailed)
	}
	if n := len(p.idle); n > 0 {
		sh := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return sh, nil
	}
	p.mu.Unlock()
	sh, err := p.ctx.OpenSession(p.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		<-p.sem
		return 0, wrap("open session", err)
	}
	return sh, nil
}

// put returns a session; broken ones are closed instead.
func (p *pool) put(sh p11.SessionHandle, broken bool) {
	p.mu.Lock()
	if broken || p.closed {
		p.mu.Unlock()
		_ = p.ctx.CloseSession(sh)
	} else {
		p.idle = append(p.idle, sh)
		p.mu.Unlock()
	}
	<-p.sem
}

// close waits for borrowed sessions to come back and closes all of them.
func (p *pool) close() {
	for i := 0; i < cap(p.sem); i++ {
		p.sem <- struct{}{}
	}
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, sh := range idle {
		_ = p.ctx.CloseSession(sh)
	}
	for i := 0; i < cap(p.sem); i++ {
		<-p.sem
	}
}
