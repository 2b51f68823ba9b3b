package eth

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
)

// Default size caps.
const (
	DefaultMaxTxBytes       = 128 << 10
	DefaultMaxCalldataBytes = 64 << 10
)

// Config configures an Adapter. The zero value is not usable: Network is required.
type Config struct {
	// Network is "eth-<chain id>" (decimal, e.g. "eth-1337"); the chain id
	// every transaction must carry is parsed from it.
	Network chain.Network
	// Keys are our HSM keys; their addresses are the only accepted senders and
	// decide which outputs are Change.
	Keys []chain.OwnKey
	// MaxTxBytes caps a payload before decoding (0: DefaultMaxTxBytes).
	MaxTxBytes int
	// MaxCalldataBytes caps the calldata (0: DefaultMaxCalldataBytes).
	MaxCalldataBytes int
}

// Adapter parses and signs Ethereum transactions for one chain id. It is
// immutable after NewAdapter and safe for concurrent use.
type Adapter struct {
	network     chain.Network
	chainID     *big.Int
	signer      types.Signer
	keys        map[common.Address]chain.OwnKey
	maxTx       int
	maxCalldata int
}

var _ chain.Adapter = (*Adapter)(nil)

// NewAdapter validates cfg and returns an Adapter. Errors wrap ErrConfig.
func NewAdapter(cfg Config) (*Adapter, error) {
	id, err := parseNetwork(cfg.Network)
	if err != nil {
		return nil, err
	}
	a := &Adapter{
		network:     cfg.Network,
		chainID:     new(big.Int).SetUint64(id),
		keys:        make(map[common.Address]chain.OwnKey, len(cfg.Keys)),
		maxTx:       cfg.MaxTxBytes,
		maxCalldata: cfg.MaxCalldataBytes,
	}
	a.signer = types.LatestSignerForChainID(a.chainID)
	if a.maxTx == 0 {
		a.maxTx = DefaultMaxTxBytes
	}
	if a.maxCalldata == 0 {
		a.maxCalldata = DefaultMaxCalldataBytes
	}
	if a.maxTx < 0 || a.maxCalldata < 0 {
		return nil, fmt.Errorf("%w: negative size cap", ErrConfig)
	}
	for i, k := range cfg.Keys {
		addrHex, err := Address(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d (%s): %w", ErrConfig, i, k.Ref, err)
		}
		addr := common.HexToAddress(addrHex)
		if prev, dup := a.keys[addr]; dup {
			return nil, fmt.Errorf("%w: keys %s and %s have the same address %s", ErrConfig, prev.Ref, k.Ref, addrHex)
		}
		a.keys[addr] = chain.OwnKey{Ref: k.Ref, PublicKey: bytes.Clone(k.PublicKey)}
	}
	return a, nil
}

