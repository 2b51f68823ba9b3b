package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
)

var rollbackCmd = &cobra.Command{
	Use:   "rollback",
	Short: "Inspect and acknowledge a store that is older than the HSM audit anchor",
	Long: `Every audit checkpoint is also written to the HSM. When the store on disk
ends before that checkpoint (an old copy was restored) or differs from it,
iceboxd refuses to sign: records, spent outpoints and used nonces after the
copy was taken are missing from it. An admin quorum of the roster installed in
that store must acknowledge the exact store head and anchor before signing
resumes (icebox admin propose-rollback-ack, icebox admin sign).`,
}

var rollbackStatusCmd = &cobra.Command{
	Use:   "status",
	Short: "Compare the store with the HSM anchor; exit 6 while the store is quarantined",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		d, rb, err := openDaemonMaybeQuarantined(context.Background(), cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		w := cmd.OutOrStdout()
		if rb == nil {
			fmt.Fprintf(w, "store %s matches the HSM anchor: nothing to acknowledge; signing is allowed\n", d.store.Path())
			return nil
		}
		describeRollback(w, d, rb)
		return rb
	},
}

// describeRollback prints, in plain words, how the store compares with the
// anchor and what the admins must sign.
func describeRollback(w io.Writer, d *daemon, rb *store.RollbackError) {
	fmt.Fprintf(w, "store %s is QUARANTINED: signing is refused.\n", rb.Path)
	if rb.Diverged {
		fmt.Fprintf(w, "  The store's record %d differs from the record the HSM anchored: this store was replaced or altered.\n", rb.Anchor.Seq)
	} else {
		fmt.Fprintf(w, "  The store ends %d records before the newest checkpoint the HSM holds: an older copy was restored.\n", rb.Anchor.Seq-rb.StoreSeq)
		fmt.Fprintf(w, "  Whatever was signed after the copy was taken is unknown to this store (outpoints, nonces, velocity).\n")
	}
	fmt.Fprintf(w, "  store head:  record %d, hash %s\n", rb.StoreSeq, rb.StoreHead)
	fmt.Fprintf(w, "  HSM anchor:  record %d, hash %s, checkpointed %s\n", rb.Anchor.Seq, rb.Anchor.Head, audit.FormatTime(rb.Anchor.Time))
	r, err := restoredRoster(d, time.Now())
	if err != nil {
		fmt.Fprintf(w, "  roster:      none usable in this store (%v):\n  no admin quorum can acknowledge it; restore a newer copy of the store\n", err)
		return
	}
	var admins []string
	for _, m := range r.Members() {
		if m.HasRole(quorum.RoleAdmin) && !m.Revoked {
			admins = append(admins, m.ID)
		}
	}
	fmt.Fprintf(w, "  roster:      %s (installed in this store; admin quorum %d of %s)\n", r.Hash(), r.AdminQuorum, strings.Join(admins, ", "))
	fmt.Fprintf(w, "To continue from this store, %d admins acknowledge exactly this head and anchor:\n", r.AdminQuorum)
	fmt.Fprintf(w, "  icebox admin propose-rollback-ack --store-seq %d --store-head %s --anchor-seq %d --anchor-head %s --roster-hash %s --reason \"WHY\" -o rollback.ack\n",
		rb.StoreSeq, rb.StoreHead, rb.Anchor.Seq, rb.Anchor.Head, r.Hash())
	fmt.Fprintf(w, "  icebox admin sign rollback.ack --id ADMIN --key ADMIN.key      (each admin)\n")
	fmt.Fprintf(w, "  iceboxd rollback acknowledge rollback.ack\n")
}

