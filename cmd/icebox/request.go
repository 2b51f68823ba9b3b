package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/wallet"
)

var requestCmd = &cobra.Command{
	Use:   "request",
	Short: "Build a signed request bundle (hot wallet): batched sweeps or withdrawals",
}

var requestSweepCmd = &cobra.Command{
	Use:   "sweep (--utxos FILE | --accounts FILE) --to ADDRESS -o REQUEST.icebox --requester ID --key KEYFILE",
	Short: "Sweep our cold keys' funds to one destination, split into several transactions when large",
	Long: `sweep builds unsigned transactions moving everything listed to --to:
  Bitcoin  --utxos FILE      (JSON: {"network", "utxos": [{"outpoint", "amount_sat", "address", "prev_tx"}]})
           split into transactions of at most --max-inputs inputs, at --fee-rate sat/vB
  Ethereum --accounts FILE   (JSON: {"network", "max_fee_per_gas", "max_priority_fee_per_gas",
                              "accounts": [{"address", "nonce", "balance_wei", "tokens": [{"contract", "balance"}]}]})
           one ERC-20 transfer per token balance, then the ETH left after fees
Instead of the files, the wallet can ask the nodes:
  --btc-rpc URL (+ --btc-rpc-user/--btc-rpc-pass)  unspent outputs of the manifest's
           addresses (or --btc-address ...) with their previous transactions
           (btcd with --txindex --addrindex); --multisig M:PUB,PUB,... sweeps that
           P2WSH multisig address instead
  --eth-rpc URL   pending nonce, balance, balanceOf for each --token, fee offer
--psbt FILE wraps existing PSBTs as they are (e.g. a multisig PSBT another
cosigner already signed, passed on to the next signer).
Both chains may be given; the request then carries both batches. Addresses must
be in the signer's manifest. The request is signed with the requester's key.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		m, err := loadManifest(cmd)
		if err != nil {
			return err
		}
		to, _ := cmd.Flags().GetString("to")
		toETH, _ := cmd.Flags().GetString("to-eth")
		utxos, _ := cmd.Flags().GetString("utxos")
		accounts, _ := cmd.Flags().GetString("accounts")
		rate, _ := cmd.Flags().GetInt64("fee-rate")
		maxIn, _ := cmd.Flags().GetInt("max-inputs")
		tokens, _ := cmd.Flags().GetStringSlice("token")
		psbts, _ := cmd.Flags().GetStringArray("psbt")
		msSpec, _ := cmd.Flags().GetString("multisig")
		btcOnly, _ := cmd.Flags().GetStringSlice("btc-address")
		ethOnly, _ := cmd.Flags().GetStringSlice("eth-address")
		bn, err := btcNode(cmd)
		if err != nil {
			return err
		}
		en, err := ethNode(cmd)
		if err != nil {
			return err
		}
		if utxos == "" && accounts == "" && bn == nil && en == nil && len(psbts) == 0 {
			return errors.New("give --utxos or --btc-rpc (bitcoin), --accounts or --eth-rpc (ethereum), or --psbt")
		}
		if (utxos != "" && bn != nil) || (accounts != "" && en != nil) {
			return errors.New("give a file or a node for each chain, not both")
		}
		if toETH == "" {
			toETH = to
		}
		var txs []bundle.Transaction
		ctx := cmd.Context()
		if len(psbts) > 0 {
			n, err := manifestNetwork(m, chain.FamilyBTC)
			if err != nil {
				return err
			}
			t, err := psbtTransactions(n, psbts)
			if err != nil {
				return err
			}
			txs = append(txs, t...)
		}
		if bn != nil {
			n, err := manifestNetwork(m, chain.FamilyBTC)
			if err != nil {
				return err
			}
			if msSpec != "" {
				ms, err := wallet.ParseMultisig(msSpec)
				if err != nil {
					return err
				}
				addr, err := ms.Address(n)
				if err != nil {
					return err
				}
				f, err := utxosFromNode(ctx, bn, n, []string{addr})
				if err != nil {
					return err
				}
				t, err := wallet.BTCMultisigSweep(f, ms, to, rate, maxIn)
				if err != nil {
					return err
				}
				txs = append(txs, t...)
			} else {
				addrs, err := manifestAddresses(m, n, btcOnly)
				if err != nil {
					return err
				}
				f, err := utxosFromNode(ctx, bn, n, addrs)
				if err != nil {
					return err
				}
				t, err := wallet.BTCSweep(m, f, to, rate, maxIn)
				if err != nil {
					return err
				}
				txs = append(txs, t...)
			}
		}
		if en != nil {
			n, err := manifestNetwork(m, chain.FamilyETH)
			if err != nil {
				return err
			}
			addrs, err := manifestAddresses(m, n, ethOnly)
			if err != nil {
				return err
			}
			f, err := accountsFromNode(ctx, en, n, addrs, tokens)
			if err != nil {
				return err
			}
			skipNative, _ := cmd.Flags().GetBool("tokens-only")
			gas, err := tokenGasFromNode(ctx, en, f, toETH)
			if err != nil {
				return err
			}
			t, err := wallet.ETHSweep(m, f, toETH, wallet.ETHSweepOptions{Tokens: tokens, TokensOnly: skipNative, TokenGasLimit: gas})
			if err != nil {
				return err
			}
			txs = append(txs, t...)
		}
		if utxos != "" {
			var f wallet.UTXOFile
			if err := wallet.ReadJSON(utxos, &f); err != nil {
				return err
			}
			t, err := wallet.BTCSweep(m, f, to, rate, maxIn)
			if err != nil {
				return err
			}
			txs = append(txs, t...)
		}
		if accounts != "" {
			var f wallet.AccountsFile
			if err := wallet.ReadJSON(accounts, &f); err != nil {
				return err
			}
			t, err := wallet.ETHSweep(m, f, toETH, wallet.ETHSweepOptions{Tokens: tokens})
			if err != nil {
				return err
			}
			txs = append(txs, t...)
		}
		return finishRequest(cmd, bundle.KindSweep, txs)
	},
}

var requestWithdrawCmd = &cobra.Command{
	Use:   "withdraw --pay ADDRESS=AMOUNT[@ASSET] ... (--utxos FILE | --accounts FILE) -o REQUEST.icebox --requester ID --key KEYFILE",
	Short: "Pay one or more destinations (amounts in base units: satoshi, wei, token units)",
	Long: `withdraw builds one Bitcoin transaction paying every --pay (change back to
our key), or one Ethereum transaction per --pay from --from. AMOUNT is an
integer in base units. For an ERC-20 token add @CONTRACT.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		m, err := loadManifest(cmd)
		if err != nil {
			return err
		}
		pays, _ := cmd.Flags().GetStringArray("pay")
		utxos, _ := cmd.Flags().GetString("utxos")
		accounts, _ := cmd.Flags().GetString("accounts")
		from, _ := cmd.Flags().GetString("from")
		rate, _ := cmd.Flags().GetInt64("fee-rate")
		if len(pays) == 0 {
			return errors.New("--pay ADDRESS=AMOUNT is required")
		}
		var txs []bundle.Transaction
		switch {
		case utxos != "" && accounts == "":
			var f wallet.UTXOFile
			if err := wallet.ReadJSON(utxos, &f); err != nil {
				return err
			}
			var out []wallet.BTCPayment
			for i, p := range pays {
				addr, amt, asset, err := parsePay(p)
				if err != nil {
					return fmt.Errorf("--pay #%d: %w", i+1, err)
				}
				if asset != "" || !amt.IsInt64() {
					return fmt.Errorf("--pay #%d: bitcoin payments take a satoshi amount and no asset", i+1)
				}
				out = append(out, wallet.BTCPayment{Address: addr, AmountSat: amt.Int64()})
			}
			if txs, err = wallet.BTCWithdraw(m, f, out, rate); err != nil {
				return err
			}
		case accounts != "" && utxos == "":
			if from == "" {
				return errors.New("--from ADDRESS (one of our ethereum addresses) is required")
			}
			var f wallet.AccountsFile
			if err := wallet.ReadJSON(accounts, &f); err != nil {
				return err
			}
			var out []wallet.ETHPayment
			for i, p := range pays {
				addr, amt, asset, err := parsePay(p)
				if err != nil {
					return fmt.Errorf("--pay #%d: %w", i+1, err)
				}
				out = append(out, wallet.ETHPayment{From: from, To: addr, Amount: amt, Token: asset})
			}
			if txs, err = wallet.ETHWithdraw(m, f, out, 0); err != nil {
				return err
			}
		default:
			return errors.New("give exactly one of --utxos (bitcoin) and --accounts (ethereum)")
		}
		return finishRequest(cmd, bundle.KindWithdrawal, txs)
	},
}

