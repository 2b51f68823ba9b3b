package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/manifest"
)

var manifestCmd = &cobra.Command{
	Use:   "manifest",
	Short: "Work with the signer's watch-only key manifest",
}

var manifestSigner string

var manifestVerifyCmd = &cobra.Command{
	Use:   "verify FILE --signer FINGERPRINT",
	Short: "Verify a manifest against the pinned signer fingerprint and print its addresses",
	Long: `verify checks that FILE is a canonical Icebox manifest signed by the identity
key with fingerprint FINGERPRINT (as printed by iceboxd init), re-derives every
address from its public key, and prints the addresses. Exit status is non-zero
when anything does not check out; nothing is printed as trusted then.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		if manifestSigner == "" {
			return errors.New("--signer FINGERPRINT is required (from iceboxd init)")
		}
		data, err := files.ReadCapped(args[0], manifest.MaxSize)
		if err != nil {
			return err
		}
		m, err := manifest.Verify(data, manifestSigner)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", args[0], err)
		}
		if err := manifest.CheckAddresses(m, registry.Address); err != nil {
			return fmt.Errorf("manifest %s: %w", args[0], err)
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "manifest OK: signed by %s on %s, %d keys\n",
			m.Signer.Fingerprint(), m.Created.Format("2006-01-02 15:04:05Z"), len(m.Entries))
		for _, e := range m.Entries {
			fmt.Fprintf(out, "%s  %s  %s\n", e.Label, e.Network, e.Address)
		}
		return nil
	},
}

func init() {
	manifestVerifyCmd.Flags().StringVar(&manifestSigner, "signer", "", "expected signer fingerprint (required)")
	manifestCmd.AddCommand(manifestVerifyCmd)
	rootCmd.AddCommand(manifestCmd)
}
