package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/store"
	"github.com/icebox-custody/icebox/store/audit"
)

var rosterCmd = &cobra.Command{
	Use:   "roster",
	Short: "Install a roster change approved by the admin quorum",
}

var policyCmd = &cobra.Command{
	Use:   "policy",
	Short: "Install, show, explain and dry-run the withdrawal policy",
}

var rosterInstallCmd = &cobra.Command{
	Use:   "install CHANGE",
	Short: "Install a roster change bundle (the founding roster is signed by its own admins)",
	Long: `install verifies a roster change bundle (icebox admin propose/sign) and
records it in the store and the audit log. The first roster is the founding
roster: it must be signed by admin_quorum of the admins it names. Every later
roster must be signed by admin_quorum admins of the roster active now, name
that roster's hash as its previous hash, and respect its change_delay.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return installChange(cmd, args[0], quorum.ChangeRoster)
	},
}

var policyInstallCmd = &cobra.Command{
	Use:   "install CHANGE",
	Short: "Install a policy change bundle signed by the admin quorum of the active roster",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return installChange(cmd, args[0], quorum.ChangePolicy)
	},
}

// installChange verifies a change bundle against the active roster (or as
// the founding roster) and installs it.
func installChange(cmd *cobra.Command, path string, want quorum.ChangeKind) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	data, err := files.ReadCapped(path, quorum.MaxChangeSize)
	if err != nil {
		return fmt.Errorf("change bundle: %w", err)
	}
	cb, err := quorum.DecodeChange(data)
	if err != nil {
		return fmt.Errorf("change bundle %s: %w", path, err)
	}
	if cb.Proposal.Kind != want {
		return fmt.Errorf("change bundle %s: kind is %s, this command installs a %s", path, cb.Proposal.Kind, want)
	}
	ctx := context.Background()
	d, err := openDaemon(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	now := time.Now()
	var res quorum.ChangeResult
	cur, err := d.activeRoster(now)
	switch {
	case errors.Is(err, errNotInstalled) && want == quorum.ChangeRoster:
		_, res, err = quorum.VerifyFoundingRoster(cb.Proposal, cb.Signatures, now)
		if err != nil {
			return fmt.Errorf("founding roster: %w", err)
		}
	case err != nil:
		return err
	default:
		in := quorum.ChangeInput{Proposal: cb.Proposal, Signatures: cb.Signatures, Now: now}
		if want == quorum.ChangePolicy {
			if _, err := policy.Parse(path, cb.Proposal.Content); err != nil {
				return fmt.Errorf("proposed policy: %w", err)
			}
			if p, err := d.activePolicy(now); err == nil {
				in.ActivePolicy = p.Hash()
			} else if !errors.Is(err, errNotInstalled) {
				return err
			}
		}
		res, err = cur.VerifyChange(in)
		if err != nil {
			return explainChangeFailure(err, res)
		}
	}
	kind := audit.KindRosterInstalled
	if want == quorum.ChangePolicy {
		kind = audit.KindPolicyInstalled
	}
	rec, err := d.store.Install(store.InstallRequest{
		Kind:        kind,
		Content:     cb.Proposal.Content,
		ContentHash: store.Digest(res.ContentHash),
		ActivateAt:  res.ActivateAt,
		Record: store.Record{
			Decision:  "installed",
			Approvers: res.Counted,
			Reasons:   []string{fmt.Sprintf("%s %s approved by %s", want, res.ContentHash, strings.Join(res.Counted, ", "))},
			Detail:    "change digest " + res.Digest.String(),
		},
	})
	if err != nil {
		return err
	}
	if _, err := d.store.Checkpoint(ctx); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "installed %s %s\n  approved by: %s\n  active from: %s\n  audit record: %d\n",
		want, res.ContentHash, strings.Join(res.Counted, ", "), res.ActivateAt.UTC().Format(time.RFC3339), rec.Seq)
	return nil
}

func explainChangeFailure(err error, res quorum.ChangeResult) error {
	var b strings.Builder
	for _, r := range res.Rejected {
		b.WriteString("\n  ")
		b.WriteString(r.String())
	}
	if b.Len() == 0 {
		return err
	}
	return fmt.Errorf("%w; signatures that did not count:%s", err, b.String())
}

var policyShowCmd = &cobra.Command{
	Use:   "show",
	Short: "Print the active policy file and its hash",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return withGovernance(cmd, func(w io.Writer, d *daemon, g governance) error {
			in, _, pending, err := d.store.Active(audit.KindPolicyInstalled, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "# active policy %s (installed by audit record %d)\n# roster %s\n", g.policy.Policy().Hash(), in.Seq, g.roster.Hash())
			for _, p := range pending {
				fmt.Fprintf(w, "# pending policy %s activates at %s\n", p.ContentHash, p.ActivateAt.Format(time.RFC3339))
			}
			_, err = w.Write(in.Content)
			return err
		})
	},
}

var policyExplainCmd = &cobra.Command{
	Use:   "explain",
	Short: "Describe the active policy in plain language",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return withGovernance(cmd, func(w io.Writer, _ *daemon, g governance) error {
			fmt.Fprintf(w, "Policy %s\n\n%s", g.policy.Policy().Hash(), g.policy.Policy().Explain())
			return nil
		})
	},
}

var policyTestCmd = &cobra.Command{
	Use:   "test REQUEST.icebox",
	Short: "Dry run: which rule matches a request, every check, and which approvals are missing (signs nothing)",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		data, err := files.ReadCapped(args[0], int64(bundle.DefaultLimits().MaxRequestBytes))
		if err != nil {
			return err
		}
		return withGovernance(cmd, func(w io.Writer, d *daemon, g governance) error {
			req, err := bundle.DecodeRequest(data, bundle.Limits{})
			if err != nil {
				return fmt.Errorf("request: %w", err)
			}
			ads, own, err := d.adapters(context.Background())
			if err != nil {
				return err
			}
			now := time.Now()
			in := policy.Input{Kind: req.Kind, Requester: req.Requester, Now: now, Usage: d.store, OwnAddresses: own}
			for i, t := range req.Transactions {
				ad, ok := ads[chain.Network(t.Network)]
				if !ok {
					return fmt.Errorf("request.transactions[%d].network: %q is not served by this signer", i, t.Network)
				}
				tx, err := ad.Parse(t.Payload)
				if err != nil {
					return fmt.Errorf("request.transactions[%d]: %w", i, err)
				}
				in.Transactions = append(in.Transactions, tx.Summary())
			}
			dec, err := g.policy.Evaluate(in)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Dry run for request %q (nothing is signed or recorded)\n\n%s\n", req.ID, dec.Explain())
			if !dec.Allow {
				return nil
			}
			res, err := g.roster.Verify(quorum.VerifyInput{
				RequestDigest: bundle.RequestDigest(req), PolicyHash: g.policy.Policy().Hash(), RosterHash: g.roster.Hash(),
				Approvals: req.Approvals, Requirement: dec.Quorum, Requester: req.Requester, Now: now,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Approvals needed: %s\n%s", dec.Quorum.String(), res.Explain())
			return nil
		})
	},
}

// withGovernance opens the daemon and the active governance for read-only commands.
func withGovernance(cmd *cobra.Command, fn func(io.Writer, *daemon, governance) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	d, err := openDaemon(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	g, err := d.governance(time.Now())
	if err != nil {
		return err
	}
	return fn(cmd.OutOrStdout(), d, g)
}

func init() {
	rosterCmd.AddCommand(rosterInstallCmd)
	policyCmd.AddCommand(policyInstallCmd, policyShowCmd, policyExplainCmd, policyTestCmd)
	rootCmd.AddCommand(rosterCmd, policyCmd)
}
