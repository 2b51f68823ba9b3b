package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
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
		content, err := readManifestFile(file, quorum.MaxChangeContent)
		if err != nil {
			return err
		}
		if err := checkContent(kind, file, content); err != nil {
			return err
		}
		p := quorum.ChangeProposal{Kind: kind, Content: content, Created: time.Now().Unix()}
		if prev != "" {
			pc, err := readManifestFile(prev, quorum.MaxChangeContent)
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
		if err := writeFile(out, data); err != nil {
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
		data, err := readManifestFile(args[0], quorum.MaxChangeSize)
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
		fmt.Fprintf(w, "%s change\n  new hash:      %s\n  replaces:      %s\n  change digest: %s\n", p.Kind, p.ContentHash(), p.PreviousHash, p.Digest())
		if p.ActivateAt != 0 {
			fmt.Fprintf(w, "  activates at:  %s\n", time.Unix(p.ActivateAt, 0).UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "----- proposed content -----\n%s\n----------------------------\n", p.Content)
		if !yes {
			if err := confirm(cmd, "Sign this change as "+id+"?"); err != nil {
				return err
			}
		}
		s, err := loadKey(cmd)
		if err != nil {
			return err
		}
		sig, err := quorum.SignChange(p, id, s)
		if err != nil {
			return err
		}
		cb.Signatures = replaceSig(cb.Signatures, sig)
		out, err := quorum.EncodeChange(cb)
		if err != nil {
			return err
		}
		if err := writeFile(args[0], out); err != nil {
			return err
		}
		fmt.Fprintf(w, "signed by %s; %d admin signatures on %s\n", id, len(cb.Signatures), args[0])
		return nil
	},
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
	adminCmd.AddCommand(adminProposeCmd, adminSignCmd)
	rootCmd.AddCommand(adminCmd)
}
