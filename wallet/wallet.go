package wallet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/bundle/files"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/chain/btc"
	"github.com/icebox-custody/icebox/chain/eth"
	"github.com/icebox-custody/icebox/chain/registry"
	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/manifest"
)

// MaxInputFileBytes caps the UTXO and account files read by the wallet.
const MaxInputFileBytes = 64 << 20

// ErrInput reports a malformed UTXO or account file.
var ErrInput = errors.New("invalid wallet input")

// OwnKeys turns manifest entries into the adapters' view of our keys.
func OwnKeys(m *manifest.Manifest) []chain.OwnKey {
	keys := make([]chain.OwnKey, 0, len(m.Entries))
	seen := map[string]bool{}
	for _, e := range m.Entries {
		k := hex.EncodeToString(e.PublicKey)
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, chain.OwnKey{Ref: hsm.KeyRef{Label: e.Label, ID: e.KeyID}, PublicKey: e.PublicKey})
	}
	return keys
}

// UTXOFile lists Bitcoin UTXOs owned by manifest keys.
type UTXOFile struct {
	Network string `json:"network"`
	UTXOs   []struct {
		Outpoint  string `json:"outpoint"`
		AmountSat int64  `json:"amount_sat"`
		Address   string `json:"address"`
		PrevTxHex string `json:"prev_tx"`
	} `json:"utxos"`
}

// AccountsFile lists Ethereum accounts owned by manifest keys with their
// next nonce and balances, and the fees to offer.
type AccountsFile struct {
	Network              string `json:"network"`
	MaxFeePerGas         string `json:"max_fee_per_gas"`
	MaxPriorityFeePerGas string `json:"max_priority_fee_per_gas"`
	Accounts             []struct {
		Address    string `json:"address"`
		Nonce      uint64 `json:"nonce"`
		BalanceWei string `json:"balance_wei"`
		Tokens     []struct {
			Contract string `json:"contract"`
			Balance  string `json:"balance"`
		} `json:"tokens"`
	} `json:"accounts"`
}

// ReadJSON strictly decodes a size-capped JSON file into v (unknown fields
// and trailing data refused).
func ReadJSON(path string, v any) error {
	data, err := files.ReadCapped(path, MaxInputFileBytes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInput, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInput, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s: trailing data after the JSON value", ErrInput, path)
	}
	return nil
}

func amount(field, s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok || v.Sign() < 0 {
		return nil, fmt.Errorf("%w: %s: %q is not a non-negative integer in base units", ErrInput, field, s)
	}
	return v, nil
}

// entryByAddress finds the manifest entry for an address on a network.
func entryByAddress(m *manifest.Manifest, n chain.Network, addr string) (manifest.Entry, bool) {
	for _, e := range m.Entries {
		if e.Network == n && strings.EqualFold(e.Address, addr) {
			return e, true
		}
	}
	return manifest.Entry{}, false
}

// BTCSweep builds PSBTs moving every listed UTXO to dest, at most
// maxInputs inputs per transaction.
func BTCSweep(m *manifest.Manifest, f UTXOFile, dest string, feeRate int64, maxInputs int) ([]bundle.Transaction, error) {
	n := chain.Network(f.Network)
	utxos, err := btcUTXOs(m, f)
	if err != nil {
		return nil, err
	}
	psbts, err := btc.BuildSweep(btc.SweepRequest{Network: n, UTXOs: utxos, Destination: dest, FeeRateSatPerVB: feeRate, MaxInputsPerTx: maxInputs})
	if err != nil {
		return nil, fmt.Errorf("build bitcoin sweep: %w", err)
	}
	out := make([]bundle.Transaction, len(psbts))
	for i, p := range psbts {
		out[i] = bundle.Transaction{Network: string(n), Format: bundle.FormatPSBT, Payload: p}
	}
	return out, nil
}

// BTCPayment is one Bitcoin withdrawal output.
type BTCPayment struct {
	Address   string
	AmountSat int64
}

