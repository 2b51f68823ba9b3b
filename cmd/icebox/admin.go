package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
)

var adminCmd = &cobra.Command{
	Use:   "admin",
	Short: "Propose and sign policy and roster changes (installed by iceboxd with the admin quorum)",
}

var adminProposeCmd = &cobra.Command{
	Use:   "propose --kind policy|roster --file FILE [--previous FILE] [--activate-at RFC3339] -o CHANGE",
	Short: "Write an unsigned change bundle replacing the policy or roster with FILE",
	Long: `propose wraps the exact bytes of a new policy or roster file in a change
bundle. --previous names the file of the policy or roster it replaces (its
hash is bound into what admins sign); leave it out only for the founding
roster and the first policy. The content is parsed strictly first, so a typo
is caught before anyone signs.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		kindS, _ := cmd.Flags().GetString("kind")
		file, _ := cmd.Flags().GetString("file")
		prev, _ := cmd.Flags().GetString("previous")
		at, _ := cmd.Flags().GetString("activate-at")
		out, _ := cmd.Flags().GetString("out")
		if file == "" || out == "" {
			return errors.New("--file and -o are required")
		}
		kind, err := quorum.ParseChangeKind(kindS)
		if err != nil {
			return fmt.Errorf("--kind: %w", err)
		}
		if kind == quorum.ChangeRollbackAck {
			return errors.New("--kind: a rollback acknowledgement is written by icebox admin propose-rollback-ack")
		}
		content, err := files.ReadCapped(file, quorum.MaxChangeContent)
		if err != nil {
			return err
		}
		if err := checkContent(kind, file, content); err != nil {
			return err
		}
		p := quorum.ChangeProposal{Kind: kind, Content: content, Created: time.Now().Unix()}
		if prev != "" {
			pc, err := files.ReadCapped(prev, quorum.MaxChangeContent)
			if err != nil {
				return err
			}
			p.PreviousHash = quorum.ContentHash(kind, pc)
		}
		if at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--activate-at: %w", err)
			}
			p.ActivateAt = t.Unix()
		}
		data, err := quorum.EncodeChange(quorum.ChangeBundle{Proposal: p})
		if err != nil {
			return err
		}
		if err := files.WriteFileAtomic(out, data, files.FileMode); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s change to %s\n  change digest %s\n", out, kind, p.ContentHash(), p.Digest())
		return nil
	},
}

func checkContent(kind quorum.ChangeKind, file string, content []byte) error {
	switch kind {
	case quorum.ChangePolicy:
		if _, err := policy.Parse(file, content); err != nil {
			return err
		}
	case quorum.ChangeRoster:
		if _, err := quorum.ParseRoster(file, content); err != nil {
			return err
		}
	}
	return nil
}

var adminSignCmd = &cobra.Command{
	Use:   "sign CHANGE --id ADMIN --key KEYFILE [--yes]",
	Short: "Review a change bundle and add your admin signature",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		id, _ := cmd.Flags().GetString("id")
		yes, _ := cmd.Flags().GetBool("yes")
		if id == "" {
			return errors.New("--id ADMIN is required (your roster id)")
		}
		data, err := files.ReadCapped(args[0], quorum.MaxChangeSize)
		if err != nil {
			return err
		}
		cb, err := quorum.DecodeChange(data)
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if err := checkContent(cb.Proposal.Kind, args[0], cb.Proposal.Content); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		p := cb.Proposal
		if p.Kind == quorum.ChangeRollbackAck {
			fmt.Fprintf(w, "ROLLBACK ACKNOWLEDGEMENT: the signer continues from a store older than its HSM anchor;\n"+
				"whatever it signed after that store was copied is forgotten (spent outpoints, used nonces, velocity).\n"+
				"  under roster:  %s\n  created:       %s\n  change digest: %s\n",
				p.PreviousHash, time.Unix(p.Created, 0).UTC().Format(time.RFC3339), p.Digest())
		} else {
			fmt.Fprintf(w, "%s change\n  new hash:      %s\n  replaces:      %s\n  change digest: %s\n", p.Kind, p.ContentHash(), p.PreviousHash, p.Digest())
		}
		if p.ActivateAt != 0 {
			fmt.Fprintf(w, "  activates at:  %s\n", time.Unix(p.ActivateAt, 0).UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "----- proposed content -----\n%s\n----------------------------\n", p.Content)
		if !yes {
			if err := confirm(cmd, "Sign this change as "+id+"?"); err != nil {
				return err
			}
		}
		s, release, err := loadKey(cmd)
		if err != nil {
			return err
		}
		defer release()
		sig, err := quorum.SignChange(p, id, s)
		if err != nil {
			return err
		}
		cb.Signatures = replaceSig(cb.Signatures, sig)
		out, err := quorum.EncodeChange(cb)
		if err != nil {
			return err
		}
		if err := files.WriteFileAtomic(args[0], out, files.FileMode); err != nil {
			return err
		}
		fmt.Fprintf(w, "signed by %s; %d admin signatures on %s\n", id, len(cb.Signatures), args[0])
		return nil
	},
}

var adminProposeRollbackAckCmd = &cobra.Command{
	Use:   "propose-rollback-ack --store-seq N --store-head HASH --anchor-seq N --anchor-head HASH --roster-hash HASH --reason TEXT -o ACK",
	Short: "Write an unsigned acknowledgement that the signer continues from a store older than its HSM anchor",
	Long: `propose-rollback-ack writes an unsigned rollback acknowledgement (a change
bundle of kind rollback-ack) for the values that ` + "`iceboxd rollback status`" + ` prints:
the store head as found, the HSM anchor it contradicts and the hash of the
roster installed in that store, whose admins sign it with icebox admin sign.
It is valid for exactly that store head and anchor.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		f := cmd.Flags()
		out, _ := f.GetString("out")
		reason, _ := f.GetString("reason")
		if out == "" || reason == "" {
			return errors.New("-o and --reason are required")
		}
		var a quorum.RollbackAck
		var roster bundle.Digest
		var err error
		a.Reason = reason
		if a.StoreSeq, err = f.GetUint64("store-seq"); err != nil {
			return err
		}
		if a.AnchorSeq, err = f.GetUint64("anchor-seq"); err != nil {
			return err
		}
		for flag, dst := range map[string]*bundle.Digest{"store-head": &a.StoreHead, "anchor-head": &a.AnchorHead, "roster-hash": &roster} {
			v, _ := f.GetString(flag)
			if *dst, err = parseDigestFlag(flag, v); err != nil {
				return err
			}
		}
		p, err := quorum.NewRollbackAckProposal(a, roster, time.Now())
		if err != nil {
			return err
		}
		data, err := quorum.EncodeChange(quorum.ChangeBundle{Proposal: p})
		if err != nil {
			return err
		}
		if err := files.WriteFileAtomic(out, data, files.FileMode); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: rollback acknowledgement of store record %d against HSM anchor record %d\n  change digest %s\n",
			out, a.StoreSeq, a.AnchorSeq, p.Digest())
		return nil
	},
}

