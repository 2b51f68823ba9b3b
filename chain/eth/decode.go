package eth

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// TxType names the transaction types Icebox signs, as they appear in
// chain.Summary.TxType and in the JSON form's "type" field.
type TxType string

// Accepted transaction types.
const (
	TypeLegacy  TxType = "legacy"  // EIP-155 replay-protected legacy
	TypeEIP2930 TxType = "eip2930" // 0x01, access list
	TypeEIP1559 TxType = "eip1559" // 0x02, dynamic fee
)

// envelope is the binary payload: RLP list [from (20 bytes), unsigned tx].
type envelope struct {
	From []byte
	Tx   []byte
}

// unsigned is a decoded unsigned transaction. chainID is carried separately
// because an unsigned geth LegacyTx has no chain id field.
type unsigned struct {
	tx      *types.Transaction
	chainID *big.Int
}

// legacyUnsigned is the EIP-155 signing payload of a legacy transaction.
type legacyUnsigned struct {
	Nonce    uint64
	GasPrice *big.Int
	Gas      uint64
	To       []byte
	Value    *big.Int
	Data     []byte
	ChainID  *big.Int
	Zero1    uint64
	Zero2    uint64
}

// accessListUnsigned is the EIP-2930 signing payload after the 0x01 byte.
type accessListUnsigned struct {
	ChainID    *big.Int
	Nonce      uint64
	GasPrice   *big.Int
	Gas        uint64
	To         []byte
	Value      *big.Int
	Data       []byte
	AccessList types.AccessList
}

// dynamicFeeUnsigned is the EIP-1559 signing payload after the 0x02 byte.
type dynamicFeeUnsigned struct {
	ChainID    *big.Int
	Nonce      uint64
	GasTipCap  *big.Int
	GasFeeCap  *big.Int
	Gas        uint64
	To         []byte
	Value      *big.Int
	Data       []byte
	AccessList types.AccessList
}

// rlpErr turns an rlp decoding error into a refusal naming the field.
func rlpErr(field string, err error) error {
	if errors.Is(err, rlp.ErrMoreThanOneValue) {
		return fieldErr(ErrTrailingBytes, field, "%s: bytes after the RLP value", field)
	}
	return fieldErr(ErrMalformed, field, "%s: %v", field, err)
}

// decodeEnvelope splits the binary payload into sender and unsigned tx bytes.
func decodeEnvelope(payload []byte) (common.Address, []byte, error) {
	if len(payload) == 0 {
		return common.Address{}, nil, fieldErr(ErrMalformed, "payload", "payload is empty")
	}
	if payload[0] < 0xc0 {
		return common.Address{}, nil, fieldErr(ErrMalformed, "payload",
			"payload must be an RLP list [from, unsignedTx] or a JSON object, first byte is 0x%02x", payload[0])
	}
	var env envelope
	if err := rlp.DecodeBytes(payload, &env); err != nil {
		return common.Address{}, nil, rlpErr("payload", err)
	}
	if len(env.From) != common.AddressLength {
		return common.Address{}, nil, fieldErr(ErrMalformed, "from", "from is %d bytes, want 20", len(env.From))
	}
	// The RLP decoder is canonical; re-encoding must give the same bytes.
	again, err := rlp.EncodeToBytes(&env)
	if err != nil || !bytes.Equal(again, payload) {
		return common.Address{}, nil, fieldErr(ErrMalformed, "payload", "payload is not canonical RLP")
	}
	return common.BytesToAddress(env.From), env.Tx, nil
}

// decodeUnsigned strictly decodes the signing payload of a legacy (EIP-155),
// EIP-2930 or EIP-1559 transaction. Contract creation is refused here.
func decodeUnsigned(raw []byte) (unsigned, error) {
	if len(raw) == 0 {
		return unsigned{}, fieldErr(ErrMalformed, "tx", "unsigned transaction is empty")
	}
	switch b := raw[0]; {
	case b >= 0xc0:
		return decodeLegacy(raw)
	case b == types.AccessListTxType:
		var d accessListUnsigned
		if err := rlp.DecodeBytes(raw[1:], &d); err != nil {
			return unsigned{}, rlpErr("tx", err)
		}
		to, err := toAddress(d.To)
		if err != nil {
			return unsigned{}, err
		}
		return unsigned{chainID: d.ChainID, tx: types.NewTx(&types.AccessListTx{
			ChainID: d.ChainID, Nonce: d.Nonce, GasPrice: d.GasPrice, Gas: d.Gas,
			To: to, Value: d.Value, Data: d.Data, AccessList: d.AccessList,
		})}, nil
	case b == types.DynamicFeeTxType:
		var d dynamicFeeUnsigned
		if err := rlp.DecodeBytes(raw[1:], &d); err != nil {
			return unsigned{}, rlpErr("tx", err)
		}
		to, err := toAddress(d.To)
		if err != nil {
			return unsigned{}, err
		}
		return unsigned{chainID: d.ChainID, tx: types.NewTx(&types.DynamicFeeTx{
			ChainID: d.ChainID, Nonce: d.Nonce, GasTipCap: d.GasTipCap, GasFeeCap: d.GasFeeCap,
			Gas: d.Gas, To: to, Value: d.Value, Data: d.Data, AccessList: d.AccessList,
		})}, nil
	default:
		return unsigned{}, unsupportedType(b)
	}
}

