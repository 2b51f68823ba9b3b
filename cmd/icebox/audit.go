package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store/audit"
)

var auditCmd = &cobra.Command{
	Use:   "audit",
	Short: "Audit log tools",
}

var auditVerifyCmd = &cobra.Command{
	Use:   "verify FILE (--manifest MANIFEST [--signer FINGERPRINT] | --signer-key ALG:HEX | --signer FINGERPRINT)",
	Short: "Verify an exported audit log offline; exit 1 naming the first bad record",
	Long: `Verifies an audit export written by "iceboxd audit export": every record is
hash-chained to the one before it, every checkpoint is signed by the signer's
identity key and matches the chain, and the file is complete. Any edited,
deleted, inserted or reordered record, or a cut file, is reported with its
line and record number, and the exit status is 1.

The identity key to trust comes from one of:
  --manifest FILE      the signer's signed key manifest (pin it with --signer
                       FINGERPRINT, or compare the printed fingerprint by hand)
  --signer-key ALG:HEX the identity public key itself (ed25519:… or p256:…)
  --signer FINGERPRINT alone: the key named in the export, which must have
                       this fingerprint

Records after the last checkpoint are counted as "unanchored": they chain
correctly, but no signature covers them.`,
	Args: cobra.ExactArgs(1),
	RunE: runAuditVerify,
}

func init() {
	f := auditVerifyCmd.Flags()
	f.String("manifest", "", "signed key manifest of the signer (identity key source)")
	f.String("signer-key", "", "trusted identity public key, alg:hex")
	f.String("signer", "", "pinned identity fingerprint")
	auditVerifyCmd.MarkFlagsMutuallyExclusive("manifest", "signer-key")
	auditCmd.AddCommand(auditVerifyCmd)
	rootCmd.AddCommand(auditCmd)
}

// errAuditTrust: the command was not told which key to trust, or the key
// source is unusable.
var errAuditTrust = errors.New("audit verify: no trusted signer key")

// trustedAuditKey resolves the identity key from the flags. The export's
// own header is consulted only when --signer is used alone, and then only
// under the pinned fingerprint.
func trustedAuditKey(cmd *cobra.Command, exportPath string) (sigkey.PublicKey, string, error) {
	manifestPath, _ := cmd.Flags().GetString("manifest")
	keyText, _ := cmd.Flags().GetString("signer-key")
	fp, _ := cmd.Flags().GetString("signer")
	switch {
	case keyText != "":
		pub, err := sigkey.ParsePublicKey(keyText)
		if err != nil {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: --signer-key: %w", errAuditTrust, err)
		}
		if fp != "" && manifest.NormalizeFingerprint(fp) != manifest.NormalizeFingerprint(pub.Fingerprint()) {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: --signer-key has fingerprint %s, not %s", errAuditTrust, pub.Fingerprint(), fp)
		}
		return pub, "from --signer-key", nil
	case manifestPath != "":
		data, err := files.ReadCapped(manifestPath, manifest.MaxSize)
		if err != nil {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: --manifest: %w", errAuditTrust, err)
		}
		if fp != "" {
			m, err := manifest.Verify(data, fp)
			if err != nil {
				return sigkey.PublicKey{}, "", fmt.Errorf("%w: --manifest %s: %w", errAuditTrust, manifestPath, err)
			}
			return m.Signer, "from the manifest, pinned by --signer", nil
		}
		m, err := manifest.Parse(data)
		if err != nil {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: --manifest %s: %w", errAuditTrust, manifestPath, err)
		}
		d := m.Digest()
		if err := m.Signer.Verify(d[:], m.Signature); err != nil {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: --manifest %s: signature: %w", errAuditTrust, manifestPath, err)
		}
		return m.Signer, "from the manifest (not pinned: compare this fingerprint out of band, or pass --signer)", nil
	case fp != "":
		pub, err := exportHeaderKey(exportPath)
		if err != nil {
			return sigkey.PublicKey{}, "", err
		}
		if manifest.NormalizeFingerprint(pub.Fingerprint()) != manifest.NormalizeFingerprint(fp) {
			return sigkey.PublicKey{}, "", fmt.Errorf("%w: export %s is signed by %s, not the pinned %s", audit.ErrWrongSigner, exportPath, pub.Fingerprint(), fp)
		}
		return pub, "named in the export, pinned by --signer", nil
	default:
		return sigkey.PublicKey{}, "", fmt.Errorf("%w: pass --manifest, --signer-key or --signer", errAuditTrust)
	}
}

// exportHeaderKey reads the signer key from the export's header line only.
func exportHeaderKey(path string) (sigkey.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return sigkey.PublicKey{}, fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	return audit.ReadHeader(f)
}

func runAuditVerify(cmd *cobra.Command, args []string) error {
	path := args[0]
	pub, source, err := trustedAuditKey(cmd, path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer f.Close()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "trusted signer %s (%s)\n", pub.Fingerprint(), source)
	rep, err := audit.Verify(f, pub)
	if err != nil {
		return fmt.Errorf("audit verify %s: FAILED: %w", path, err)
	}
	fmt.Fprintln(out, rep.String())
	return nil
}
