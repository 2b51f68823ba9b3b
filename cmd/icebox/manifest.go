package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
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
		data, err := readManifestFile(args[0], manifest.MaxSize)
		if err != nil {
			return err
		}
		m, err := manifest.Verify(data, manifestSigner)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", args[0], err)
		}
		if err := manifest.CheckAddresses(m, deriveAddress); err != nil {
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

// readManifestFile reads at most limit bytes of path and fails when it is larger.
func readManifestFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, manifest.ErrTooLarge, limit)
	}
	return data, nil
}

// deriveAddress is the address derivation the manifest package leaves to
// its caller: BTC P2WPKH or EIP-55.
func deriveAddress(pub []byte, n chain.Network) (string, error) {
	switch n.Family() {
	case chain.FamilyBTC:
		return btc.P2WPKHAddress(pub, n)
	case chain.FamilyETH:
		return eth.Address(pub)
	default:
		return "", fmt.Errorf("unknown network %q", n)
	}
}

func init() {
	manifestVerifyCmd.Flags().StringVar(&manifestSigner, "signer", "", "expected signer fingerprint (required)")
	manifestCmd.AddCommand(manifestVerifyCmd)
	rootCmd.AddCommand(manifestCmd)
}
