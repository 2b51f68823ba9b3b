package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/officer"
	"github.com/icebox-custody/icebox/sigkey"
)

var officerCmd = &cobra.Command{
	Use:   "officer",
	Short: "Custody officer keys",
}

var officerKeygenCmd = &cobra.Command{
	Use:   "keygen -o FILE",
	Short: "Create an Ed25519 officer key encrypted with a passphrase; print its roster line",
	Long: `Creates a new Ed25519 officer signing key and writes it to FILE (mode 0600,
never overwriting), encrypted with a passphrase (scrypt + XChaCha20-Poly1305).

The passphrase is read from --passphrase-file, else from the environment
variable ICEBOX_OFFICER_PASSPHRASE, else asked twice on the terminal.

Prints the public key in roster form (ed25519:<hex>) and its fingerprint:
give both to the admins who add you to the roster, and compare the
fingerprint with them out of band.`,
	Args: cobra.NoArgs,
	RunE: runOfficerKeygen,
}

var officerPubkeyCmd = &cobra.Command{
	Use:   "pubkey --key FILE|pkcs11:URI",
	Short: "Print an officer key's public key in roster form and its fingerprint",
	Long: `Prints the public key of --key in roster form (p256:<hex> or ed25519:<hex>)
and its fingerprint, for the admins who add the officer to the roster.

--key is a key file from "icebox officer keygen" (no passphrase needed) or a
PKCS#11 URI naming a key on a token, e.g. a YubiKey's PIV signature key:

  pkcs11:token=officer-alice;object=alice-approval?module-path=/usr/lib/softhsm/libsofthsm2.so

A token needs its user PIN: pin-source=file:/path in the URI (mode 0600), else
$ICEBOX_OFFICER_PIN, else a prompt. Without module-path, $ICEBOX_PKCS11_MODULE
names the module.`,
	Args: cobra.NoArgs,
	RunE: runOfficerPubkey,
}

func runOfficerPubkey(cmd *cobra.Command, _ []string) error {
	key, _ := cmd.Flags().GetString("key")
	if key == "" {
		return errors.New("officer pubkey: --key FILE or --key pkcs11:URI is required")
	}
	var pub sigkey.PublicKey
	if pkcs11.IsURI(key) {
		k, err := openTokenKey(key)
		if err != nil {
			return fmt.Errorf("officer pubkey: %w", err)
		}
		pub = k.Public()
		if err := k.Close(); err != nil {
			return fmt.Errorf("officer pubkey: close token: %w", err)
		}
	} else {
		data, err := files.ReadCapped(key, 1<<20)
		if err != nil {
			return fmt.Errorf("officer pubkey: %w", err)
		}
		if pub, err = officer.PublicKeyOf(data); err != nil {
			return fmt.Errorf("officer pubkey: key %s: %w", key, err)
		}
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "public key:  %s\n", pub)
	fmt.Fprintf(w, "fingerprint: %s\n", pub.Fingerprint())
	return nil
}

func init() {
	officerPubkeyCmd.Flags().String("key", "", "key file or PKCS#11 URI (required)")
	officerCmd.AddCommand(officerPubkeyCmd)
	officerKeygenCmd.Flags().StringP("out", "o", "", "file to create (required)")
	officerKeygenCmd.Flags().String("passphrase-file", "", "read the passphrase from this file (tests and demos)")
	_ = officerKeygenCmd.MarkFlagRequired("out")
	officerCmd.AddCommand(officerKeygenCmd)
	rootCmd.AddCommand(officerCmd)
}

// terminalPrompt reads a passphrase without echo, or nil when stdin is not a terminal.
func terminalPrompt() func(string) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func(label string) ([]byte, error) {
		fmt.Fprint(os.Stderr, label)
		defer fmt.Fprintln(os.Stderr)
		return term.ReadPassword(fd)
	}
}

func runOfficerKeygen(cmd *cobra.Command, _ []string) error {
	out, _ := cmd.Flags().GetString("out")
	pfile, _ := cmd.Flags().GetString("passphrase-file")
	if out == "" {
		return errors.New("officer keygen: -o FILE is required")
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("officer keygen: %s already exists; refusing to overwrite a key", out)
	}
	pass, err := officer.PassphraseSource{File: pfile, Prompt: terminalPrompt(), Confirm: true}.Read()
	if err != nil {
		return fmt.Errorf("officer keygen: %w", err)
	}
	data, pub, err := officer.Generate(pass, nil)
	if err != nil {
		return fmt.Errorf("officer keygen: %w", err)
	}
	if err := officer.WriteNew(out, data); err != nil {
		return fmt.Errorf("officer keygen: %w", err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "wrote %s\n", out)
	fmt.Fprintf(w, "public key:  %s\n", pub)
	fmt.Fprintf(w, "fingerprint: %s\n", pub.Fingerprint())
	return nil
}
