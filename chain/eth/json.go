package eth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// UnsignedTx is an unsigned transaction plus its sender, in plain Go types
// (no go-ethereum types leak out of this package). It is the in-memory form
// of the JSON payload (docs/eth-tx-json.md); EncodeUnsigned turns it into the
// binary payload. Addresses are "0x" + 40 hex digits.
type UnsignedTx struct {
	From     string
	Type     TxType
	ChainID  uint64
	Nonce    uint64
	To       string
	Value    *big.Int // nil means 0
	GasLimit uint64
	// GasPrice is used by legacy and eip2930 only.
	GasPrice *big.Int
	// MaxFeePerGas and MaxPriorityFeePerGas are used by eip1559 only.
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	Data                 []byte
	// AccessList is used by eip2930 and eip1559 only.
	AccessList []AccessTuple
}

// AccessTuple is one EIP-2930 access list entry. StorageKeys are "0x" + 64 hex digits.
type AccessTuple struct {
	Address     string
	StorageKeys []string
}

// jsonTx is the wire shape of the JSON form. Quantities are raw so that
// numbers can be refused with a clear message.
type jsonTx struct {
	From                 json.RawMessage   `json:"from"`
	Type                 json.RawMessage   `json:"type"`
	ChainID              json.RawMessage   `json:"chainId"`
	Nonce                json.RawMessage   `json:"nonce"`
	To                   json.RawMessage   `json:"to"`
	Value                json.RawMessage   `json:"value"`
	GasLimit             json.RawMessage   `json:"gasLimit"`
	GasPrice             json.RawMessage   `json:"gasPrice"`
	MaxFeePerGas         json.RawMessage   `json:"maxFeePerGas"`
	MaxPriorityFeePerGas json.RawMessage   `json:"maxPriorityFeePerGas"`
	Data                 json.RawMessage   `json:"data"`
	AccessList           []jsonAccessTuple `json:"accessList"`
}

type jsonAccessTuple struct {
	Address     json.RawMessage   `json:"address"`
	StorageKeys []json.RawMessage `json:"storageKeys"`
}

var (
	topKeys   = []string{"from", "type", "chainId", "nonce", "to", "value", "gasLimit", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "data", "accessList"}
	tupleKeys = []string{"address", "storageKeys"}
)

// maxJSONBytes caps ParseJSON input when it is called directly (the Adapter
// applies its own, usually equal, cap first).
const maxJSONBytes = DefaultMaxTxBytes

// ParseJSON strictly decodes the JSON form (docs/eth-tx-json.md): one object,
// exact case-sensitive field names, no unknown or duplicate fields, no
// trailing data, quantities as strings only (hex "0x…" or decimal, no leading
// zeros, never JSON numbers), fields valid for the declared type only. It
// checks syntax, not policy: the Adapter checks chain id and sender.
func ParseJSON(data []byte) (UnsignedTx, error) {
	if len(data) > maxJSONBytes {
		return UnsignedTx{}, fieldErr(ErrTooLarge, "payload", "JSON payload is %d bytes, cap is %d", len(data), maxJSONBytes)
	}
	return parseJSON(data)
}

