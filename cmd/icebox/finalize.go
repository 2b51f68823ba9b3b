package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/noderpc"
)

var errRefusedResponse = errors.New("the signer refused the request")

var finalizeCmd = &cobra.Command{
	Use:   "finalize RESPONSE.icebox --request REQUEST.icebox -o DIR --manifest M --signer FP",
	Short: "Check the signer's response, finalize the signed transactions and write them out",
	Long: `finalize checks that the response is signed by the pinned signer identity and
answers exactly this request (same id, same digest), that every signed
transaction is the one requested (same Bitcoin txid / same Ethereum signing
hash and sender), then writes for each transaction i:
  DIR/i-<network>.psbt   the PSBT with the signer's signatures (Bitcoin)
  DIR/i-<network>.hex    the raw signed transaction, ready to broadcast
A multisig PSBT that still lacks cosigners gets no .hex: pass it on.
With --broadcast every .hex is sent to the node (--btc-rpc / --eth-rpc) in
request order and its txid / hash printed.
A refusal is printed with its stage and reason and exits non-zero.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		reqPath, _ := cmd.Flags().GetString("request")
		outDir, _ := cmd.Flags().GetString("out")
		if reqPath == "" || outDir == "" {
			return errors.New("--request and -o DIR are required")
		}
		m, err := loadManifest(cmd)
		if err != nil {
			return err
		}
		req, err := readRequest(reqPath)
		if err != nil {
			return err
		}
		data, err := readBundleFile(args[0])
		if err != nil {
			return err
		}
		resp, err := bundle.DecodeResponse(data, bundle.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if err := bundle.VerifyResponse(resp, m.Signer); err != nil {
			return fmt.Errorf("response %s is not signed by the pinned signer: %w", args[0], err)
		}
		if resp.RequestID != req.ID || resp.RequestDigest != bundle.RequestDigest(req) {
			return fmt.Errorf("response answers request %q (digest %s), not %q (digest %s)",
				resp.RequestID, resp.RequestDigest, req.ID, bundle.RequestDigest(req))
		}
		w := cmd.OutOrStdout()
		if resp.Status == bundle.StatusRefused {
			fmt.Fprintf(w, "REFUSED at stage %s (%s): %s\n", resp.Refusal.Stage, resp.Refusal.Code, resp.Refusal.Reason)
			return fmt.Errorf("%w: %s", errRefusedResponse, resp.Refusal.Code)
		}
		if len(resp.Signed) != len(req.Transactions) {
			return fmt.Errorf("response carries %d transactions, the request %d", len(resp.Signed), len(req.Transactions))
		}
		ads, err := manifestAdapters(m)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		doBroadcast, _ := cmd.Flags().GetBool("broadcast")
		var bn *noderpc.BTC
		var en *noderpc.ETH
		if doBroadcast {
			if bn, err = btcNode(cmd); err != nil {
				return err
			}
			if en, err = ethNode(cmd); err != nil {
				return err
			}
		}
		var ready []readyTx
		complete, partial := 0, 0
		for i, st := range resp.Signed {
			rt := req.Transactions[i]
			if st.Network != rt.Network || st.Format != rt.Format {
				return fmt.Errorf("response transaction %d is %s/%s, the request's %s/%s", i, st.Network, st.Format, rt.Network, rt.Format)
			}
			ad, ok := ads[chain.Network(rt.Network)]
			if !ok {
				return fmt.Errorf("transaction %d: network %s is not in the manifest", i, rt.Network)
			}
			orig, err := ad.Parse(rt.Payload)
			if err != nil {
				return fmt.Errorf("request transaction %d: %w", i, err)
			}
			base := filepath.Join(outDir, fmt.Sprintf("%03d-%s", i, rt.Network))
			done, err := finalizeOne(ad, orig.Summary(), st.Payload, base)
			if err != nil {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
			if done {
				ready = append(ready, readyTx{network: chain.Network(rt.Network), path: base + ".hex"})
				complete++
			} else {
				partial++
			}
		}
		fmt.Fprintf(w, "response OK: signed by %s for request %q (audit record %d)\n", m.Signer.Fingerprint(), req.ID, resp.AuditSeq)
		fmt.Fprintf(w, "wrote %d ready-to-broadcast transactions", complete)
		if partial > 0 {
			fmt.Fprintf(w, " and %d PSBTs still waiting for cosigners", partial)
		}
		fmt.Fprintf(w, " to %s\n", outDir)
		if !doBroadcast {
			return nil
		}
		// Broadcast in request order: an account's nonces are consecutive.
		for _, r := range ready {
			raw, err := files.ReadCapped(r.path, 16<<20)
			if err != nil {
				return err
			}
			id, err := broadcast(cmd.Context(), bn, en, r.network, string(raw))
			if err != nil {
				return fmt.Errorf("broadcast %s: %w", r.path, err)
			}
			fmt.Fprintf(w, "broadcast %s %s\n", r.network, id)
		}
		return nil
	},
}

type readyTx struct {
	network chain.Network
	path    string
}

// finalizeOne checks one signed transaction against the requested one and
// writes it out. done is false for a PSBT that still needs cosigners.
func finalizeOne(ad chain.Adapter, want chain.Summary, signed []byte, base string) (done bool, err error) {
	switch a := ad.(type) {
	case *btc.Adapter:
		got, err := a.Parse(signed)
		if err != nil && !errors.Is(err, btc.ErrNothingToSign) {
			// A PSBT whose inputs are all finalized is still checked below by txid.
			if _, _, ferr := btc.Finalize(signed); ferr != nil {
				return false, fmt.Errorf("signed PSBT: %w", err)
			}
		}
		if got != nil && got.Summary().ID != want.ID {
			return false, fmt.Errorf("signed PSBT is transaction %s, the request asked for %s", got.Summary().ID, want.ID)
		}
		if err := files.WriteFileAtomic(base+".psbt", signed, files.FileMode); err != nil {
			return false, err
		}
		_, raw, ferr := btc.Finalize(signed)
		if ferr != nil {
			if errors.Is(ferr, btc.ErrIncomplete) {
				return false, nil
			}
			return false, ferr
		}
		return true, files.WriteFileAtomic(base+".hex", []byte(hex.EncodeToString(raw)+"\n"), files.FileMode)
	case *eth.Adapter:
		st, err := a.DecodeSigned(signed)
		if err != nil {
			return false, err
		}
		if st.Summary.ID != want.ID || !strings.EqualFold(st.Sender, want.From) {
			return false, fmt.Errorf("signed transaction (hash to sign %s, sender %s) is not the requested one (%s, %s)",
				st.Summary.ID, st.Sender, want.ID, want.From)
		}
		return true, files.WriteFileAtomic(base+".hex", []byte("0x"+hex.EncodeToString(signed)+"\n"), files.FileMode)
	default:
		return false, fmt.Errorf("no finalizer for %s", ad.Network())
	}
}

var txCmd = &cobra.Command{
	Use:   "tx",
	Short: "Single transactions",
}

var txDecodeCmd = &cobra.Command{
	Use:   "decode FILE --network NETWORK --manifest M --signer FP [--json]",
	Short: "Decode one unsigned PSBT or Ethereum payload and show what it does (the officer's view)",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		network, _ := cmd.Flags().GetString("network")
		asJSON, _ := cmd.Flags().GetBool("json")
		if network == "" {
			return errors.New("--network is required (e.g. btc-regtest, eth-1337)")
		}
		payload, err := files.ReadCapped(args[0], 4<<20)
		if err != nil {
			return err
		}
		format := bundle.FormatEthRLP
		if chain.Network(network).Family() == chain.FamilyBTC {
			format = bundle.FormatPSBT
			if s := strings.TrimSpace(string(payload)); strings.HasPrefix(s, "cHNidP") { // base64 "psbt\xff"
				payload = []byte(s)
			}
		}
		req := &bundle.Request{ID: "decode", Transactions: []bundle.Transaction{{Network: network, Format: format, Payload: payload}}}
		rv, err := buildReview(cmd, req)
		if err != nil {
			return err
		}
		if asJSON {
			b, err := rv.JSON()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return nil
		}
		return renderTxOnly(cmd, rv)
	},
}

func renderTxOnly(cmd *cobra.Command, rv interface{ Render(w io.Writer) error }) error {
	return rv.Render(cmd.OutOrStdout())
}

func init() {
	addManifestFlags(finalizeCmd)
	finalizeCmd.Flags().String("request", "", "the request bundle this response answers")
	finalizeCmd.Flags().StringP("out", "o", "", "directory for the signed transactions")
	finalizeCmd.Flags().Bool("broadcast", false, "send every ready transaction to the node (--btc-rpc / --eth-rpc) in request order")
	addNodeFlags(finalizeCmd)
	addManifestFlags(txDecodeCmd)
	txDecodeCmd.Flags().String("network", "", "network of the transaction")
	txDecodeCmd.Flags().Bool("json", false, "machine-readable output")
	txCmd.AddCommand(txDecodeCmd)
	rootCmd.AddCommand(finalizeCmd, txCmd)
}
