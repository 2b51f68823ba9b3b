package chain

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/icebox-custody/icebox/hsm"
)

// Network names one chain and network, e.g. "btc-mainnet", "btc-regtest",
// "eth-1", "eth-11155111", "eth-1337". It is bound into every digest.
type Network string

// Known Bitcoin networks.
const (
	BTCMainnet Network = "btc-mainnet"
	BTCTestnet Network = "btc-testnet"
	BTCRegtest Network = "btc-regtest"
	BTCSimnet  Network = "btc-simnet"
	BTCSignet  Network = "btc-signet"
)

// Family is the chain family of a network.
type Family string

// Chain families.
const (
	FamilyBTC Family = "btc"
	FamilyETH Family = "eth"
)

// Family returns FamilyBTC or FamilyETH, or "" for an unknown network.
func (n Network) Family() Family {
	switch {
	case strings.HasPrefix(string(n), "btc-"):
		return FamilyBTC
	case strings.HasPrefix(string(n), "eth-"):
		return FamilyETH
	default:
		return ""
	}
}

// EthereumNetwork returns the network name for an EIP-155 chain id.
func EthereumNetwork(chainID uint64) Network {
	return Network(fmt.Sprintf("eth-%d", chainID))
}

// Asset names what moves: "BTC", "ETH", or "erc20:0x<contract, lower-case>".
type Asset string

// Native assets.
const (
	AssetBTC Asset = "BTC"
	AssetETH Asset = "ETH"
)

// ERC20 returns the asset name of a token contract address.
func ERC20(contract string) Asset {
	return Asset("erc20:" + strings.ToLower(contract))
}

// IsToken reports whether the asset is an ERC-20 token.
func (a Asset) IsToken() bool { return strings.HasPrefix(string(a), "erc20:") }

// TxKind says what a single transaction does, as decoded.
type TxKind string

// Transaction kinds.
const (
	// KindTransfer moves the native asset (BTC, or ETH with empty calldata).
	KindTransfer TxKind = "transfer"
	// KindTokenTransfer is ERC-20 transfer or transferFrom.
	KindTokenTransfer TxKind = "token-transfer"
	// KindTokenApprove is ERC-20 approve (an allowance, not a movement).
	KindTokenApprove TxKind = "token-approve"
	// KindContractCall is any other calldata: policy decides.
	KindContractCall TxKind = "contract-call"
)

// Input is one Bitcoin input being spent.
type Input struct {
	// Outpoint is "txid:vout" with the txid in the usual display (reversed) hex.
	Outpoint string
	// Amount in satoshis, taken from the previous transaction we verified.
	Amount *big.Int
	// Ours reports whether one of our keys signs this input.
	Ours bool
	// Key is our key that signs it (zero when !Ours).
	Key hsm.KeyRef
	// ScriptType is "p2wpkh", "p2sh-p2wpkh", "p2wsh-multisig", "p2pkh" or another
	// decoded description.
	ScriptType string
}

// Output is one movement of value to an address.
type Output struct {
	// Address is the destination: a Bitcoin address for the network, or an
	// EIP-55 checksummed Ethereum address (for tokens, the token recipient).
	Address string
	Asset   Asset
	// Amount in base units (satoshi, wei, or the token's smallest unit).
	Amount *big.Int
	// Change is true when Address derives from one of our own manifest keys.
	Change bool
}

// Summary is the chain-neutral, decoded description of one unsigned
// transaction. Every field is computed by the adapter from the bytes.
type Summary struct {
	Network Network
	Kind    TxKind
	// ID identifies the transaction: the txid for Bitcoin (segwit: unchanged
	// by signing), the signing hash for Ethereum, both hex.
	ID string
	// ContentHash is SHA-256 of the unsigned transaction's canonical bytes;
	// the ledger uses it to tell "the same transaction again" from "different
	// content for the same outpoint/nonce".
	ContentHash [32]byte

	Inputs  []Input  // Bitcoin only
	Outputs []Output // value leaving (or staying with) us, per asset

	// Fee in the native asset's base units, computed by the adapter
	// (Bitcoin: inputs − outputs; Ethereum: the maximum, gasLimit × maxFee).
	Fee *big.Int
	// FeeRate: Bitcoin sat/vB × 1000 (milli-sat per vB, estimated after
	// signing); Ethereum the max fee per gas in wei.
	FeeRate *big.Int
	// VSize is the estimated virtual size of the signed Bitcoin transaction.
	VSize int64

	// Ethereum only.
	From                 string // EIP-55 address of our signing key
	To                   string // EIP-55 address called (token contract for tokens)
	Nonce                uint64
	GasLimit             uint64
	MaxFeePerGas         *big.Int // legacy: gasPrice
	MaxPriorityFeePerGas *big.Int // legacy: gasPrice
	ChainID              uint64
	TxType               string // "legacy", "eip2930", "eip1559"
	Data                 []byte // calldata, for display (contract calls)
	// Approval is set for ERC-20 approve: spender and allowance.
	Approval *Output

	// Consumes lists what this transaction uses up and that must never be
	// signed twice with different content: "btc-regtest/outpoint/<txid:vout>"
	// for each of our inputs, "eth-1337/nonce/<address>/<n>" for Ethereum.
	Consumes []string
}