// parseJSON is ParseJSON without the default size cap (the Adapter applies
// its configured cap first).
func parseJSON(data []byte) (UnsignedTx, error) {
	if err := checkJSONKeys(data); err != nil {
		return UnsignedTx{}, err
	}
	var j jsonTx
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return UnsignedTx{}, fieldErr(ErrMalformed, "payload", "JSON: %v", err)
	}
	var (
		u   UnsignedTx
		err error
	)
	typ, err := jsonString("type", j.Type, true)
	if err != nil {
		return UnsignedTx{}, err
	}
	u.Type = TxType(typ)
	switch u.Type {
	case TypeLegacy, TypeEIP2930, TypeEIP1559:
	case "eip4844", "blob":
		return UnsignedTx{}, fieldErr(ErrUnsupportedType, "type", "type %q (EIP-4844 blob transaction) is not signed by Icebox", typ)
	case "eip7702", "setcode", "set-code":
		return UnsignedTx{}, fieldErr(ErrUnsupportedType, "type", "type %q (EIP-7702 set-code transaction) is not signed by Icebox", typ)
	default:
		return UnsignedTx{}, fieldErr(ErrUnsupportedType, "type", "type %q is not one of legacy, eip2930, eip1559", typ)
	}
	if u.From, err = jsonString("from", j.From, true); err != nil {
		return UnsignedTx{}, err
	}
	if j.To == nil || string(j.To) == "null" {
		return UnsignedTx{}, fieldErr(ErrContractCreation, "to", "to is missing: contract creation is not signed by Icebox")
	}
	if u.To, err = jsonString("to", j.To, true); err != nil {
		return UnsignedTx{}, err
	}
	if j.ChainID == nil {
		return UnsignedTx{}, fieldErr(ErrChainID, "chainId", "chainId is missing: it is mandatory (EIP-155 replay protection)")
	}
	if u.ChainID, err = jsonUint64("chainId", j.ChainID, true); err != nil {
		return UnsignedTx{}, err
	}
	if u.Nonce, err = jsonUint64("nonce", j.Nonce, true); err != nil {
		return UnsignedTx{}, err
	}
	if u.GasLimit, err = jsonUint64("gasLimit", j.GasLimit, true); err != nil {
		return UnsignedTx{}, err
	}
	if u.Value, err = jsonQuantity("value", j.Value, false); err != nil {
		return UnsignedTx{}, err
	}
	legacyFees := u.Type != TypeEIP1559
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		want bool
		dst  **big.Int
	}{
		{"gasPrice", j.GasPrice, legacyFees, &u.GasPrice},
		{"maxFeePerGas", j.MaxFeePerGas, !legacyFees, &u.MaxFeePerGas},
		{"maxPriorityFeePerGas", j.MaxPriorityFeePerGas, !legacyFees, &u.MaxPriorityFeePerGas},
	} {
		if !f.want {
			if f.raw != nil {
				return UnsignedTx{}, fieldErr(ErrUnknownField, f.name, "%s is not a field of a %s transaction", f.name, u.Type)
			}
			continue
		}
		if *f.dst, err = jsonQuantity(f.name, f.raw, true); err != nil {
			return UnsignedTx{}, err
		}
	}
	if j.Data != nil {
		s, err := jsonString("data", j.Data, true)
		if err != nil {
			return UnsignedTx{}, err
		}
		if u.Data, err = decodeHexBytes("data", s, -1); err != nil {
			return UnsignedTx{}, err
		}
	}
	if j.AccessList != nil {
		if u.Type == TypeLegacy {
			return UnsignedTx{}, fieldErr(ErrUnknownField, "accessList", "accessList is not a field of a legacy transaction")
		}
		u.AccessList = make([]AccessTuple, len(j.AccessList))
		for i, t := range j.AccessList {
			field := fmt.Sprintf("accessList[%d].address", i)
			if u.AccessList[i].Address, err = jsonString(field, t.Address, true); err != nil {
				return UnsignedTx{}, err
			}
			if t.StorageKeys == nil {
				return UnsignedTx{}, fieldErr(ErrMalformed, fmt.Sprintf("accessList[%d].storageKeys", i), "accessList[%d].storageKeys is missing (use [])", i)
			}
			u.AccessList[i].StorageKeys = make([]string, len(t.StorageKeys))
			for k, sk := range t.StorageKeys {
				if u.AccessList[i].StorageKeys[k], err = jsonString(fmt.Sprintf("accessList[%d].storageKeys[%d]", i, k), sk, true); err != nil {
					return UnsignedTx{}, err
				}
			}
		}
	}
	// Validate addresses, lengths and types by building the transaction.
	if _, _, err := u.toGeth(); err != nil {
		return UnsignedTx{}, err
	}
	return u, nil
}

