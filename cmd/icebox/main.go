// Command icebox is the online and officer side of Icebox: the hot wallet
// builds and signs requests and finalizes responses; custody officers inspect
// and approve requests; anyone verifies manifests and audit exports.
//
// Each feature lives in its own file and registers its cobra command in an
// init function with rootCmd.AddCommand. Errors travel up wrapped with %w and
// are turned into what the operator sees in one place: exitWith in errors.go.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:           "icebox",
	Short:         "Icebox online and officer CLI: requests, approvals, QR transport, verification",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		os.Exit(exitWith(os.Stderr, err))
	}
}
