package noderpc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// DefaultCoinbaseMaturity is Bitcoin's coinbase maturity (all networks).
const DefaultCoinbaseMaturity = 100

// searchPage is how many transactions one searchrawtransactions call returns.
const searchPage = 500

// btcdNoTxInfo is btcd's error code for an address without transactions.
const btcdNoTxInfo = -5

// BTC reads UTXOs from and broadcasts to a btcd node (started with
// --txindex --addrindex for UTXO lookups).
type BTC struct {
	c *Client
}

// NewBTC returns a Bitcoin client for cfg.
func NewBTC(cfg Config) (*BTC, error) {
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &BTC{c: c}, nil
}

// Client returns the underlying JSON-RPC client (for calls not wrapped here).
func (b *BTC) Client() *Client { return b.c }

// Sats is an amount in satoshis decoded exactly from the node's decimal BTC
// text (e.g. 0.00012345 or 1e-07), never through a float.
type Sats int64

// UnmarshalJSON parses a JSON number of BTC into satoshis; a value that is
// not a whole number of satoshis is an error.
func (s *Sats) UnmarshalJSON(b []byte) error {
	v, err := ParseBTCAmount(string(b))
	if err != nil {
		return err
	}
	*s = Sats(v)
	return nil
}

var satsPerBTC = big.NewRat(100_000_000, 1)

// ParseBTCAmount parses a decimal BTC amount ("50", "0.0001", "1e-07") into
// satoshis exactly.
func ParseBTCAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 || strings.ContainsAny(s, "/\"") {
		return 0, fmt.Errorf("%w: btc amount %q is not a decimal number", ErrResponse, s)
	}
	// An exponent is allowed (btcd prints small amounts as 1e-05) but
	// bounded: big.Rat would happily build 10^999999999.
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp < -30 || exp > 30 {
			return 0, fmt.Errorf("%w: btc amount %q: exponent out of range", ErrResponse, s)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%w: btc amount %q is not a decimal number", ErrResponse, s)
	}
	r.Mul(r, satsPerBTC)
	if !r.IsInt() || r.Sign() < 0 || !r.Num().IsInt64() {
		return 0, fmt.Errorf("%w: btc amount %q is not a whole, non-negative number of satoshis", ErrResponse, s)
	}
	return r.Num().Int64(), nil
}

// UTXO is one unspent output found at one of the queried addresses.
type UTXO struct {
	// Outpoint is "txid:vout".
	Outpoint      string
	Address       string
	AmountSat     int64
	PrevTxHex     string
	Confirmations int64
	Coinbase      bool

	addrIndex int
}

// UTXOQuery selects the outputs UTXOs returns.
type UTXOQuery struct {
	Addresses []string
	// MinConf is the least number of confirmations (0: mempool outputs too).
	MinConf int64
	// CoinbaseMaturity: immature coinbase outputs are left out (0: DefaultCoinbaseMaturity).
	CoinbaseMaturity int64
}

type searchTx struct {
	Hex           string `json:"hex"`
	TxID          string `json:"txid"`
	Confirmations int64  `json:"confirmations"`
	Vout          []struct {
		Value        Sats   `json:"value"`
		N            uint32 `json:"n"`
		ScriptPubKey struct {
			Hex       string   `json:"hex"`
			Addresses []string `json:"addresses"`
		} `json:"scriptPubKey"`
	} `json:"vout"`
}

// TxOut is gettxout's answer for an unspent output.
type TxOut struct {
	Confirmations int64 `json:"confirmations"`
	Value         Sats  `json:"value"`
	Coinbase      bool  `json:"coinbase"`
	ScriptPubKey  struct {
		Hex string `json:"hex"`
	} `json:"scriptPubKey"`
}