// checkJSONKeys walks the JSON tokens: exactly one top-level object, keys from
// the allowed sets (case-sensitive), no duplicate keys, nothing after it.
func checkJSONKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fieldErr(ErrMalformed, "payload", "JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fieldErr(ErrMalformed, "payload", "JSON payload must be an object")
	}
	if err := walkObject(dec, "", topKeys, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fieldErr(ErrTrailingBytes, "payload", "JSON: data after the transaction object")
	}
	return nil
}

const maxJSONDepth = 6

// walkObject consumes an object whose '{' was already read. allowed == nil
// allows any key (objects that the struct decoder will reject by type).
func walkObject(dec *json.Decoder, path string, allowed []string, depth int) error {
	if depth > maxJSONDepth {
		return fieldErr(ErrMalformed, path, "JSON nested too deeply at %q", path)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fieldErr(ErrMalformed, path, "JSON: %v", err)
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return fieldErr(ErrDuplicateField, field, "field %q appears twice", field)
		}
		seen[key] = true
		if allowed != nil && !contains(allowed, key) {
			return fieldErr(ErrUnknownField, field, "unknown field %q", field)
		}
		var childKeys []string
		if path == "" && key == "accessList" {
			childKeys = tupleKeys
		}
		if err := walkValue(dec, field, childKeys, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fieldErr(ErrMalformed, path, "JSON: %v", err)
	}
	return nil
}

// walkValue consumes one value. childKeys applies to objects inside an array
// at this position (the access list tuples).
func walkValue(dec *json.Decoder, path string, childKeys []string, depth int) error {
	return walk(dec, path, childKeys, childKeys, depth)
}