func unsupportedType(b byte) error {
	switch b {
	case types.BlobTxType:
		return fieldErr(ErrUnsupportedType, "type", "type 3 (EIP-4844 blob transaction) is not signed by Icebox")
	case types.SetCodeTxType:
		return fieldErr(ErrUnsupportedType, "type", "type 4 (EIP-7702 set-code transaction) is not signed by Icebox")
	case 0:
		return fieldErr(ErrUnsupportedType, "type", "type byte 0x00 is not a valid typed transaction")
	}
	if b < 0x80 {
		return fieldErr(ErrUnsupportedType, "type", "unknown transaction type 0x%02x", b)
	}
	return fieldErr(ErrMalformed, "tx", "unsigned transaction starts with 0x%02x: neither an RLP list nor a type byte", b)
}

func decodeLegacy(raw []byte) (unsigned, error) {
	content, rest, err := rlp.SplitList(raw)
	if err != nil {
		return unsigned{}, rlpErr("tx", err)
	}
	if len(rest) != 0 {
		return unsigned{}, fieldErr(ErrTrailingBytes, "tx", "tx: %d bytes after the legacy RLP list", len(rest))
	}
	n, err := rlp.CountValues(content)
	if err != nil {
		return unsigned{}, rlpErr("tx", err)
	}
	switch n {
	case 9:
	case 6:
		return unsigned{}, fieldErr(ErrPreEIP155, "chainId",
			"legacy transaction has 6 fields and no chainId: pre-EIP-155 (replayable on every chain) is refused")
	default:
		return unsigned{}, fieldErr(ErrMalformed, "tx", "legacy transaction has %d fields, want 9 (EIP-155 signing payload)", n)
	}
	var d legacyUnsigned
	if err := rlp.DecodeBytes(raw, &d); err != nil {
		return unsigned{}, rlpErr("tx", err)
	}
	if d.Zero1 != 0 || d.Zero2 != 0 {
		return unsigned{}, fieldErr(ErrMalformed, "tx", "legacy EIP-155 payload must end in chainId, 0, 0")
	}
	to, err := toAddress(d.To)
	if err != nil {
		return unsigned{}, err
	}
	return unsigned{chainID: d.ChainID, tx: types.NewTx(&types.LegacyTx{
		Nonce: d.Nonce, GasPrice: d.GasPrice, Gas: d.Gas, To: to, Value: d.Value, Data: d.Data,
	})}, nil
}

func toAddress(b []byte) (*common.Address, error) {
	switch len(b) {
	case 0:
		return nil, fieldErr(ErrContractCreation, "to", "to is empty: contract creation is not signed by Icebox")
	case common.AddressLength:
		a := common.BytesToAddress(b)
		return &a, nil
	default:
		return nil, fieldErr(ErrMalformed, "to", "to is %d bytes, want 20", len(b))
	}
}

// encodeUnsigned returns the signing payload of tx for chainID: exactly the
// bytes whose keccak256 is the signer hash.
func encodeUnsigned(tx *types.Transaction, chainID *big.Int) ([]byte, error) {
	to := tx.To()
	if to == nil {
		return nil, fieldErr(ErrContractCreation, "to", "to is empty: contract creation is not signed by Icebox")
	}
	var (
		body any
		pre  []byte
	)
	switch tx.Type() {
	case types.LegacyTxType:
		body = &legacyUnsigned{tx.Nonce(), tx.GasPrice(), tx.Gas(), to.Bytes(), tx.Value(), tx.Data(), chainID, 0, 0}
	case types.AccessListTxType:
		pre = []byte{types.AccessListTxType}
		body = &accessListUnsigned{chainID, tx.Nonce(), tx.GasPrice(), tx.Gas(), to.Bytes(), tx.Value(), tx.Data(), accessListOrEmpty(tx.AccessList())}
	case types.DynamicFeeTxType:
		pre = []byte{types.DynamicFeeTxType}
		body = &dynamicFeeUnsigned{chainID, tx.Nonce(), tx.GasTipCap(), tx.GasFeeCap(), tx.Gas(), to.Bytes(), tx.Value(), tx.Data(), accessListOrEmpty(tx.AccessList())}
	default:
		return nil, unsupportedType(tx.Type())
	}
	enc, err := rlp.EncodeToBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: encode unsigned transaction: %v", ErrMalformed, err)
	}
	return append(pre, enc...), nil
}

func accessListOrEmpty(al types.AccessList) types.AccessList {
	if al == nil {
		return types.AccessList{}
	}
	return al
}

// encodeEnvelope returns the canonical binary payload RLP [from, unsignedTx].
func encodeEnvelope(from common.Address, unsignedTx []byte) ([]byte, error) {
	return rlp.EncodeToBytes(&envelope{From: from.Bytes(), Tx: unsignedTx})
}

func txTypeName(t uint8) TxType {
	switch t {
	case types.LegacyTxType:
		return TypeLegacy
	case types.AccessListTxType:
		return TypeEIP2930
	case types.DynamicFeeTxType:
		return TypeEIP1559
	}
	return TxType(fmt.Sprintf("type-%d", t))
}
