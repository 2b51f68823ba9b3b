package eth

import (
	"errors"
	"fmt"
)

// Sentinel errors of the Ethereum adapter. Every refusal wraps exactly one of
// them (match with errors.Is) inside a *FieldError that names the field.
var (
	// ErrConfig: the adapter configuration is invalid (network, keys, caps).
	ErrConfig = errors.New("invalid ethereum adapter configuration")
	// ErrTooLarge: the payload or the calldata is over its configured cap
	// (checked before any decoding).
	ErrTooLarge = errors.New("too large")
	// ErrMalformed: the payload is not a well-formed transaction in one of
	// the accepted encodings (bad RLP, bad JSON, bad hex, wrong lengths).
	ErrMalformed = errors.New("malformed transaction")
	// ErrTrailingBytes: bytes follow the encoded value.
	ErrTrailingBytes = errors.New("trailing bytes")
	// ErrUnknownField: a JSON field that the format does not define, or a
	// field that the transaction type does not use.
	ErrUnknownField = errors.New("unknown field")
	// ErrDuplicateField: a JSON object repeats a key.
	ErrDuplicateField = errors.New("duplicate field")
	// ErrChainID: the chain id is missing or differs from the configured network.
	ErrChainID = errors.New("chain id mismatch")
	// ErrPreEIP155: a legacy transaction without replay protection.
	ErrPreEIP155 = errors.New("legacy transaction without EIP-155 chain id")
	// ErrUnsupportedType: a transaction type Icebox does not sign (blob,
	// set-code, unknown).
	ErrUnsupportedType = errors.New("transaction type not supported")
	// ErrContractCreation: the transaction has no recipient (deploys a contract).
	ErrContractCreation = errors.New("contract creation refused")
	// ErrUnknownSender: the sender is not the address of one of our keys.
	ErrUnknownSender = errors.New("sender is not one of our keys")
	// ErrCalldata: calldata with a known ERC-20 selector that does not decode strictly.
	ErrCalldata = errors.New("malformed ERC-20 calldata")
	// ErrTokenValue: ETH value sent along with an ERC-20 call.
	ErrTokenValue = errors.New("ETH value sent with a token call")
	// ErrFees: fee fields out of range or inconsistent (tip above fee cap).
	ErrFees = errors.New("invalid fee fields")
	// ErrSignature: a signature is invalid or does not recover to the sender.
	ErrSignature = errors.New("signature does not verify")
)

// FieldError is the typed error behind every refusal: Field names the
// transaction or payload field ("chainId", "calldata", "from", "payload"…),
// Reason says what is wrong in words an operator can act on, Err is one of the
// sentinels above. It never contains key material.
type FieldError struct {
	Field  string
	Reason string
	Err    error
}

// Error renders "<sentinel>: <reason>".
func (e *FieldError) Error() string { return e.Err.Error() + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(sentinel error, field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}