// TxOut returns the unspent output txid:vout, or nil when it is spent
// (counting the mempool when mempool is true) or unknown.
func (b *BTC) TxOut(ctx context.Context, txid string, vout uint32, mempool bool) (*TxOut, error) {
	var out *TxOut
	if err := b.c.Call(ctx, "gettxout", []any{txid, vout, mempool}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UTXOs lists the unspent outputs paying q.Addresses, each with its whole
// previous transaction, sorted by address order then outpoint. It finds
// candidate transactions with searchrawtransactions (btcd --addrindex) and
// keeps the outputs gettxout still reports unspent (mempool included).
func (b *BTC) UTXOs(ctx context.Context, q UTXOQuery) ([]UTXO, error) {
	maturity := q.CoinbaseMaturity
	if maturity <= 0 {
		maturity = DefaultCoinbaseMaturity
	}
	var out []UTXO
	seen := map[string]bool{}
	for ai, addr := range q.Addresses {
		for skip := 0; ; skip += searchPage {
			var txs []searchTx
			err := b.c.Call(ctx, "searchrawtransactions", []any{addr, 1, skip, searchPage, 0, false}, &txs)
			var ne *NodeError
			if errors.As(err, &ne) && ne.Code == btcdNoTxInfo {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("addresses[%d] %s: %w", ai, addr, err)
			}
			for _, tx := range txs {
				if _, err := hex.DecodeString(tx.Hex); err != nil || tx.Hex == "" || len(tx.TxID) != 64 {
					return nil, fmt.Errorf("%w: searchrawtransactions %s: transaction %q: bad hex or txid", ErrResponse, addr, tx.TxID)
				}
				for _, v := range tx.Vout {
					if !containsFold(v.ScriptPubKey.Addresses, addr) {
						continue
					}
					op := tx.TxID + ":" + strconv.FormatUint(uint64(v.N), 10)
					if seen[op] {
						continue
					}
					seen[op] = true
					to, err := b.TxOut(ctx, tx.TxID, v.N, true)
					if err != nil {
						return nil, fmt.Errorf("addresses[%d] %s: %w", ai, addr, err)
					}
					if to == nil || to.Confirmations < q.MinConf || (to.Coinbase && to.Confirmations < maturity) {
						continue
					}
					if to.Value != v.Value || !strings.EqualFold(to.ScriptPubKey.Hex, v.ScriptPubKey.Hex) {
						return nil, fmt.Errorf("%w: %s: gettxout and searchrawtransactions disagree", ErrResponse, op)
					}
					out = append(out, UTXO{Outpoint: op, Address: addr, AmountSat: int64(v.Value), PrevTxHex: tx.Hex,
						Confirmations: to.Confirmations, Coinbase: to.Coinbase, addrIndex: ai})
				}
			}
			if len(txs) < searchPage {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].addrIndex != out[j].addrIndex {
			return out[i].addrIndex < out[j].addrIndex
		}
		return out[i].Outpoint < out[j].Outpoint
	})
	return out, nil
}

// SendRawTransaction broadcasts a raw transaction (hex) and returns its txid.
func (b *BTC) SendRawTransaction(ctx context.Context, rawHex string) (string, error) {
	var txid string
	if err := b.c.Call(ctx, "sendrawtransaction", []any{strings.TrimSpace(rawHex)}, &txid); err != nil {
		return "", err
	}
	if len(txid) != 64 {
		return "", fmt.Errorf("%w: sendrawtransaction: txid %q", ErrResponse, txid)
	}
	return txid, nil
}

// Generate mines n blocks (regtest/simnet) and returns their hashes.
func (b *BTC) Generate(ctx context.Context, n int) ([]string, error) {
	var hashes []string
	if err := b.c.Call(ctx, "generate", []any{n}, &hashes); err != nil {
		return nil, err
	}
	if len(hashes) != n {
		return nil, fmt.Errorf("%w: generate %d returned %d hashes", ErrResponse, n, len(hashes))
	}
	return hashes, nil
}

// BlockCount returns the height of the best chain.
func (b *BTC) BlockCount(ctx context.Context) (int64, error) {
	var h int64
	err := b.c.Call(ctx, "getblockcount", nil, &h)
	return h, err
}

// TxInfo is what getrawtransaction (verbose) says about a transaction.
type TxInfo struct {
	TxID          string `json:"txid"`
	Hex           string `json:"hex"`
	BlockHash     string `json:"blockhash"`
	Confirmations int64  `json:"confirmations"`
	Vsize         int64  `json:"vsize"`
	Vin           []struct {
		TxID string `json:"txid"`
		Vout uint32 `json:"vout"`
	} `json:"vin"`
	Vout []struct {
		Value        Sats   `json:"value"`
		N            uint32 `json:"n"`
		ScriptPubKey struct {
			Hex       string   `json:"hex"`
			Addresses []string `json:"addresses"`
		} `json:"scriptPubKey"`
	} `json:"vout"`
}

// Transaction returns the verbose view of txid (btcd --txindex).
func (b *BTC) Transaction(ctx context.Context, txid string) (*TxInfo, error) {
	var t TxInfo
	if err := b.c.Call(ctx, "getrawtransaction", []any{txid, 1}, &t); err != nil {
		return nil, err
	}
	if t.TxID != txid {
		return nil, fmt.Errorf("%w: getrawtransaction %s returned %q", ErrResponse, txid, t.TxID)
	}
	return &t, nil
}

// Mempool lists the txids in the node's mempool.
func (b *BTC) Mempool(ctx context.Context) ([]string, error) {
	var ids []string
	err := b.c.Call(ctx, "getrawmempool", []any{false}, &ids)
	return ids, err
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

var _ json.Unmarshaler = (*Sats)(nil)