// restoredRoster returns the roster active now in the quarantined store,
// after verifying the store's audit chain with the identity key and that
// the record installing that roster is covered by an identity-signed
// checkpoint in the store: records after the last checkpoint are only
// hash-chained, and anyone able to write the store file could have planted
// a roster there.
func restoredRoster(d *daemon, now time.Time) (*quorum.Roster, error) {
	rep, err := d.store.VerifyAudit()
	var rb *store.RollbackError
	if err != nil && !errors.As(err, &rb) {
		return nil, fmt.Errorf("the restored store's audit log does not verify: %w", err)
	}
	in, ok, _, err := d.store.Active(audit.KindRosterInstalled, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: the restored store has no active roster", errNotInstalled)
	}
	if in.Seq > rep.LastCheckpoint.Seq {
		return nil, fmt.Errorf("the restored store's roster was installed by audit record %d, after its last signed checkpoint (record %d): it is not covered by the signer's signature", in.Seq, rep.LastCheckpoint.Seq)
	}
	return d.activeRoster(now)
}

var rollbackAcknowledgeCmd = &cobra.Command{
	Use:   "acknowledge ACK",
	Short: "Verify an admin-quorum rollback acknowledgement and resume signing from this store",
	Long: `acknowledge verifies a rollback acknowledgement (a change bundle of kind
rollback-ack) against the roster installed in this store: it must name this
store's head and the HSM anchor exactly, be bound to that roster's hash, and
carry admin_quorum valid admin signatures. It then records the acknowledgement
in the audit log, checkpoints, and moves the HSM anchor to the new head.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		data, err := files.ReadCapped(args[0], quorum.MaxChangeSize)
		if err != nil {
			return fmt.Errorf("rollback acknowledgement: %w", err)
		}
		cb, err := quorum.DecodeChange(data)
		if err != nil {
			return fmt.Errorf("rollback acknowledgement %s: %w", args[0], err)
		}
		if cb.Proposal.Kind != quorum.ChangeRollbackAck {
			return fmt.Errorf("rollback acknowledgement %s: kind is %s, want rollback-ack", args[0], cb.Proposal.Kind)
		}
		d, rb, err := openDaemonMaybeQuarantined(context.Background(), cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		if rb == nil {
			return fmt.Errorf("store %s matches the HSM anchor: there is no rollback to acknowledge", d.store.Path())
		}
		now := time.Now()
		r, err := restoredRoster(d, now)
		if err != nil {
			return fmt.Errorf("roster of the restored store: %w; %w", err, rb)
		}
		ack, res, err := r.VerifyRollbackAck(quorum.RollbackAckInput{
			Proposal:   cb.Proposal,
			Signatures: cb.Signatures,
			Found: quorum.RollbackAck{
				StoreSeq: rb.StoreSeq, StoreHead: bundle.Digest(rb.StoreHead),
				AnchorSeq: rb.Anchor.Seq, AnchorHead: bundle.Digest(rb.Anchor.Head),
			},
			Now: now,
		})
		if err != nil {
			return fmt.Errorf("%w (still quarantined: %w)", explainChangeFailure(err, res), store.ErrRolledBack)
		}
		// The audit record keeps the whole signed bundle (hex) so that an
		// auditor can re-verify the admin signatures offline.
		detail := fmt.Sprintf("rollback-ack digest %s; roster %s; approved by %s; created %s; reason: %s; bundle %x",
			res.Digest, r.Hash(), strings.Join(res.Counted, ", "),
			audit.FormatTime(time.Unix(cb.Proposal.Created, 0)), ack.Reason, data)
		rec, err := d.store.AcknowledgeRollback([]byte(detail))
		if err != nil {
			if errors.Is(err, store.ErrRolledBack) {
				return err
			}
			return fmt.Errorf("acknowledge rollback: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "rollback acknowledged by %s\n  store continues from record %d (HSM anchor was at %d)\n  audit record: %d\n  signing is allowed again\n",
			strings.Join(res.Counted, ", "), rb.StoreSeq, rb.Anchor.Seq, rec.Seq)
		return nil
	},
}

func init() {
	rollbackCmd.AddCommand(rollbackStatusCmd, rollbackAcknowledgeCmd)
	rootCmd.AddCommand(rollbackCmd)
}