// parsePay parses ADDRESS=AMOUNT[@CONTRACT].
func parsePay(s string) (addr string, amount *big.Int, asset string, err error) {
	addr, rest, ok := strings.Cut(s, "=")
	if !ok || addr == "" {
		return "", nil, "", fmt.Errorf("%q: want ADDRESS=AMOUNT[@CONTRACT]", s)
	}
	amt, asset, _ := strings.Cut(rest, "@")
	v, ok := new(big.Int).SetString(amt, 10)
	if !ok || v.Sign() <= 0 {
		return "", nil, "", fmt.Errorf("%q: amount %q is not a positive integer in base units", s, amt)
	}
	return addr, v, asset, nil
}

// finishRequest wraps txs in a request, signs it as --requester and writes -o.
func finishRequest(cmd *cobra.Command, kind bundle.RequestKind, txs []bundle.Transaction) error {
	id, _ := cmd.Flags().GetString("id")
	requester, _ := cmd.Flags().GetString("requester")
	reason, _ := cmd.Flags().GetString("reason")
	ttl, _ := cmd.Flags().GetDuration("ttl")
	out, _ := cmd.Flags().GetString("out")
	if requester == "" || out == "" {
		return errors.New("--requester ID and -o FILE are required")
	}
	if id == "" {
		id = newRequestID(kind)
	}
	req, err := wallet.NewRequest(wallet.RequestInput{ID: id, Requester: requester, Kind: kind, Reason: reason,
		Now: time.Now(), TTL: ttl, Transactions: txs})
	if err != nil {
		return err
	}
	s, release, err := loadKey(cmd)
	if err != nil {
		return err
	}
	defer release()
	if err := bundle.SignRequest(req, s, requester); err != nil {
		return err
	}
	if err := writeRequest(out, req); err != nil {
		return err
	}
	nets := map[chain.Network]int{}
	for _, t := range txs {
		nets[chain.Network(t.Network)]++
	}
	var parts []string
	for n, c := range nets {
		parts = append(parts, strconv.Itoa(c)+" on "+string(n))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s request %q with %d transactions (%s)\n  digest %s\n  read out: %s\n",
		out, kind, id, len(txs), strings.Join(parts, ", "), bundle.RequestDigest(req), bundle.DigestWords(bundle.RequestDigest(req)))
	return nil
}

