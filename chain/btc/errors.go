package btc

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers match them with errors.Is; the wrapped message
// carries the identifying context (input/output index, field name).
var (
	// ErrUnknownNetwork: the network name is not a Bitcoin network Icebox knows.
	ErrUnknownNetwork = errors.New("unknown bitcoin network")
	// ErrTooLarge: the payload exceeds the configured size cap (checked before parsing).
	ErrTooLarge = errors.New("psbt too large")
	// ErrMalformed: the bytes are not a well-formed PSBT (framing, lengths,
	// key types, trailing bytes, bad encodings).
	ErrMalformed = errors.New("malformed psbt")
	// ErrDuplicateKey: a key appears twice in one PSBT map.
	ErrDuplicateKey = errors.New("duplicate key in psbt map")
	// ErrVersion: a field is not allowed in (or required by) the PSBT version.
	ErrVersion = errors.New("psbt version rule violated")
	// ErrLocktime: the BIP-370 locktime cannot be determined.
	ErrLocktime = errors.New("locktime cannot be computed (mixed height/time requirements)")
	// ErrTooManyInputs / ErrTooManyOutputs: a configured cap was exceeded.
	ErrTooManyInputs  = errors.New("too many inputs")
	ErrTooManyOutputs = errors.New("too many outputs")
	// ErrNothingToSign: none of the inputs is owned by our keys.
	ErrNothingToSign = errors.New("nothing to sign: no input is owned by our keys")
	// ErrMissingPrevTx: an input lacks the full previous transaction
	// (PSBT_IN_NON_WITNESS_UTXO), so its amount cannot be verified.
	ErrMissingPrevTx = errors.New("input lacks the full previous transaction (non-witness utxo); its amount cannot be verified (fee-misstatement attack)")
	// ErrPrevTxMismatch: the previous transaction's txid does not match the
	// outpoint, the output index is out of range, or the witness utxo differs
	// from the previous transaction's output.
	ErrPrevTxMismatch = errors.New("previous transaction does not match the input")
	// ErrScriptMismatch: a redeemScript/witnessScript does not hash to the
	// script it claims to satisfy, or a witness utxo is given for a
	// non-witness output (BIP-174 signer checks).
	ErrScriptMismatch = errors.New("script does not match the spent output")
	// ErrTaproot: taproot is refused outright.
	ErrTaproot = errors.New("taproot inputs are not supported by PKCS#11 HSMs (no BIP340 Schnorr)")
	// ErrSighashNotAllowed: the input asks for a sighash type the adapter is
	// not configured to produce (only SIGHASH_ALL by default).
	ErrSighashNotAllowed = errors.New("sighash type not allowed")
	// ErrNegativeFee: outputs spend more than the inputs provide.
	ErrNegativeFee = errors.New("outputs exceed inputs")
	// ErrAmount: an amount is negative or above the 21M BTC supply, or a sum overflows.
	ErrAmount = errors.New("invalid amount")
	// ErrNonStandardOutput: an output script has no address on the network.
	ErrNonStandardOutput = errors.New("output script is not a standard address")
	// ErrNetwork: something in the PSBT or request belongs to another network.
	ErrNetwork = errors.New("network mismatch")
	// ErrDuplicateInput: the same outpoint is spent twice.
	ErrDuplicateInput = errors.New("outpoint spent twice")
	// ErrSignatureCount: Attach got a different number of signatures than items.
	ErrSignatureCount = errors.New("signature count does not match signing items")
	// ErrBadSignature: a signature does not verify (ECDSA or script engine).
	ErrBadSignature = errors.New("signature does not verify")
	// ErrIncomplete: Finalize found inputs without enough signatures.
	ErrIncomplete = errors.New("psbt is not complete")
	// ErrCombine: PSBTs given to Combine do not describe the same transaction
	// or carry conflicting data.
	ErrCombine = errors.New("cannot combine psbts")
	// ErrConfig: the adapter or builder configuration is invalid.
	ErrConfig = errors.New("invalid configuration")
	// ErrBuild: the builder cannot produce the requested transaction.
	ErrBuild = errors.New("cannot build transaction")
)

// InputError names the input (index in the transaction) an error is about.
type InputError struct {
	Index int
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("input %d: %v", e.Index, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// OutputError names the output an error is about.
type OutputError struct {
	Index int
	Err   error
}

func (e *OutputError) Error() string { return fmt.Sprintf("output %d: %v", e.Index, e.Err) }
func (e *OutputError) Unwrap() error { return e.Err }

// FieldError names a PSBT map ("global", "input 3", "output 1") and key type.
type FieldError struct {
	Map     string
	KeyType uint64
	Err     error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s key type 0x%02x: %v", e.Map, e.KeyType, e.Err)
}
func (e *FieldError) Unwrap() error { return e.Err }

func inErr(i int, err error) error  { return &InputError{Index: i, Err: err} }
func outErr(i int, err error) error { return &OutputError{Index: i, Err: err} }