func parseNetwork(n chain.Network) (uint64, error) {
	s, ok := strings.CutPrefix(string(n), "eth-")
	if !ok {
		return 0, fmt.Errorf("%w: network %q is not an Ethereum network (want eth-<chain id>)", ErrConfig, n)
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 || chain.EthereumNetwork(id) != n {
		return 0, fmt.Errorf("%w: network %q: chain id must be a positive decimal without leading zeros", ErrConfig, n)
	}
	return id, nil
}

// Network returns the configured network.
func (a *Adapter) Network() chain.Network { return a.network }

// ChainID returns the configured chain id.
func (a *Adapter) ChainID() uint64 { return a.chainID.Uint64() }

// Parse decodes an untrusted payload: either the binary envelope
// RLP [from (20 bytes), unsignedTx] or the JSON form of docs/eth-tx-json.md
// (told apart by the first non-space byte: '{' is JSON, an RLP list is
// ≥ 0xc0). The size cap is checked before anything is decoded. On success the
// returned chain.Tx is an *Tx; on failure the error is a *FieldError wrapping
// one of the package sentinels.
func (a *Adapter) Parse(payload []byte) (chain.Tx, error) {
	t, err := a.ParseTx(payload)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTx is Parse returning the concrete type.
func (a *Adapter) ParseTx(payload []byte) (*Tx, error) {
	if len(payload) > a.maxTx {
		return nil, fieldErr(ErrTooLarge, "payload", "payload is %d bytes, cap is %d", len(payload), a.maxTx)
	}
	if isJSON(payload) {
		u, err := parseJSON(payload)
		if err != nil {
			return nil, err
		}
		payload, err = EncodeUnsigned(u)
		if err != nil {
			return nil, err
		}
	}
	from, raw, err := decodeEnvelope(payload)
	if err != nil {
		return nil, err
	}
	u, err := decodeUnsigned(raw)
	if err != nil {
		return nil, err
	}
	if err := a.checkTx(u.tx, u.chainID); err != nil {
		return nil, err
	}
	key, ok := a.keys[from]
	if !ok {
		return nil, fieldErr(ErrUnknownSender, "from", "from %s is not the address of any of our %d keys", from.Hex(), len(a.keys))
	}
	hash := a.signer.Hash(u.tx)
	if crypto.Keccak256Hash(raw) != hash {
		// Our strict decoder and go-ethereum disagree about what is signed: refuse.
		return nil, fieldErr(ErrMalformed, "tx", "signing payload does not re-encode to go-ethereum's signing hash")
	}
	sum, err := a.summarize(u.tx, from, hash, sha256.Sum256(payload))
	if err != nil {
		return nil, err
	}
	return &Tx{adapter: a, tx: u.tx, from: from, key: key.Ref, hash: hash, summary: sum}, nil
}

func isJSON(p []byte) bool {
	t := bytes.TrimLeft(p, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// checkTx validates what every accepted transaction must satisfy: chain id,
// recipient, 256-bit quantities, fee consistency, calldata cap.
func (a *Adapter) checkTx(tx *types.Transaction, chainID *big.Int) error {
	if chainID == nil || chainID.Sign() == 0 {
		return fieldErr(ErrChainID, "chainId", "chainId is missing or 0; configured network is %s", a.network)
	}
	if chainID.Cmp(a.chainID) != 0 {
		return fieldErr(ErrChainID, "chainId", "chainId %s does not match configured network %s", chainID, a.network)
	}
	if tx.To() == nil {
		return fieldErr(ErrContractCreation, "to", "to is empty: contract creation is not signed by Icebox")
	}
	for _, q := range []struct {
		name string
		v    *big.Int
	}{{"value", tx.Value()}, {"maxFeePerGas", tx.GasFeeCap()}, {"maxPriorityFeePerGas", tx.GasTipCap()}} {
		if q.v == nil || q.v.Sign() < 0 || q.v.Cmp(maxUint256) > 0 {
			return fieldErr(ErrFees, q.name, "%s does not fit in 256 bits", q.name)
		}
	}
	if tx.Type() == types.DynamicFeeTxType && tx.GasTipCap().Cmp(tx.GasFeeCap()) > 0 {
		return fieldErr(ErrFees, "maxPriorityFeePerGas", "maxPriorityFeePerGas %s is above maxFeePerGas %s", tx.GasTipCap(), tx.GasFeeCap())
	}
	if n := len(tx.Data()); n > a.maxCalldata {
		return fieldErr(ErrTooLarge, "data", "calldata is %d bytes, cap is %d", n, a.maxCalldata)
	}
	return nil
}

func (a *Adapter) ours(addr common.Address) bool {
	_, ok := a.keys[addr]
	return ok
}

// summarize decodes what tx does. hash is the signing hash, content the
// SHA-256 of the canonical binary payload.
func (a *Adapter) summarize(tx *types.Transaction, from common.Address, hash common.Hash, content [32]byte) (chain.Summary, error) {
	to := *tx.To()
	fee := new(big.Int).Mul(new(big.Int).SetUint64(tx.Gas()), tx.GasFeeCap())
	s := chain.Summary{
		Network:              a.network,
		ID:                   hash.Hex(),
		ContentHash:          content,
		Fee:                  fee,
		FeeRate:              new(big.Int).Set(tx.GasFeeCap()),
		From:                 from.Hex(),
		To:                   to.Hex(),
		Nonce:                tx.Nonce(),
		GasLimit:             tx.Gas(),
		MaxFeePerGas:         new(big.Int).Set(tx.GasFeeCap()),
		MaxPriorityFeePerGas: new(big.Int).Set(tx.GasTipCap()),
		ChainID:              a.chainID.Uint64(),
		TxType:               string(txTypeName(tx.Type())),
		Data:                 bytes.Clone(tx.Data()),
		Consumes:             []string{fmt.Sprintf("%s/nonce/%s/%d", a.network, strings.ToLower(from.Hex()), tx.Nonce())},
	}
	call, err := decodeERC20(tx.Data())
	if err != nil {
		return chain.Summary{}, err
	}
	value := tx.Value()
	switch {
	case call != nil:
		if value.Sign() != 0 {
			return chain.Summary{}, fieldErr(ErrTokenValue, "value", "value is %s wei on an ERC-20 %s call; token calls must send 0 ETH", value, call.method)
		}
		out := chain.Output{Address: call.to.Hex(), Asset: chain.ERC20(to.Hex()), Amount: call.amount, Change: a.ours(call.to)}
		if call.method == "approve" {
			s.Kind = chain.KindTokenApprove
			s.Approval = &out
		} else {
			s.Kind = chain.KindTokenTransfer
			s.Outputs = []chain.Output{out}
		}
	case len(tx.Data()) == 0:
		s.Kind = chain.KindTransfer
		s.Outputs = []chain.Output{{Address: to.Hex(), Asset: chain.AssetETH, Amount: new(big.Int).Set(value), Change: a.ours(to)}}
	default:
		s.Kind = chain.KindContractCall
		if value.Sign() != 0 {
			s.Outputs = []chain.Output{{Address: to.Hex(), Asset: chain.AssetETH, Amount: new(big.Int).Set(value), Change: a.ours(to)}}
		}
	}
	return s, nil
}

// Tx is a parsed unsigned Ethereum transaction whose sender is one of our
// keys. It is immutable; all methods are safe for concurrent use.
type Tx struct {
	adapter *Adapter
	tx      *types.Transaction
	from    common.Address
	key     hsm.KeyRef
	hash    common.Hash
	summary chain.Summary
}

var _ chain.Tx = (*Tx)(nil)

// Summary returns a deep copy of the decoded summary.
func (t *Tx) Summary() chain.Summary { return copySummary(t.summary) }

// SigningItems returns exactly one item: our sender key and the signing hash.
func (t *Tx) SigningItems() []chain.SigningItem {
	return []chain.SigningItem{{Key: t.key, Digest: hsm.Digest(t.hash)}}
}

var (
	secp256k1N     = crypto.S256().Params().N
	secp256k1HalfN = new(big.Int).Rsh(secp256k1N, 1)
)

// Attach takes the one HSM signature for SigningItems()[0], normalises it to
// low-S, finds the recovery id by trial recovery against From (refusing if
// neither recovers to it: that recovery is the signature's verification),
// builds the signed transaction, re-decodes the raw bytes strictly and
// checks they carry the same signing hash and exactly the verified (v, r,
// s), and returns the raw signed transaction (eth_sendRawTransaction bytes).
// The Tx is never modified; on failure nothing is returned.
func (t *Tx) Attach(sigs []hsm.Signature) ([]byte, error) {
	if len(sigs) != 1 {
		return nil, fieldErr(ErrSignature, "signature", "got %d signatures, want exactly 1", len(sigs))
	}
	r := new(big.Int).SetBytes(sigs[0].R[:])
	s := new(big.Int).SetBytes(sigs[0].S[:])
	if r.Sign() == 0 || r.Cmp(secp256k1N) >= 0 || s.Sign() == 0 || s.Cmp(secp256k1N) >= 0 {
		return nil, fieldErr(ErrSignature, "signature", "r or s is out of range")
	}
	if s.Cmp(secp256k1HalfN) > 0 {
		s.Sub(secp256k1N, s) // EIP-2: only low-S is valid
	}
	sig := make([]byte, 65)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:64])
	found := false
	for v := byte(0); v < 2; v++ {
		sig[64] = v
		pub, err := crypto.SigToPub(t.hash[:], sig)
		if err == nil && crypto.PubkeyToAddress(*pub) == t.from {
			found = true
			break
		}
	}
	if !found {
		return nil, fieldErr(ErrSignature, "signature", "signature does not recover to sender %s with either recovery id", t.from.Hex())
	}
	signed, err := t.tx.WithSignature(t.adapter.signer, sig)
	if err != nil {
		return nil, fieldErr(ErrSignature, "signature", "attach signature: %v", err)
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return nil, fieldErr(ErrSignature, "signature", "encode signed transaction: %v", err)
	}
	// Self-check of the bytes we hand out, without a second curve
	// operation: they decode strictly (as DecodeSigned decodes them), to the
	// same signing hash, carrying exactly the (v, r, s) whose recovery to
	// From was checked above. Sender recovery is a function of (hash, v, r,
	// s), so the decoded transaction recovers to From.
	back, err := t.adapter.decodeSignedTx(raw)
	if err != nil {
		return nil, fmt.Errorf("re-decode signed transaction: %w", err)
	}
	if t.adapter.signer.Hash(back) != t.hash {
		return nil, fieldErr(ErrSignature, "signature", "signed transaction does not re-decode to the transaction that was parsed")
	}
	bv, br, bs := back.RawSignatureValues()
	wantV := new(big.Int).SetUint64(uint64(sig[64]))
	if back.Type() == types.LegacyTxType {
		wantV.Add(wantV, new(big.Int).Add(new(big.Int).Lsh(t.adapter.chainID, 1), big.NewInt(35)))
	}
	if bv.Cmp(wantV) != 0 || br.Cmp(r) != 0 || bs.Cmp(s) != 0 {
		return nil, fieldErr(ErrSignature, "signature", "signed transaction does not carry the verified signature (v %s, want %s)", bv, wantV)
	}
	return raw, nil
}

func copySummary(s chain.Summary) chain.Summary {
	cp := func(b *big.Int) *big.Int {
		if b == nil {
			return nil
		}
		return new(big.Int).Set(b)
	}
	out := s
	out.Fee, out.FeeRate = cp(s.Fee), cp(s.FeeRate)
	out.MaxFeePerGas, out.MaxPriorityFeePerGas = cp(s.MaxFeePerGas), cp(s.MaxPriorityFeePerGas)
	out.Data = bytes.Clone(s.Data)
	out.Consumes = append([]string(nil), s.Consumes...)
	if s.Outputs != nil {
		out.Outputs = make([]chain.Output, len(s.Outputs))
		for i, o := range s.Outputs {
			o.Amount = cp(o.Amount)
			out.Outputs[i] = o
		}
	}
	if s.Approval != nil {
		a := *s.Approval
		a.Amount = cp(a.Amount)
		out.Approval = &a
	}
	return out
}