// BTCWithdraw builds one PSBT paying outputs from the listed UTXOs, with
// change back to the first UTXO's key.
func BTCWithdraw(m *manifest.Manifest, f UTXOFile, pays []BTCPayment, feeRate int64) ([]bundle.Transaction, error) {
	n := chain.Network(f.Network)
	utxos, err := btcUTXOs(m, f)
	if err != nil {
		return nil, err
	}
	outs := make([]btc.PaymentOutput, len(pays))
	for i, p := range pays {
		outs[i] = btc.PaymentOutput{Address: p.Address, Amount: p.AmountSat}
	}
	p, err := btc.BuildPayment(btc.PaymentRequest{Network: n, UTXOs: utxos, Outputs: outs, FeeRateSatPerVB: feeRate, ChangePubKey: utxos[0].KeyPubKey})
	if err != nil {
		return nil, fmt.Errorf("build bitcoin withdrawal: %w", err)
	}
	return []bundle.Transaction{{Network: string(n), Format: bundle.FormatPSBT, Payload: p}}, nil
}

func btcUTXOs(m *manifest.Manifest, f UTXOFile) ([]btc.UTXO, error) {
	n := chain.Network(f.Network)
	if n.Family() != chain.FamilyBTC {
		return nil, fmt.Errorf("%w: network %q is not a bitcoin network", ErrInput, f.Network)
	}
	if len(f.UTXOs) == 0 {
		return nil, fmt.Errorf("%w: no utxos", ErrInput)
	}
	utxos := make([]btc.UTXO, len(f.UTXOs))
	for i, u := range f.UTXOs {
		e, ok := entryByAddress(m, n, u.Address)
		if !ok {
			return nil, fmt.Errorf("%w: utxos[%d].address %s is not one of the manifest's %s addresses", ErrInput, i, u.Address, n)
		}
		prev, err := hex.DecodeString(u.PrevTxHex)
		if err != nil {
			return nil, fmt.Errorf("%w: utxos[%d].prev_tx: %v", ErrInput, i, err)
		}
		utxos[i] = btc.UTXO{Outpoint: u.Outpoint, Amount: u.AmountSat, PrevTx: prev, KeyPubKey: e.PublicKey}
	}
	return utxos, nil
}

// ETHSweepOptions tunes an Ethereum sweep.
type ETHSweepOptions struct {
	// TokenGasLimit is the gas limit of each ERC-20 transfer (default 100000).
	TokenGasLimit uint64
	// Tokens limits the sweep to these contracts (empty: every token listed).
	Tokens []string
	// TokensOnly leaves the ETH balance in place (tokens only).
	TokensOnly bool
}