// walk consumes one value: an object is checked against objKeys, each
// element of an array is walked with elemKeys for its objects (and nothing
// deeper).
func walk(dec *json.Decoder, path string, objKeys, elemKeys []string, depth int) error {
	if depth > maxJSONDepth {
		return fieldErr(ErrMalformed, path, "JSON nested too deeply at %q", path)
	}
	tok, err := dec.Token()
	if err != nil {
		return fieldErr(ErrMalformed, path, "JSON: %v", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return walkObject(dec, path, objKeys, depth)
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walk(dec, fmt.Sprintf("%s[%d]", path, i), elemKeys, nil, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return fieldErr(ErrMalformed, path, "JSON: %v", err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsonString decodes a JSON string field. required: absent is an error.
func jsonString(field string, raw json.RawMessage, required bool) (string, error) {
	if raw == nil {
		if required {
			return "", fieldErr(ErrMalformed, field, "%s is missing", field)
		}
		return "", nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", fieldErr(ErrMalformed, field, "%s must be a JSON string, got %.20s", field, raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(ErrMalformed, field, "%s: %v", field, err)
	}
	return s, nil
}

// jsonQuantity decodes a quantity string: "0x" + hex without leading zeros,
// or decimal digits without leading zeros; at most 256 bits. Absent and not
// required: nil.
func jsonQuantity(field string, raw json.RawMessage, required bool) (*big.Int, error) {
	if raw != nil && len(raw) > 0 && raw[0] != '"' {
		return nil, fieldErr(ErrMalformed, field, "%s must be a string (hex \"0x…\" or decimal), not a JSON number or other value", field)
	}
	s, err := jsonString(field, raw, required)
	if err != nil || raw == nil {
		return nil, err
	}
	return parseQuantity(field, s)
}

func parseQuantity(field, s string) (*big.Int, error) {
	var (
		digits string
		base   int
	)
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		digits, base = h, 16
	} else {
		digits, base = s, 10
	}
	if digits == "" {
		return nil, fieldErr(ErrMalformed, field, "%s is empty", field)
	}
	if len(digits) > 1 && digits[0] == '0' {
		return nil, fieldErr(ErrMalformed, field, "%s %q has leading zeros", field, s)
	}
	if len(digits) > 80 {
		return nil, fieldErr(ErrMalformed, field, "%s is too long", field)
	}
	for _, c := range digits {
		ok := c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
		if !ok {
			return nil, fieldErr(ErrMalformed, field, "%s %q is not a %s quantity", field, s, map[int]string{10: "decimal", 16: "hex"}[base])
		}
	}
	v, ok := new(big.Int).SetString(digits, base)
	if !ok || v.Cmp(maxUint256) > 0 {
		return nil, fieldErr(ErrMalformed, field, "%s does not fit in 256 bits", field)
	}
	return v, nil
}

func jsonUint64(field string, raw json.RawMessage, required bool) (uint64, error) {
	v, err := jsonQuantity(field, raw, required)
	if err != nil || v == nil {
		return 0, err
	}
	if !v.IsUint64() {
		return 0, fieldErr(ErrMalformed, field, "%s does not fit in 64 bits", field)
	}
	return v.Uint64(), nil
}

// decodeHexBytes decodes "0x"-prefixed hex; want >= 0 demands that many bytes.
func decodeHexBytes(field, s string, want int) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, fieldErr(ErrMalformed, field, "%s must start with 0x", field)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fieldErr(ErrMalformed, field, "%s is not hex: %v", field, err)
	}
	if want >= 0 && len(b) != want {
		return nil, fieldErr(ErrMalformed, field, "%s is %d bytes, want %d", field, len(b), want)
	}
	return b, nil
}

// parseAddress accepts "0x" + 40 hex digits, all lower-case, all upper-case,
// or a mixed-case string that is a valid EIP-55 checksum.
func parseAddress(field, s string) (common.Address, error) {
	b, err := decodeHexBytes(field, s, common.AddressLength)
	if err != nil {
		return common.Address{}, err
	}
	a := common.BytesToAddress(b)
	h := s[2:]
	if h != strings.ToLower(h) && h != strings.ToUpper(h) && a.Hex() != s {
		return common.Address{}, fieldErr(ErrMalformed, field, "%s %s has a wrong EIP-55 checksum", field, s)
	}
	return a, nil
}

// toGeth validates u and builds the go-ethereum transaction and sender.
func (u UnsignedTx) toGeth() (*types.Transaction, common.Address, error) {
	from, err := parseAddress("from", u.From)
	if err != nil {
		return nil, common.Address{}, err
	}
	if u.To == "" {
		return nil, common.Address{}, fieldErr(ErrContractCreation, "to", "to is empty: contract creation is not signed by Icebox")
	}
	to, err := parseAddress("to", u.To)
	if err != nil {
		return nil, common.Address{}, err
	}
	if u.ChainID == 0 {
		return nil, common.Address{}, fieldErr(ErrChainID, "chainId", "chainId is missing or 0")
	}
	value := u.Value
	if value == nil {
		value = new(big.Int)
	}
	for _, q := range []struct {
		name string
		v    *big.Int
	}{{"value", value}, {"gasPrice", u.GasPrice}, {"maxFeePerGas", u.MaxFeePerGas}, {"maxPriorityFeePerGas", u.MaxPriorityFeePerGas}} {
		if q.v != nil && (q.v.Sign() < 0 || q.v.Cmp(maxUint256) > 0) {
			return nil, common.Address{}, fieldErr(ErrMalformed, q.name, "%s is negative or above 256 bits", q.name)
		}
	}
	var al types.AccessList
	if u.AccessList != nil {
		if u.Type == TypeLegacy {
			return nil, common.Address{}, fieldErr(ErrUnknownField, "accessList", "accessList is not a field of a legacy transaction")
		}
		al = make(types.AccessList, len(u.AccessList))
		for i, t := range u.AccessList {
			a, err := parseAddress(fmt.Sprintf("accessList[%d].address", i), t.Address)
			if err != nil {
				return nil, common.Address{}, err
			}
			al[i] = types.AccessTuple{Address: a, StorageKeys: make([]common.Hash, len(t.StorageKeys))}
			for k, sk := range t.StorageKeys {
				b, err := decodeHexBytes(fmt.Sprintf("accessList[%d].storageKeys[%d]", i, k), sk, common.HashLength)
				if err != nil {
					return nil, common.Address{}, err
				}
				al[i].StorageKeys[k] = common.BytesToHash(b)
			}
		}
	}
	need := func(name string, v *big.Int, want bool) error {
		switch {
		case want && v == nil:
			return fieldErr(ErrMalformed, name, "%s is required for a %s transaction", name, u.Type)
		case !want && v != nil:
			return fieldErr(ErrUnknownField, name, "%s is not a field of a %s transaction", name, u.Type)
		}
		return nil
	}
	legacyFees := u.Type != TypeEIP1559
	if err := errors.Join(need("gasPrice", u.GasPrice, legacyFees), need("maxFeePerGas", u.MaxFeePerGas, !legacyFees),
		need("maxPriorityFeePerGas", u.MaxPriorityFeePerGas, !legacyFees)); err != nil {
		return nil, common.Address{}, firstErr(err)
	}
	chainID := new(big.Int).SetUint64(u.ChainID)
	data := bytes.Clone(u.Data)
	var inner types.TxData
	switch u.Type {
	case TypeLegacy:
		inner = &types.LegacyTx{Nonce: u.Nonce, GasPrice: u.GasPrice, Gas: u.GasLimit, To: &to, Value: value, Data: data}
	case TypeEIP2930:
		inner = &types.AccessListTx{ChainID: chainID, Nonce: u.Nonce, GasPrice: u.GasPrice, Gas: u.GasLimit, To: &to, Value: value, Data: data, AccessList: al}
	case TypeEIP1559:
		inner = &types.DynamicFeeTx{ChainID: chainID, Nonce: u.Nonce, GasTipCap: u.MaxPriorityFeePerGas, GasFeeCap: u.MaxFeePerGas, Gas: u.GasLimit, To: &to, Value: value, Data: data, AccessList: al}
	default:
		return nil, common.Address{}, fieldErr(ErrUnsupportedType, "type", "type %q is not one of legacy, eip2930, eip1559", u.Type)
	}
	return types.NewTx(inner), from, nil
}

// firstErr unwraps an errors.Join result to its first error.
func firstErr(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

// EncodeUnsigned validates u (syntax only: addresses, lengths, the fields of
// its type, no contract creation) and returns the binary payload
// RLP [from (20 bytes), unsignedTx], where unsignedTx is exactly the bytes
// whose keccak256 is the signing hash. This is what the hot wallet puts in a
// request; Adapter.Parse accepts it.
func EncodeUnsigned(u UnsignedTx) ([]byte, error) {
	tx, from, err := u.toGeth()
	if err != nil {
		return nil, err
	}
	raw, err := encodeUnsigned(tx, new(big.Int).SetUint64(u.ChainID))
	if err != nil {
		return nil, err
	}
	return encodeEnvelope(from, raw)
}

// EncodeJSON renders u in the JSON form (hex quantities, lower-case hex data,
// EIP-55 addresses), after the same validation as EncodeUnsigned.
func EncodeJSON(u UnsignedTx) ([]byte, error) {
	tx, from, err := u.toGeth()
	if err != nil {
		return nil, err
	}
	q := func(v *big.Int) string { return "0x" + v.Text(16) }
	m := map[string]any{
		"from":     from.Hex(),
		"type":     string(u.Type),
		"chainId":  q(new(big.Int).SetUint64(u.ChainID)),
		"nonce":    q(new(big.Int).SetUint64(tx.Nonce())),
		"to":       tx.To().Hex(),
		"value":    q(tx.Value()),
		"gasLimit": q(new(big.Int).SetUint64(tx.Gas())),
		"data":     "0x" + hex.EncodeToString(tx.Data()),
	}
	if u.Type == TypeEIP1559 {
		m["maxFeePerGas"] = q(tx.GasFeeCap())
		m["maxPriorityFeePerGas"] = q(tx.GasTipCap())
	} else {
		m["gasPrice"] = q(tx.GasPrice())
	}
	if u.Type != TypeLegacy {
		al := []map[string]any{}
		for _, t := range tx.AccessList() {
			keys := []string{}
			for _, k := range t.StorageKeys {
				keys = append(keys, k.Hex())
			}
			al = append(al, map[string]any{"address": t.Address.Hex(), "storageKeys": keys})
		}
		m["accessList"] = al
	}
	return json.Marshal(m)
}