func newRequestID(kind bundle.RequestKind) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", kind, time.Now().UTC().Format("20060102T150405Z"), hex.EncodeToString(b))
}

func init() {
	for _, c := range []*cobra.Command{requestSweepCmd, requestWithdrawCmd} {
		f := c.Flags()
		addManifestFlags(c)
		addKeyFlags(c, "requester")
		f.String("requester", "", "your requester id in the roster")
		f.String("id", "", "request id (default: generated)")
		f.String("reason", "", "free text shown to officers (never trusted by the signer)")
		f.Duration("ttl", 24*time.Hour, "how long the request stays valid")
		f.StringP("out", "o", "", "request bundle to write")
		f.String("utxos", "", "bitcoin UTXO list (JSON)")
		f.String("accounts", "", "ethereum accounts, nonces and balances (JSON)")
		f.Int64("fee-rate", 10, "bitcoin fee rate, sat/vB")
	}
	requestSweepCmd.Flags().String("to", "", "destination address")
	requestSweepCmd.Flags().String("to-eth", "", "ethereum destination when sweeping both chains (default: --to)")
	requestSweepCmd.Flags().Int("max-inputs", 200, "at most this many inputs per bitcoin transaction")
	requestSweepCmd.Flags().StringSlice("token", nil, "sweep only these ERC-20 contracts (default: every token listed; with --eth-rpc: the contracts to look up)")
	requestSweepCmd.Flags().Bool("tokens-only", false, "ethereum: sweep the tokens and leave the ETH")
	requestSweepCmd.Flags().StringArray("psbt", nil, "wrap this PSBT file as it is (repeatable)")
	requestSweepCmd.Flags().String("multisig", "", "with --btc-rpc: sweep the P2WSH multisig M:PUBKEY,PUBKEY,... (hex, script order)")
	requestSweepCmd.Flags().StringSlice("btc-address", nil, "with --btc-rpc: only these manifest addresses (default: all)")
	requestSweepCmd.Flags().StringSlice("eth-address", nil, "with --eth-rpc: only these manifest addresses (default: all)")
	addNodeFlags(requestSweepCmd)
	requestWithdrawCmd.Flags().StringArray("pay", nil, "ADDRESS=AMOUNT[@CONTRACT] in base units (repeatable)")
	requestWithdrawCmd.Flags().String("from", "", "ethereum: the address paying")
	requestCmd.AddCommand(requestSweepCmd, requestWithdrawCmd)
	rootCmd.AddCommand(requestCmd)
}
