package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm"
)

// errConfig marks configuration problems (exit code 2).
var errConfig = errors.New("configuration error")

// Config is the whole iceboxd configuration, read once from --config with
// viper (UnmarshalExact: unknown keys are errors), validated, then passed
// down as values. There are no environment overrides: the only environment
// variable iceboxd reads is ICEBOX_HSM_PIN, the PIN itself, which is never
// in this file. Relative paths are relative to the config file's directory.
type Config struct {
	HSM                  HSMConfig      `mapstructure:"hsm"`
	Store                StoreConfig    `mapstructure:"store"`
	Networks             NetworksConfig `mapstructure:"networks"`
	InboxDir             string         `mapstructure:"inbox_dir"`
	OutboxDir            string         `mapstructure:"outbox_dir"`
	ArchiveDir           string         `mapstructure:"archive_dir"`
	ClockTolerance       time.Duration  `mapstructure:"clock_tolerance"`
	AuditCheckpointEvery int            `mapstructure:"audit_checkpoint_every"`
	// Multisig lists the P2WSH multisig wallets this signer cosigns (multisig.go).
	Multisig []MultisigConfig `mapstructure:"multisig"`

	// path is the config file it was read from.
	path string
}

// HSMConfig selects the PKCS#11 module and token. It never holds a PIN.
type HSMConfig struct {
	Module         string `mapstructure:"module"`
	TokenLabel     string `mapstructure:"token_label"`
	TokenSerial    string `mapstructure:"token_serial"`
	PINFile        string `mapstructure:"pin_file"`
	PINPrompt      bool   `mapstructure:"pin_prompt"`
	Sessions       int    `mapstructure:"sessions"`
	MaxPINFailures int    `mapstructure:"max_pin_failures"`
	// Backup is "none" (default: keys never leave the HSM) or
	// "wrap-with-trusted" (keys can be backed up, wrapped under a trusted key
	// split among officers: docs/ceremony.md). It applies to keys generated
	// after it is set; choose it before iceboxd init.
	Backup string `mapstructure:"backup"`
	// SOPINFile holds the security officer PIN for key ceremonies (else
	// $ICEBOX_HSM_SO_PIN, else a prompt when so_pin_prompt is true).
	SOPINFile   string `mapstructure:"so_pin_file"`
	SOPINPrompt bool   `mapstructure:"so_pin_prompt"`
}

// StoreConfig says where the signer keeps its state.
type StoreConfig struct {
	Dir string `mapstructure:"dir"`
}

// NetworksConfig names the network of each chain family, e.g.
// btc: btc-regtest, eth: eth-1337.
type NetworksConfig struct {
	BTC chain.Network `mapstructure:"btc"`
	ETH chain.Network `mapstructure:"eth"`
}

var configPath string

func init() {
	rootCmd.PersistentFlags().StringVar(&configPath, "config", "", "iceboxd configuration file (YAML; required)")
}

// loadConfig reads and validates --config. A missing file is fatal.
func loadConfig(*cobra.Command) (Config, error) {
	if configPath == "" {
		return Config{}, fmt.Errorf("%w: --config FILE is required (see configs/iceboxd.example.yaml)", errConfig)
	}
	return readConfig(configPath)
}

func readConfig(path string) (Config, error) {
	if _, err := os.Stat(path); err != nil {
		return Config{}, fmt.Errorf("%w: config file %s: %v", errConfig, path, err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return Config{}, fmt.Errorf("%w: read %s: %v", errConfig, path, err)
	}
	if err := refuseListeners(rawSettings(path, v), ""); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", errConfig, path, err)
	}
	var c Config
	// viper's default decode hooks turn "30s" into a time.Duration.
	if err := v.UnmarshalExact(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", errConfig, path, err)
	}
	c.path = path
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", errConfig, path, err)
	}
	c.resolvePaths(base)
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", errConfig, path, err)
	}
	return c, nil
}

func (c *Config) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.HSM.PINFile)
	abs(&c.HSM.SOPINFile)
	abs(&c.Store.Dir)
	abs(&c.InboxDir)
	abs(&c.OutboxDir)
	abs(&c.ArchiveDir)
	// hsm.module is left as written: a bare library name is the loader's business.
}

