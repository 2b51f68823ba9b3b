package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle/files"
)

var auditCmd = &cobra.Command{
	Use:   "audit",
	Short: "Export or verify the hash-chained audit log",
}

var auditExportOut string

var auditExportCmd = &cobra.Command{
	Use:   "export -o FILE",
	Short: "Write the audit log as JSON Lines with its signed checkpoints (verify with: icebox audit verify)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		if auditExportOut == "" {
			return fmt.Errorf("%w: -o FILE is required", errConfig)
		}
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		ctx := context.Background()
		d, err := openDaemon(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		if _, err := d.store.Checkpoint(ctx); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := d.store.ExportAudit(&buf); err != nil {
			return err
		}
		data := buf.Bytes()
		if err := files.WriteFileAtomic(auditExportOut, data, files.FileMode); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "audit log exported to %s (%d bytes)\n", auditExportOut, len(data))
		return nil
	},
}

var auditVerifyCmd = &cobra.Command{
	Use:   "verify",
	Short: "Verify the live audit log: hash chain, checkpoints and the HSM anchor",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		d, err := openDaemon(context.Background(), cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		rep, err := d.store.VerifyAudit()
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), rep.String())
		return nil
	},
}

func init() {
	auditExportCmd.Flags().StringVarP(&auditExportOut, "out", "o", "", "export file")
	auditCmd.AddCommand(auditExportCmd, auditVerifyCmd)
	rootCmd.AddCommand(auditCmd)
}
