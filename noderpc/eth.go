package noderpc

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// ETH reads nonces, balances and fees from and broadcasts to an Ethereum
// execution client.
type ETH struct {
	c *Client
}

// NewETH returns an Ethereum client for cfg.
func NewETH(cfg Config) (*ETH, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &ETH{c: c}, nil
}

// Client returns the underlying JSON-RPC client (for calls not wrapped here).
func (e *ETH) Client() *Client { return e.c }

// Quantity is a JSON-RPC hex quantity ("0x1a") as a big integer.
type Quantity struct{ big.Int }

// UnmarshalJSON parses "0x…" (at most 256 bits, no leading zeros beyond "0x0").
func (q *Quantity) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w: quantity %.40s is not a JSON string", ErrResponse, b)
	}
	v, err := ParseQuantity(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	q.Int = *v
	return nil
}

// ParseQuantity parses a hex quantity of at most 256 bits.
func ParseQuantity(s string) (*big.Int, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok || h == "" || len(h) > 64 || (len(h) > 1 && h[0] == '0') {
		return nil, fmt.Errorf("%w: quantity %q is not a 0x-prefixed hex number of at most 256 bits", ErrResponse, s)
	}
	v, ok := new(big.Int).SetString(h, 16)
	if !ok {
		return nil, fmt.Errorf("%w: quantity %q is not hex", ErrResponse, s)
	}
	return v, nil
}

func quantity(v uint64) string { return fmt.Sprintf("0x%x", v) }

// ChainID returns eth_chainId.
func (e *ETH) ChainID(ctx context.Context) (uint64, error) {
	var q Quantity
	if err := e.c.Call(ctx, "eth_chainId", nil, &q); err != nil {
		return 0, err
	}
	if !q.IsUint64() {
		return 0, fmt.Errorf("%w: eth_chainId %s does not fit 64 bits", ErrResponse, q.String())
	}
	return q.Uint64(), nil
}

// Nonce returns the account's next nonce counting pending transactions.
func (e *ETH) Nonce(ctx context.Context, addr string) (uint64, error) {
	var q Quantity
	if err := e.c.Call(ctx, "eth_getTransactionCount", []any{addr, "pending"}, &q); err != nil {
		return 0, fmt.Errorf("%s: %w", addr, err)
	}
	if !q.IsUint64() {
		return 0, fmt.Errorf("%w: eth_getTransactionCount %s: %s does not fit 64 bits", ErrResponse, addr, q.String())
	}
	return q.Uint64(), nil
}

// Balance returns the account's balance in wei at block tag ("latest", "pending").
func (e *ETH) Balance(ctx context.Context, addr, tag string) (*big.Int, error) {
	var q Quantity
	if err := e.c.Call(ctx, "eth_getBalance", []any{addr, tag}, &q); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return new(big.Int).Set(&q.Int), nil
}

// balanceOfSelector is the first 4 bytes of keccak256("balanceOf(address)").
const balanceOfSelector = "70a08231"

// TokenBalance returns an ERC-20 balance via eth_call balanceOf(holder).
func (e *ETH) TokenBalance(ctx context.Context, token, holder, tag string) (*big.Int, error) {
	h, err := addressHex("holder", holder)
	if err != nil {
		return nil, err
	}
	if _, err := addressHex("token", token); err != nil {
		return nil, err
	}
	data := "0x" + balanceOfSelector + strings.Repeat("0", 24) + h
	var out string
	if err := e.c.Call(ctx, "eth_call", []any{map[string]string{"to": token, "data": data}, tag}, &out); err != nil {
		return nil, fmt.Errorf("token %s holder %s: %w", token, holder, err)
	}
	b, err := hex.DecodeString(strings.TrimPrefix(out, "0x"))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: balanceOf(%s) on %s returned %q, want one 32-byte word", ErrResponse, holder, token, out)
	}
	return new(big.Int).SetBytes(b), nil
}

func addressHex(field, a string) (string, error) {
	h, ok := strings.CutPrefix(a, "0x")
	if !ok || len(h) != 40 {
		return "", fmt.Errorf("%w: %s %q is not a 0x-prefixed 20-byte address", ErrConfig, field, a)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: %s %q is not hex", ErrConfig, field, a)
	}
	return strings.ToLower(h), nil
}

