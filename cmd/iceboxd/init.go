package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

var initCmd = &cobra.Command{
	Use:   "init",
	Short: "Check the HSM and store directory; create the signer identity key if absent",
	Long: `init opens the configured PKCS#11 token (logging in with the user PIN),
creates the store directory if needed, creates the signer identity key in the
HSM when it does not exist yet (Ed25519, or P-256 when the token has no EdDSA),
and prints the signer fingerprint. Give the fingerprint to the people who
verify manifests and responses (icebox manifest verify --signer ...).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		h, err := openHSM(cfg)
		if err != nil {
			return err
		}
		defer h.Close()
		id, created, err := h.EnsureIdentity(context.Background())
		if err != nil {
			return err
		}
		state := "existing"
		if created {
			state = "new"
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "token:              %s (serial %s)\n", h.TokenLabel(), h.TokenSerial())
		fmt.Fprintf(out, "store:              %s\n", cfg.Store.Dir)
		fmt.Fprintf(out, "identity key:       %s (%s)\n", id.Public().Algorithm, state)
		fmt.Fprintf(out, "signer public key:  %s\n", id.Public())
		fmt.Fprintf(out, "signer fingerprint: %s\n", id.Public().Fingerprint())
		return nil
	},
}

func init() { rootCmd.AddCommand(initCmd) }