// Totals returns the total leaving per asset, change excluded (fee not included).
func (s Summary) Totals() map[Asset]*big.Int {
	out := map[Asset]*big.Int{}
	for _, o := range s.Outputs {
		if o.Change {
			continue
		}
		t, ok := out[o.Asset]
		if !ok {
			t = new(big.Int)
			out[o.Asset] = t
		}
		t.Add(t, o.Amount)
	}
	return out
}

// SigningItem is one digest one of our keys must sign.
type SigningItem struct {
	Key    hsm.KeyRef
	Digest hsm.Digest
}

// Tx is a parsed unsigned transaction.
type Tx interface {
	// Summary is the decoded description (never from request claims).
	Summary() Summary
	// SigningItems lists every digest our keys must sign, in a fixed order.
	SigningItems() []SigningItem
	// Attach adds one signature per SigningItem (same order), verifies every
	// signature it added (script engine / sender recovery) and returns the
	// signed payload: a PSBT for Bitcoin, raw signed RLP for Ethereum.
	// It must not mutate the Tx on failure.
	Attach(sigs []hsm.Signature) ([]byte, error)
}

// Adapter parses untrusted transaction payloads for one network.
type Adapter interface {
	// Network is the one network this adapter accepts; any other is refused.
	Network() Network
	// Parse decodes a payload (size-capped before parsing) into a Tx.
	Parse(payload []byte) (Tx, error)
}

// OwnKey is one of our signing keys as the adapters see it: a key reference
// and its compressed secp256k1 public key (from the manifest / the HSM).
type OwnKey struct {
	Ref       hsm.KeyRef
	PublicKey []byte
}

// Progress is called after each signature during batch signing. It may be
// called from several goroutines, one call at a time.
type Progress func(done, total int)

// SignBatch signs every item of every transaction using up to workers
// concurrent HSM calls and attaches + self-verifies each transaction as
// soon as its last signature is in, on the worker that made it, so that
// verification runs beside the HSM instead of after it. All-or-nothing: on
// any error no signed payload is returned. The result's order matches txs.
//
// When signer is an hsm.UnverifiedSigner its unverified path is used:
// Tx.Attach verifies every signature before a signed payload exists, so the
// HSM layer need not check it a second time.
func SignBatch(ctx context.Context, signer hsm.Signer, txs []Tx, workers int, progress Progress) ([][]byte, error) {
	type job struct{ tx, item int }
	sign := signer.SignDigest
	if u, ok := signer.(hsm.UnverifiedSigner); ok {
		sign = u.SignDigestUnverified
	}
	items := make([][]SigningItem, len(txs))
	sigs := make([][]hsm.Signature, len(txs))
	left := make([]atomic.Int32, len(txs))
	out := make([][]byte, len(txs))
	total := 0
	for i, tx := range txs {
		items[i] = tx.SigningItems()
		sigs[i] = make([]hsm.Signature, len(items[i]))
		left[i].Store(int32(len(items[i])))
		total += len(items[i])
	}
	if workers < 1 {
		workers = 1
	}
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	done := 0
	attach := func(i int) error {
		signed, err := txs[i].Attach(sigs[i])
		if err != nil {
			return fmt.Errorf("attach signatures to transaction %d: %w", i, err)
		}
		out[i] = signed
		return nil
	}
	jobs := make(chan job)
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for j := range jobs {
				it := items[j.tx][j.item]
				sig, err := sign(gctx, it.Key, it.Digest)
				if err != nil {
					return fmt.Errorf("sign transaction %d input/item %d with key %s: %w", j.tx, j.item, it.Key, err)
				}
				sigs[j.tx][j.item] = sig
				if progress != nil {
					mu.Lock()
					done++
					progress(done, total)
					mu.Unlock()
				}
				// The worker that makes the last signature of a transaction
				// attaches it (the atomic orders every write to sigs[j.tx]).
				if left[j.tx].Add(-1) == 0 {
					if err := attach(j.tx); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	// A transaction without signing items is attached (and so checked)
	// like any other.
	g.Go(func() error {
		defer close(jobs)
		for i := range txs {
			if len(items[i]) == 0 {
				if err := attach(i); err != nil {
					return err
				}
				continue
			}
			for j := range items[i] {
				select {
				case jobs <- job{i, j}:
				case <-gctx.Done():
					return nil
				}
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