// ETHSweep builds, for every account, one ERC-20 transfer per token balance
// and then one native transfer of what is left after every fee, all to dest,
// with consecutive nonces.
func ETHSweep(m *manifest.Manifest, f AccountsFile, dest string, opt ETHSweepOptions) ([]bundle.Transaction, error) {
	n := chain.Network(f.Network)
	ad, err := ethAdapter(m, n)
	if err != nil {
		return nil, err
	}
	fees, err := ethFees(f)
	if err != nil {
		return nil, err
	}
	if opt.TokenGasLimit == 0 {
		opt.TokenGasLimit = 100000
	}
	var out []bundle.Transaction
	for i, a := range f.Accounts {
		if _, ok := entryByAddress(m, n, a.Address); !ok {
			return nil, fmt.Errorf("%w: accounts[%d].address %s is not one of the manifest's %s addresses", ErrInput, i, a.Address, n)
		}
		bal, err := amount(fmt.Sprintf("accounts[%d].balance_wei", i), a.BalanceWei)
		if err != nil {
			return nil, err
		}
		nonce := a.Nonce
		gasUsed := new(big.Int)
		for j, t := range a.Tokens {
			if len(opt.Tokens) > 0 && !containsFold(opt.Tokens, t.Contract) {
				continue
			}
			tb, err := amount(fmt.Sprintf("accounts[%d].tokens[%d].balance", i, j), t.Balance)
			if err != nil {
				return nil, err
			}
			if tb.Sign() == 0 {
				continue
			}
			p, err := ad.BuildTokenTransfer(eth.TokenTransferRequest{From: a.Address, Token: t.Contract, To: dest, Amount: tb,
				Nonce: nonce, GasLimit: opt.TokenGasLimit, Fees: fees})
			if err != nil {
				return nil, fmt.Errorf("accounts[%d].tokens[%d]: %w", i, j, err)
			}
			out = append(out, bundle.Transaction{Network: string(n), Format: bundle.FormatEthRLP, Payload: p})
			nonce++
			gasUsed.Add(gasUsed, new(big.Int).SetUint64(opt.TokenGasLimit))
		}
		if opt.TokensOnly {
			continue
		}
		gasUsed.Add(gasUsed, big.NewInt(21000))
		value := new(big.Int).Sub(bal, new(big.Int).Mul(gasUsed, fees.MaxFeePerGas))
		if value.Sign() <= 0 {
			continue
		}
		p, err := ad.BuildTransfer(eth.TransferRequest{From: a.Address, To: dest, Value: value, Nonce: nonce, Fees: fees})
		if err != nil {
			return nil, fmt.Errorf("accounts[%d]: %w", i, err)
		}
		out = append(out, bundle.Transaction{Network: string(n), Format: bundle.FormatEthRLP, Payload: p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: nothing to sweep (no balances above the fee)", ErrInput)
	}
	return out, nil
}

// ETHPayment is one Ethereum withdrawal.
type ETHPayment struct {
	From   string
	To     string
	Amount *big.Int
	// Token is the ERC-20 contract; empty for ETH.
	Token string
}

// ETHWithdraw builds one transaction per payment, nonces taken from the
// accounts file and incremented per sender.
func ETHWithdraw(m *manifest.Manifest, f AccountsFile, pays []ETHPayment, tokenGasLimit uint64) ([]bundle.Transaction, error) {
	n := chain.Network(f.Network)
	ad, err := ethAdapter(m, n)
	if err != nil {
		return nil, err
	}
	fees, err := ethFees(f)
	if err != nil {
		return nil, err
	}
	if tokenGasLimit == 0 {
		tokenGasLimit = 100000
	}
	nonces := map[string]uint64{}
	for _, a := range f.Accounts {
		nonces[strings.ToLower(a.Address)] = a.Nonce
	}
	var out []bundle.Transaction
	for i, p := range pays {
		key := strings.ToLower(p.From)
		nonce, ok := nonces[key]
		if !ok {
			return nil, fmt.Errorf("%w: payments[%d].from %s is not in the accounts file", ErrInput, i, p.From)
		}
		var payload []byte
		if p.Token == "" {
			payload, err = ad.BuildTransfer(eth.TransferRequest{From: p.From, To: p.To, Value: p.Amount, Nonce: nonce, Fees: fees})
		} else {
			payload, err = ad.BuildTokenTransfer(eth.TokenTransferRequest{From: p.From, Token: p.Token, To: p.To, Amount: p.Amount,
				Nonce: nonce, GasLimit: tokenGasLimit, Fees: fees})
		}
		if err != nil {
			return nil, fmt.Errorf("payments[%d]: %w", i, err)
		}
		nonces[key] = nonce + 1
		out = append(out, bundle.Transaction{Network: string(n), Format: bundle.FormatEthRLP, Payload: payload})
	}
	return out, nil
}

func ethAdapter(m *manifest.Manifest, n chain.Network) (*eth.Adapter, error) {
	if n.Family() != chain.FamilyETH {
		return nil, fmt.Errorf("%w: network %q is not an ethereum network", ErrInput, n)
	}
	ads, err := registry.Adapters([]chain.Network{n}, OwnKeys(m))
	if err != nil {
		return nil, err
	}
	return ads[n].(*eth.Adapter), nil
}

func ethFees(f AccountsFile) (eth.Fees, error) {
	maxFee, err := amount("max_fee_per_gas", f.MaxFeePerGas)
	if err != nil {
		return eth.Fees{}, err
	}
	tip, err := amount("max_priority_fee_per_gas", f.MaxPriorityFeePerGas)
	if err != nil {
		return eth.Fees{}, err
	}
	return eth.Fees{MaxFeePerGas: maxFee, MaxPriorityFeePerGas: tip}, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// RequestInput describes the request to wrap the transactions in.
type RequestInput struct {
	ID           string
	Requester    string
	Kind         bundle.RequestKind
	Reason       string
	Now          time.Time
	TTL          time.Duration
	Transactions []bundle.Transaction
}

// NewRequest returns an unsigned request (sign it with bundle.SignRequest).
func NewRequest(in RequestInput) (*bundle.Request, error) {
	if in.TTL <= 0 {
		return nil, fmt.Errorf("%w: request ttl must be positive", ErrInput)
	}
	r := &bundle.Request{
		Version:      bundle.Version,
		ID:           in.ID,
		Created:      in.Now.Unix(),
		Expires:      in.Now.Add(in.TTL).Unix(),
		Requester:    in.Requester,
		Kind:         in.Kind,
		Reason:       in.Reason,
		Transactions: in.Transactions,
	}
	if err := r.Validate(bundle.Limits{}); err != nil && !errors.Is(err, bundle.ErrMissingSignature) {
		return nil, err
	}
	return r, nil
}
