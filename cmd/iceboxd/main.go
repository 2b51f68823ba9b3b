// Command iceboxd is the offline signer. It keeps its signing keys in a
// PKCS#11 HSM, checks every request against policy and quorum, signs inside
// the HSM, records every decision in a hash-chained audit log, and never
// opens a network socket.
//
// Each feature lives in its own file and registers its cobra command in an
// init function with rootCmd.AddCommand. Configuration is read once, with
// viper, in config.go. Errors are turned into what the operator sees in one
// place: exitWith in errors.go.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:           "iceboxd",
	Short:         "Icebox offline signer: HSM keys, policy, quorum, audit log",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		os.Exit(exitWith(os.Stderr, err))
	}
}
