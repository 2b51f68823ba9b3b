package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	goruntime "runtime"
	"time"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/signer"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
)

// storeFileName is the bbolt file inside store.dir.
const storeFileName = "icebox.db"

// errNotInstalled: no roster or policy has been installed yet.
var errNotInstalled = errors.New("not installed")

// daemon is everything iceboxd opens to sign: the HSM, the identity key,
// the store, and (once installed) the active roster and policy.
type daemon struct {
	cfg      Config
	hsm      *pkcs11.HSM
	identity sigkey.Signer
	store    *store.Store
	keys     []keyView
}

// openDaemon opens the HSM, requires the identity key (iceboxd init makes
// it), and opens the store with the HSM anchor. The caller must close it.
// A store older than the HSM anchor is refused with the *store.RollbackError
// (errors.Is store.ErrRolledBack); exitWith names the rollback commands.
func openDaemon(ctx context.Context, cfg Config) (*daemon, error) {
	d, rb, err := openDaemonMaybeQuarantined(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if rb != nil {
		d.Close()
		return nil, rb
	}
	return d, nil
}

// openDaemonMaybeQuarantined is openDaemon that also returns a store older
// than the HSM anchor, open but quarantined, with its *store.RollbackError:
// only the rollback commands use it, and they must never sign with it.
func openDaemonMaybeQuarantined(ctx context.Context, cfg Config) (_ *daemon, _ *store.RollbackError, err error) {
	h, err := openHSM(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	id, err := h.Identity(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("signer identity key: %w (run iceboxd init first)", err)
	}
	st, err := store.Open(filepath.Join(cfg.Store.Dir, storeFileName), store.Options{
		Clock:           time.Now,
		ClockTolerance:  cfg.ClockTolerance,
		CheckpointEvery: cfg.AuditCheckpointEvery,
		Identity:        id,
		Anchor:          h,
		Logger:          slog.Default(),
	})
	var rb *store.RollbackError
	if errors.As(err, &rb) && st != nil {
		return &daemon{cfg: cfg, hsm: h, identity: id, store: st}, rb, nil
	}
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, nil, err
	}
	return &daemon{cfg: cfg, hsm: h, identity: id, store: st}, nil, nil
}

func (d *daemon) Close() {
	if err := d.store.Close(); err != nil {
		slog.Error("close store", "err", err)
	}
	d.hsm.Close()
}

// governance is the active roster and policy.
type governance struct {
	roster *quorum.Roster
	policy *policy.Engine
}

// activeRoster returns the installed roster active now.
func (d *daemon) activeRoster(now time.Time) (*quorum.Roster, error) {
	in, ok, _, err := d.store.Active(audit.KindRosterInstalled, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no roster is active (iceboxd roster install CHANGE)", errNotInstalled)
	}
	r, err := quorum.ParseRoster("installed roster", in.Content)
	if err != nil {
		return nil, fmt.Errorf("installed roster (audit record %d): %w", in.Seq, err)
	}
	if r.Hash() != quorum.RosterHash(in.Content) || [32]byte(r.Hash()) != [32]byte(in.ContentHash) {
		return nil, fmt.Errorf("installed roster (audit record %d): hash mismatch", in.Seq)
	}
	return r, nil
}

// activePolicy returns the installed policy active now.
func (d *daemon) activePolicy(now time.Time) (*policy.Policy, error) {
	in, ok, _, err := d.store.Active(audit.KindPolicyInstalled, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no policy is active (iceboxd policy install CHANGE)", errNotInstalled)
	}
	p, err := policy.Parse("installed policy", in.Content)
	if err != nil {
		return nil, fmt.Errorf("installed policy (audit record %d): %w", in.Seq, err)
	}
	if [32]byte(p.Hash()) != [32]byte(in.ContentHash) {
		return nil, fmt.Errorf("installed policy (audit record %d): hash mismatch", in.Seq)
	}
	return p, nil
}

func (d *daemon) governance(now time.Time) (governance, error) {
	r, err := d.activeRoster(now)
	if err != nil {
		return governance{}, err
	}
	p, err := d.activePolicy(now)
	if err != nil {
		return governance{}, err
	}
	eng, err := policy.NewEngine(p)
	if err != nil {
		return governance{}, err
	}
	return governance{roster: r, policy: eng}, nil
}

// ownKeys lists the HSM signing keys with their addresses (cached).
func (d *daemon) ownKeys(ctx context.Context) ([]keyView, error) {
	if d.keys != nil {
		return d.keys, nil
	}
	ks, err := collectKeys(ctx, d.cfg, d.hsm)
	if err != nil {
		return nil, err
	}
	d.keys = ks
	return ks, nil
}

// adapters builds one adapter per configured network; each knows only the
// keys labelled for its chain family. The Bitcoin adapter also knows the
// configured multisig wallets (their addresses count as our own).
func (d *daemon) adapters(ctx context.Context) (map[chain.Network]chain.Adapter, []string, error) {
	keys, err := d.ownKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := map[chain.Network]chain.Adapter{}
	var own []string
	for _, n := range []chain.Network{d.cfg.Networks.BTC, d.cfg.Networks.ETH} {
		if n == "" {
			continue
		}
		var ks []chain.OwnKey
		for _, k := range keys {
			if k.Chain != n.Family() {
				continue
			}
			ok, err := k.ownKey()
			if err != nil {
				return nil, nil, err
			}
			ks = append(ks, ok)
			own = append(own, k.Address)
		}
		if n.Family() == chain.FamilyBTC && len(d.cfg.Multisig) > 0 {
			ms, addrs, err := d.cfg.multisigForKeys(n, ks)
			if err != nil {
				return nil, nil, err
			}
			ad, err := btc.NewAdapter(btc.Config{Network: n, Keys: ks, Multisig: ms})
			if err != nil {
				return nil, nil, fmt.Errorf("network %s: %w", n, err)
			}
			out[n] = ad
			own = append(own, addrs...)
			continue
		}
		ads, err := registry.Adapters([]chain.Network{n}, ks)
		if err != nil {
			return nil, nil, err
		}
		out[n] = ads[n]
	}
	return out, own, nil
}

// pipeline assembles the signing pipeline with the governance active now.
func (d *daemon) pipeline(ctx context.Context, progress chain.Progress) (*signer.Pipeline, error) {
	g, err := d.governance(time.Now())
	if err != nil {
		return nil, err
	}
	ads, own, err := d.adapters(ctx)
	if err != nil {
		return nil, err
	}
	workers := d.cfg.HSM.Sessions
	if workers <= 0 {
		workers = max(1, goruntime.NumCPU())
	}
	return signer.New(signer.Config{
		Adapters:     ads,
		Policy:       g.policy,
		Roster:       g.roster,
		Store:        d.store,
		HSM:          d.hsm,
		Identity:     d.identity,
		Clock:        time.Now,
		ClockSkew:    d.cfg.ClockTolerance,
		Workers:      workers,
		OwnAddresses: own,
		Progress:     progress,
		Logger:       slog.Default(),
	})
}

// ownKey turns a listed key back into the adapters' view of it.
func (k keyView) ownKey() (chain.OwnKey, error) {
	id, err := hex.DecodeString(k.KeyID)
	if err != nil {
		return chain.OwnKey{}, fmt.Errorf("key %s: id: %w", k.Label, err)
	}
	pub, err := hex.DecodeString(k.PublicKey)
	if err != nil {
		return chain.OwnKey{}, fmt.Errorf("key %s: public key: %w", k.Label, err)
	}
	return chain.OwnKey{Ref: hsm.KeyRef{Label: k.Label, ID: id}, PublicKey: pub}, nil
}
