package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/manifest"
)

// Key labels carry the chain family: "<chain>-<prefix>-<NNNN>", e.g.
// "btc-key-0001". The family is stored with the key, on the token, so that
// keys list and the manifest know which address to derive; the network
// comes from the configuration.
var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.]{0,31}$`)

func keyFamily(label string) (chain.Family, bool) {
	fam, _, ok := strings.Cut(label, "-")
	switch chain.Family(fam) {
	case chain.FamilyBTC, chain.FamilyETH:
		return chain.Family(fam), ok
	}
	return "", false
}

var keysCmd = &cobra.Command{
	Use:   "keys",
	Short: "Generate and list the HSM signing keys; export the signed watch-only manifest",
}

var (
	genChain  string
	genCount  int
	genPrefix string
)

var keysGenerateCmd = &cobra.Command{
	Use:   "generate --chain btc|eth [--count N] [--label PREFIX]",
	Short: "Generate secp256k1 keys inside the HSM and print their addresses",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		fam := chain.Family(genChain)
		network, err := cfg.network(fam)
		if err != nil {
			return fmt.Errorf("--chain: %w", err)
		}
		if genCount < 1 || genCount > 1000 {
			return fmt.Errorf("--count: %d, want 1..1000", genCount)
		}
		if !prefixRE.MatchString(genPrefix) {
			return fmt.Errorf("--label: %q, want 1-32 of a-z 0-9 _ . (starting with a letter or digit)", genPrefix)
		}
		h, err := openHSM(cfg)
		if err != nil {
			return err
		}
		defer h.Close()
		ctx := context.Background()
		existing, err := h.ListKeys(ctx)
		if err != nil {
			return err
		}
		base := string(fam) + "-" + genPrefix + "-"
		next := 1
		for _, k := range existing {
			if n, err := strconv.Atoi(strings.TrimPrefix(k.Ref.Label, base)); err == nil && strings.HasPrefix(k.Ref.Label, base) && n >= next {
				next = n + 1
			}
		}
		out := cmd.OutOrStdout()
		for i := 0; i < genCount; i++ {
			label := fmt.Sprintf("%s%04d", base, next+i)
			info, err := h.GenerateKey(ctx, hsm.GenerateKeyRequest{Label: label})
			if err != nil {
				return err
			}
			addr, err := registry.Address(info.PublicKey, network)
			if err != nil {
				return fmt.Errorf("key %s: %w", info.Ref, err)
			}
			fmt.Fprintf(out, "%s  %s  %s\n", label, network, addr)
		}
		return nil
	},
}

var listJSON bool

// keyView is one line of keys list (and its --json form).
type keyView struct {
	Label     string        `json:"label"`
	KeyID     string        `json:"key_id"`
	PublicKey string        `json:"public_key"`
	Chain     chain.Family  `json:"chain"`
	Network   chain.Network `json:"network"`
	Address   string        `json:"address"`
}

func collectKeys(ctx context.Context, cfg Config, h hsm.KeyLister) ([]keyView, error) {
	keys, err := h.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []keyView
	for _, k := range keys {
		fam, ok := keyFamily(k.Ref.Label)
		if !ok {
			slog.Warn("key label does not name a chain (btc-... or eth-...); skipped", "key", k.Ref.String())
			continue
		}
		network, err := cfg.network(fam)
		if err != nil {
			slog.Warn("no network configured for key; skipped", "key", k.Ref.String(), "chain", fam)
			continue
		}
		addr, err := registry.Address(k.PublicKey, network)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.Ref, err)
		}
		out = append(out, keyView{
			Label: k.Ref.Label, KeyID: k.Ref.IDHex(), PublicKey: hex.EncodeToString(k.PublicKey),
			Chain: fam, Network: network, Address: addr,
		})
	}
	return out, nil
}

var keysListCmd = &cobra.Command{
	Use:   "list [--json]",
	Short: "List the signing keys in the HSM with their addresses",
	Args:  cobra.NoArgs,
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
		keys, err := collectKeys(context.Background(), cfg, h)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if listJSON {
			if keys == nil {
				keys = []keyView{}
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(keys)
		}
		for _, k := range keys {
			fmt.Fprintf(out, "%s  %s  %s  %s\n", k.Label, k.KeyID, k.Network, k.Address)
		}
		return nil
	},
}

var manifestOut string

var keysManifestCmd = &cobra.Command{
	Use:   "manifest -o FILE",
	Short: "Write the watch-only manifest of all keys, signed by the identity key",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		if manifestOut == "" {
			return errors.New("-o FILE is required")
		}
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		h, err := openHSM(cfg)
		if err != nil {
			return err
		}
		defer h.Close()
		ctx := context.Background()
		id, err := h.Identity(ctx)
		if errors.Is(err, hsm.ErrKeyNotFound) {
			return fmt.Errorf("no identity key on the token: run iceboxd init first: %w", err)
		}
		if err != nil {
			return err
		}
		keys, err := collectKeys(ctx, cfg, h)
		if err != nil {
			return err
		}
		m := &manifest.Manifest{Signer: id.Public(), Created: time.Now().UTC()}
		for _, k := range keys {
			idb, _ := hex.DecodeString(k.KeyID)
			pub, _ := hex.DecodeString(k.PublicKey)
			m.Entries = append(m.Entries, manifest.Entry{
				Label: k.Label, KeyID: idb, PublicKey: pub, Chain: k.Chain, Network: k.Network, Address: k.Address,
			})
		}
		data, err := manifest.Sign(m, id)
		if err != nil {
			return err
		}
		if err := files.WriteFileAtomic(manifestOut, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d keys, signer fingerprint %s\n", manifestOut, len(m.Entries), id.Public().Fingerprint())
		return nil
	},
}

func init() {
	keysGenerateCmd.Flags().StringVar(&genChain, "chain", "", "btc or eth (required)")
	keysGenerateCmd.Flags().IntVar(&genCount, "count", 1, "how many keys to generate (1..1000)")
	keysGenerateCmd.Flags().StringVar(&genPrefix, "label", "key", "label prefix; keys are labelled <chain>-<prefix>-<NNNN>")
	_ = keysGenerateCmd.MarkFlagRequired("chain")
	keysListCmd.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	keysManifestCmd.Flags().StringVarP(&manifestOut, "output", "o", "", "manifest file to write (required)")
	keysCmd.AddCommand(keysGenerateCmd, keysListCmd, keysManifestCmd)
	rootCmd.AddCommand(keysCmd)
}