// Fees is an EIP-1559 fee offer in wei per gas.
type Fees struct {
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	// BaseFee is the next block's base fee the offer was computed from.
	BaseFee *big.Int
}

// SuggestFees offers the node's priority fee (eth_maxPriorityFeePerGas) on
// top of twice the next block's base fee (eth_feeHistory), so the offer
// survives a few full blocks. Nodes without eth_feeHistory fall back to
// eth_gasPrice as the base fee.
func (e *ETH) SuggestFees(ctx context.Context) (Fees, error) {
	var tip Quantity
	if err := e.c.Call(ctx, "eth_maxPriorityFeePerGas", nil, &tip); err != nil {
		return Fees{}, err
	}
	var hist struct {
		BaseFeePerGas []Quantity `json:"baseFeePerGas"`
	}
	base := new(big.Int)
	if err := e.c.Call(ctx, "eth_feeHistory", []any{"0x1", "latest", []int{}}, &hist); err == nil && len(hist.BaseFeePerGas) > 0 {
		base.Set(&hist.BaseFeePerGas[len(hist.BaseFeePerGas)-1].Int)
	} else {
		var gp Quantity
		if err := e.c.Call(ctx, "eth_gasPrice", nil, &gp); err != nil {
			return Fees{}, err
		}
		base.Set(&gp.Int)
	}
	maxFee := new(big.Int).Add(new(big.Int).Lsh(base, 1), &tip.Int)
	return Fees{MaxFeePerGas: maxFee, MaxPriorityFeePerGas: new(big.Int).Set(&tip.Int), BaseFee: base}, nil
}

// SendRawTransaction broadcasts a signed transaction ("0x…" hex) and returns its hash.
func (e *ETH) SendRawTransaction(ctx context.Context, rawHex string) (string, error) {
	raw := strings.TrimSpace(rawHex)
	if !strings.HasPrefix(raw, "0x") {
		raw = "0x" + raw
	}
	var h string
	if err := e.c.Call(ctx, "eth_sendRawTransaction", []any{raw}, &h); err != nil {
		return "", err
	}
	if len(h) != 66 {
		return "", fmt.Errorf("%w: eth_sendRawTransaction: hash %q", ErrResponse, h)
	}
	return h, nil
}

// Receipt is the part of a transaction receipt the wallet checks.
type Receipt struct {
	TransactionHash   string   `json:"transactionHash"`
	BlockNumber       Quantity `json:"blockNumber"`
	Status            Quantity `json:"status"`
	GasUsed           Quantity `json:"gasUsed"`
	EffectiveGasPrice Quantity `json:"effectiveGasPrice"`
	ContractAddress   *string  `json:"contractAddress"`
	From              string   `json:"from"`
	To                *string  `json:"to"`
}

// Receipt returns the receipt of a mined transaction, nil while it is pending.
func (e *ETH) Receipt(ctx context.Context, hash string) (*Receipt, error) {
	var r *Receipt
	if err := e.c.Call(ctx, "eth_getTransactionReceipt", []any{hash}, &r); err != nil {
		return nil, err
	}
	return r, nil
}

// EstimateGas asks the node how much gas a call from → to with data needs
// (eth_estimateGas against the pending state).
func (e *ETH) EstimateGas(ctx context.Context, from, to, data string) (uint64, error) {
	var q Quantity
	call := map[string]string{"from": from, "to": to, "data": data}
	if err := e.c.Call(ctx, "eth_estimateGas", []any{call, "pending"}, &q); err != nil {
		return 0, fmt.Errorf("estimate gas %s → %s: %w", from, to, err)
	}
	if !q.IsUint64() {
		return 0, fmt.Errorf("%w: eth_estimateGas: %s does not fit 64 bits", ErrResponse, q.String())
	}
	return q.Uint64(), nil
}

// ERC20TransferData is the calldata of transfer(to, amount) ("0x…" hex).
func ERC20TransferData(to string, amount *big.Int) (string, error) {
	h, err := addressHex("to", to)
	if err != nil {
		return "", err
	}
	if amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return "", fmt.Errorf("%w: amount must be 0 ≤ amount < 2^256", ErrConfig)
	}
	return "0xa9059cbb" + strings.Repeat("0", 24) + h + hex.EncodeToString(amount.FillBytes(make([]byte, 32))), nil
}