func (c *Config) validate() error {
	if c.HSM.Module == "" {
		return errors.New("hsm.module: required (path of the PKCS#11 library)")
	}
	if (c.HSM.TokenLabel == "") == (c.HSM.TokenSerial == "") {
		return errors.New("hsm: set exactly one of token_label and token_serial")
	}
	if _, err := hsm.ParseBackupMode(c.HSM.Backup); err != nil {
		return fmt.Errorf("hsm.backup: %w", err)
	}
	if c.HSM.Sessions < 0 || c.HSM.Sessions > 1024 {
		return fmt.Errorf("hsm.sessions: %d, want 0 (= number of CPUs) .. 1024", c.HSM.Sessions)
	}
	if c.HSM.MaxPINFailures < 0 || c.HSM.MaxPINFailures > 100 {
		return fmt.Errorf("hsm.max_pin_failures: %d, want 0 (= default) .. 100", c.HSM.MaxPINFailures)
	}
	if c.Store.Dir == "" {
		return errors.New("store.dir: required")
	}
	if c.Networks.BTC == "" && c.Networks.ETH == "" {
		return errors.New("networks: configure at least one of btc and eth")
	}
	if c.Networks.BTC != "" && c.Networks.BTC.Family() != chain.FamilyBTC {
		return fmt.Errorf("networks.btc: %q is not a Bitcoin network (btc-mainnet, btc-testnet, btc-regtest, btc-simnet, btc-signet)", c.Networks.BTC)
	}
	if c.Networks.BTC != "" {
		if _, err := registry.Address(make33(), c.Networks.BTC); err != nil {
			return fmt.Errorf("networks.btc: %w", err)
		}
	}
	if c.Networks.ETH != "" && c.Networks.ETH.Family() != chain.FamilyETH {
		return fmt.Errorf("networks.eth: %q is not an Ethereum network (eth-<chain id>)", c.Networks.ETH)
	}
	if c.Networks.ETH != "" {
		var id uint64
		if _, err := fmt.Sscanf(string(c.Networks.ETH), "eth-%d", &id); err != nil || id == 0 || chain.EthereumNetwork(id) != c.Networks.ETH {
			return fmt.Errorf("networks.eth: %q, want eth-<decimal chain id>", c.Networks.ETH)
		}
	}
	if c.ClockTolerance < 0 {
		return fmt.Errorf("clock_tolerance: %s is negative", c.ClockTolerance)
	}
	if c.AuditCheckpointEvery < 0 {
		return fmt.Errorf("audit_checkpoint_every: %d is negative", c.AuditCheckpointEvery)
	}
	if _, err := c.multisigWallets(); err != nil {
		return err
	}
	return nil
}

// network returns the configured network of a chain family.
func (c *Config) network(f chain.Family) (chain.Network, error) {
	switch f {
	case chain.FamilyBTC:
		if c.Networks.BTC != "" {
			return c.Networks.BTC, nil
		}
	case chain.FamilyETH:
		if c.Networks.ETH != "" {
			return c.Networks.ETH, nil
		}
	default:
		return "", fmt.Errorf("unknown chain %q (want btc or eth)", f)
	}
	return "", fmt.Errorf("%w: networks.%s is not configured", errConfig, f)
}

// make33 is a valid compressed public key (the secp256k1 generator) used to
// check that a network name is known.
func make33() []byte {
	return []byte{0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce, 0x87, 0x0b, 0x07,
		0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98}
}

// errListener: the configuration names a network listener or endpoint.
var errListener = errors.New("iceboxd opens no network listener or socket: it is an air-gapped signer and talks only through files (inbox_dir / outbox_dir)")

// rawSettings returns the config file as written (YAML or JSON), so that
// even an empty section such as "grpc: {}" is seen; viper drops those. A
// file yaml.v3 cannot read falls back to viper's view.
func rawSettings(path string, v *viper.Viper) map[string]any {
	data, err := os.ReadFile(path)
	if err == nil {
		var m map[string]any
		if yaml.Unmarshal(data, &m) == nil && m != nil {
			return m
		}
	}
	return v.AllSettings()
}

// listenerWords are key names that ask for a network endpoint. A key whose
// name is, starts or ends with one of them is refused, known key or not.
var listenerWords = []string{"listen", "listener", "bind", "addr", "address", "host", "port", "rpc",
	"http", "https", "grpc", "url", "endpoint", "server", "socket", "metrics", "prometheus", "pprof", "tcp", "udp"}

// refuseListeners walks the raw settings and refuses any key that names a
// network listener and any value that is a URL or a host:port. It runs
// before UnmarshalExact so that the operator reads why, not only "unknown
// key".
func refuseListeners(settings map[string]any, prefix string) error {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := prefix + k
		if listenerKey(k) {
			return fmt.Errorf("%s: %w", name, errListener)
		}
		if err := refuseListenerValue(name, settings[k]); err != nil {
			return err
		}
	}
	return nil
}

func refuseListenerValue(name string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		return refuseListeners(x, name+".")
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return refuseListeners(m, name+".")
	case []any:
		for i, e := range x {
			if err := refuseListenerValue(fmt.Sprintf("%s[%d]", name, i), e); err != nil {
				return err
			}
		}
	case string:
		if networkValue(x) {
			return fmt.Errorf("%s: %q is a network address: %w", name, x, errListener)
		}
	}
	return nil
}

func listenerKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range listenerWords {
		if k == w || strings.HasPrefix(k, w+"_") || strings.HasSuffix(k, "_"+w) {
			return true
		}
	}
	return false
}

// networkValue reports a URL ("scheme://...") or a host:port / :port.
func networkValue(s string) bool {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i > 0 {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, "/\\") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}
