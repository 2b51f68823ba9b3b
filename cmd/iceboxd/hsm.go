package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/icebox-custody/icebox/hsm/pkcs11"
)

// pinFailureFileName is Icebox's own failed-PIN counter, in the store dir.
const pinFailureFileName = "hsm-pin-failures.json"

// ensureStoreDir creates the store directory (0700) when missing.
func ensureStoreDir(c Config) error {
	if err := os.MkdirAll(c.Store.Dir, 0o700); err != nil {
		return fmt.Errorf("%w: store.dir %s: %v", errConfig, c.Store.Dir, err)
	}
	return nil
}

// openHSM opens the configured token. The caller must Close it.
func openHSM(c Config) (*pkcs11.HSM, error) {
	if err := ensureStoreDir(c); err != nil {
		return nil, err
	}
	return pkcs11.Open(pkcs11.Config{
		ModulePath:     c.HSM.Module,
		TokenLabel:     c.HSM.TokenLabel,
		TokenSerial:    c.HSM.TokenSerial,
		PINFile:        c.HSM.PINFile,
		PINPrompt:      c.HSM.PINPrompt,
		Sessions:       c.HSM.Sessions,
		MaxPINFailures: c.HSM.MaxPINFailures,
		SOPINFile:      c.HSM.SOPINFile,
		SOPINPrompt:    c.HSM.SOPINPrompt,
		Backup:         backupMode(c),
		PINFailureFile: filepath.Join(c.Store.Dir, pinFailureFileName),
		Logger:         slog.Default(),
	})
}
