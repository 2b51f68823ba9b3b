package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/policy"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/review"
)

var inspectCmd = &cobra.Command{
	Use:   "inspect FILE [--manifest MANIFEST --signer FINGERPRINT] [--json]",
	Short: "Show any bundle for a person; with the manifest, decode every transaction of a request",
	Long: `inspect prints a request, approval or response bundle. Given the signer's
manifest (pinned by --signer), every transaction of a request is decoded here,
from its bytes — never from what the request claims — into a review table:
network, from, to, asset, amount, fee, change, totals per asset, and the
request digest as hex and as words to read aloud. For a response, the signer's
signature is checked against the manifest's identity key.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		asJSON, _ := cmd.Flags().GetBool("json")
		data, err := readBundleFile(args[0])
		if err != nil {
			return err
		}
		b, err := bundle.Decode(data, bundle.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		w := cmd.OutOrStdout()
		mpath, _ := cmd.Flags().GetString("manifest")
		switch v := b.(type) {
		case *bundle.Request:
			if mpath == "" {
				if asJSON {
					return errors.New("--json needs --manifest and --signer to decode the transactions")
				}
				if err := bundle.Describe(w, v); err != nil {
					return err
				}
				fmt.Fprintln(w, "\n(transactions not decoded: give --manifest and --signer to see what they do)")
				return nil
			}
			rv, err := buildReview(cmd, v)
			if err != nil {
				return err
			}
			return showReview(w, rv, asJSON)
		case *bundle.Response:
			if mpath != "" {
				m, err := loadManifest(cmd)
				if err != nil {
					return err
				}
				if err := bundle.VerifyResponse(v, m.Signer); err != nil {
					return fmt.Errorf("response signature: %w", err)
				}
				fmt.Fprintf(w, "response signature OK (signer %s)\n", m.Signer.Fingerprint())
			}
			return bundle.Describe(w, v)
		default:
			return bundle.Describe(w, b)
		}
	},
}

func buildReview(cmd *cobra.Command, r *bundle.Request) (*review.Review, error) {
	m, err := loadManifest(cmd)
	if err != nil {
		return nil, err
	}
	ads, err := manifestAdapters(m)
	if err != nil {
		return nil, err
	}
	return review.Build(r, ads)
}

func showReview(w io.Writer, rv *review.Review, asJSON bool) error {
	if asJSON {
		b, err := rv.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return rv.Render(w)
}

var approveCmd = &cobra.Command{
	Use:   "approve REQUEST.icebox --id OFFICER --key KEYFILE --policy POLICY --roster ROSTER --manifest M --signer FP [--yes]",
	Short: "Review a request (decoded from its transactions) and add your approval",
	Long: `approve shows the review table of every transaction (as inspect does),
checks the requester's signature against the roster, asks for confirmation,
then adds your signature over the request digest, the policy and roster
hashes and an expiry. The approval counts only for exactly this request under
exactly this policy and roster.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		id, _ := cmd.Flags().GetString("id")
		yes, _ := cmd.Flags().GetBool("yes")
		ttl, _ := cmd.Flags().GetDuration("ttl")
		pfile, _ := cmd.Flags().GetString("policy")
		rfile, _ := cmd.Flags().GetString("roster")
		out, _ := cmd.Flags().GetString("out")
		if id == "" || pfile == "" || rfile == "" {
			return errors.New("--id, --policy and --roster are required")
		}
		req, err := readRequest(args[0])
		if err != nil {
			return err
		}
		pdata, err := files.ReadCapped(pfile, quorum.MaxChangeContent)
		if err != nil {
			return err
		}
		pol, err := policy.Parse(pfile, pdata)
		if err != nil {
			return err
		}
		rdata, err := files.ReadCapped(rfile, quorum.MaxChangeContent)
		if err != nil {
			return err
		}
		roster, err := quorum.ParseRoster(rfile, rdata)
		if err != nil {
			return err
		}
		digest := bundle.RequestDigest(req)
		if err := roster.VerifyRequester(digest, req.RequesterSig, time.Now()); err != nil || req.RequesterSig.Signer != req.Requester {
			return fmt.Errorf("requester signature: %v — do not approve", err)
		}
		rv, err := buildReview(cmd, req)
		if err != nil {
			return fmt.Errorf("cannot show what this request does, so it cannot be approved: %w", err)
		}
		w := cmd.OutOrStdout()
		if err := rv.Render(w); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nRequester signature OK (%s). Policy %s, roster %s.\n", req.Requester, pol.Hash(), roster.Hash())
		if !yes {
			if err := confirm(cmd, "Approve exactly this request as "+id+"?"); err != nil {
				return err
			}
		}
		s, release, err := loadKey(cmd)
		if err != nil {
			return err
		}
		defer release()
		ap, err := bundle.SignApproval(bundle.ApprovalInput{RequestDigest: digest, Officer: id,
			Expires: time.Now().Add(ttl).Unix(), PolicyHash: pol.Hash(), RosterHash: roster.Hash()}, s)
		if err != nil {
			return err
		}
		if err := bundle.AddApproval(req, ap); err != nil {
			return err
		}
		if out == "" {
			out = args[0]
		}
		if err := writeRequest(out, req); err != nil {
			return err
		}
		fmt.Fprintf(w, "approved by %s until %s; %d approvals on %s\n", id,
			time.Unix(ap.Expires, 0).UTC().Format(time.RFC3339), len(req.Approvals), out)
		return nil
	},
}

func init() {
	inspectCmd.Flags().Bool("json", false, "machine-readable review")
	addManifestFlags(inspectCmd)
	f := approveCmd.Flags()
	addManifestFlags(approveCmd)
	addKeyFlags(approveCmd, "officer")
	f.String("id", "", "your officer id in the roster")
	f.String("policy", "", "the active policy file (its hash is bound into the approval)")
	f.String("roster", "", "the active roster file (its hash is bound into the approval)")
	f.Duration("ttl", 24*time.Hour, "how long the approval stays valid")
	f.Bool("yes", false, "do not ask for confirmation (after reviewing the printed table)")
	f.StringP("out", "o", "", "write the approved request here (default: in place)")
	rootCmd.AddCommand(inspectCmd, approveCmd)
}
