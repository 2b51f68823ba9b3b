package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm/pkcs11"
	"github.com/icebox-custody/icebox/manifest"
	"github.com/icebox-custody/icebox/officer"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/wallet"
)

// addManifestFlags adds --manifest and --signer, the pinned watch-only
// manifest every command that decodes transactions or checks the signer needs.
func addManifestFlags(cmd *cobra.Command) {
	cmd.Flags().String("manifest", "", "the signer's signed watch-only manifest (required)")
	cmd.Flags().String("signer", "", "pinned signer fingerprint, as printed by iceboxd init (required)")
}

// loadManifest reads and verifies --manifest against --signer and re-derives
// every address.
func loadManifest(cmd *cobra.Command) (*manifest.Manifest, error) {
	path, _ := cmd.Flags().GetString("manifest")
	fp, _ := cmd.Flags().GetString("signer")
	if path == "" || fp == "" {
		return nil, errors.New("--manifest FILE and --signer FINGERPRINT are required: they say which keys are ours and which signer to trust")
	}
	data, err := files.ReadCapped(path, manifest.MaxSize)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Verify(data, fp)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if err := manifest.CheckAddresses(m, registry.Address); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// manifestAdapters builds adapters for every network named in the manifest.
func manifestAdapters(m *manifest.Manifest) (map[chain.Network]chain.Adapter, error) {
	var nets []chain.Network
	for _, e := range m.Entries {
		nets = append(nets, e.Network)
	}
	return registry.Adapters(nets, wallet.OwnKeys(m))
}

// addKeyFlags adds --key and --passphrase-file for a party's signing key.
func addKeyFlags(cmd *cobra.Command, what string) {
	cmd.Flags().String("key", "", what+" key: a key file (icebox officer keygen) or a PKCS#11 URI (pkcs11:token=...;object=...?module-path=...)")
	cmd.Flags().String("passphrase-file", "", "read the key passphrase from this file (else $"+officer.PassphraseEnv+" or a prompt)")
}

// loadKey opens --key: an encrypted key file with its passphrase, or a key
// on a PKCS#11 token (see openTokenKey). The caller must call the returned
// release function when done signing (it closes the token).
func loadKey(cmd *cobra.Command) (sigkey.Signer, func(), error) {
	path, _ := cmd.Flags().GetString("key")
	pfile, _ := cmd.Flags().GetString("passphrase-file")
	if path == "" {
		return nil, nil, errors.New("--key FILE or --key pkcs11:URI is required")
	}
	if pkcs11.IsURI(path) {
		k, err := openTokenKey(path)
		if err != nil {
			return nil, nil, err
		}
		return k, func() {
			if err := k.Close(); err != nil {
				slog.Warn("close officer token", "err", err)
			}
		}, nil
	}
	pass, err := officer.PassphraseSource{File: pfile, Prompt: terminalPrompt()}.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", path, err)
	}
	s, err := officer.Load(path, pass)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", path, err)
	}
	return s, func() {}, nil
}

// ModuleEnv names the default PKCS#11 module for officer key URIs that
// carry no module-path.
const ModuleEnv = "ICEBOX_PKCS11_MODULE"

// openTokenKey opens an officer key on a PKCS#11 token by URI. The PIN
// comes from the URI's pin-source file, else $ICEBOX_OFFICER_PIN, else the
// terminal. Failed logins are counted in the user's configuration directory
// (icebox/officer-pin-failures.json), which blocks guessing on tokens that
// never lock their PIN themselves.
func openTokenKey(raw string) (*pkcs11.OfficerKey, error) {
	u, err := pkcs11.ParseURI(raw)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	cfgDir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("officer key %s: PIN failure counter: %w", u, err)
	}
	dir := filepath.Join(cfgDir, "icebox")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("officer key %s: PIN failure counter: %w", u, err)
	}
	k, err := pkcs11.OpenOfficerKey(pkcs11.OfficerKeyConfig{
		URI:            u,
		ModulePath:     os.Getenv(ModuleEnv),
		PINFailureFile: filepath.Join(dir, "officer-pin-failures.json"),
		PINPrompt:      term.IsTerminal(int(os.Stdin.Fd())),
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// readBundleFile reads a bundle file, capped at the largest bundle size.
func readBundleFile(path string) ([]byte, error) {
	lim := bundle.DefaultLimits()
	return files.ReadCapped(path, int64(max(lim.MaxRequestBytes, lim.MaxResponseBytes)))
}

// readRequest reads and strictly decodes a request bundle.
func readRequest(path string) (*bundle.Request, error) {
	data, err := readBundleFile(path)
	if err != nil {
		return nil, err
	}
	r, err := bundle.DecodeRequest(data, bundle.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// writeBundle writes a request atomically.
func writeRequest(path string, r *bundle.Request) error {
	data, err := bundle.EncodeRequest(r)
	if err != nil {
		return err
	}
	return files.WriteFileAtomic(path, data, files.FileMode)
}