// parseDigestFlag parses 64 lower- or upper-case hex digits.
func parseDigestFlag(flag, v string) (bundle.Digest, error) {
	var d bundle.Digest
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("--%s: want 64 hex digits (as printed by iceboxd rollback status)", flag)
	}
	copy(d[:], b)
	return d, nil
}

func replaceSig(sigs []bundle.Signature, s bundle.Signature) []bundle.Signature {
	out := sigs[:0:0]
	for _, x := range sigs {
		if x.Signer != s.Signer {
			out = append(out, x)
		}
	}
	return append(out, s)
}

// confirm asks on the terminal; without one it refuses (use --yes).
func confirm(cmd *cobra.Command, question string) error {
	prompt := terminalPrompt()
	if prompt == nil {
		return errors.New("not confirmed: no terminal to ask on (re-run with --yes after reviewing)")
	}
	fmt.Fprintf(os.Stderr, "%s [type yes] ", question)
	var answer string
	if _, err := fmt.Fscanln(cmd.InOrStdin(), &answer); err != nil || answer != "yes" {
		return errors.New("not confirmed; nothing was signed")
	}
	return nil
}

func init() {
	f := adminProposeCmd.Flags()
	f.String("kind", "", "policy or roster")
	f.String("file", "", "the new policy or roster file")
	f.String("previous", "", "the policy or roster file being replaced")
	f.String("activate-at", "", "activation time (RFC 3339); default: when installed")
	f.StringP("out", "o", "", "change bundle to write")
	adminSignCmd.Flags().String("id", "", "your admin id in the roster")
	adminSignCmd.Flags().Bool("yes", false, "do not ask for confirmation (after reviewing the printed change)")
	addKeyFlags(adminSignCmd, "admin")
	rf := adminProposeRollbackAckCmd.Flags()
	rf.Uint64("store-seq", 0, "the store's last record (iceboxd rollback status)")
	rf.String("store-head", "", "the store's head hash")
	rf.Uint64("anchor-seq", 0, "the HSM anchor's record")
	rf.String("anchor-head", "", "the HSM anchor's head hash")
	rf.String("roster-hash", "", "hash of the roster installed in the restored store")
	rf.String("reason", "", "why the signer may continue from this store (one line)")
	rf.StringP("out", "o", "", "acknowledgement bundle to write")
	adminCmd.AddCommand(adminProposeCmd, adminSignCmd, adminProposeRollbackAckCmd)
	rootCmd.AddCommand(adminCmd)
}
