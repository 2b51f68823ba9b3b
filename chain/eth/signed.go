package eth

import (
	"bytes"
	"crypto/sha256"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/icebox-custody/icebox/chain"
)

// SignedTx is a decoded signed transaction (DecodeSigned).
type SignedTx struct {
	// Summary describes the transaction exactly as Parse described its
	// unsigned payload: ID is the signing hash and ContentHash the SHA-256 of
	// the binary envelope RLP [sender, unsignedTx], so both compare equal to
	// the request's summary. From is the recovered sender.
	Summary chain.Summary
	// Sender is the EIP-55 address recovered from the signature.
	Sender string
	// Hash is the transaction hash (0x-hex) that block explorers show.
	Hash string
}

// DecodeSigned decodes raw signed transaction bytes (as returned by Attach
// and accepted by eth_sendRawTransaction) for the online side's double check.
// It caps the size before decoding, accepts only EIP-155 legacy, EIP-2930 and
// EIP-1559 transactions for the configured chain id, refuses trailing or
// non-canonical bytes, and recovers the sender. It does NOT require the sender
// to be one of our keys: the caller compares Sender (and Summary.ID /
// ContentHash) with what it asked to have signed.
func (a *Adapter) DecodeSigned(raw []byte) (SignedTx, error) {
	tx, err := a.decodeSignedTx(raw)
	if err != nil {
		return SignedTx{}, err
	}
	sender, err := types.Sender(a.signer, tx)
	if err != nil {
		return SignedTx{}, fieldErr(ErrSignature, "signature", "recover sender: %v", err)
	}
	unsignedRaw, err := encodeUnsigned(tx, a.chainID)
	if err != nil {
		return SignedTx{}, err
	}
	env, err := encodeEnvelope(sender, unsignedRaw)
	if err != nil {
		return SignedTx{}, fieldErr(ErrMalformed, "signedTx", "encode envelope: %v", err)
	}
	sum, err := a.summarize(tx, sender, a.signer.Hash(tx), sha256.Sum256(env))
	if err != nil {
		return SignedTx{}, err
	}
	return SignedTx{Summary: sum, Sender: sender.Hex(), Hash: tx.Hash().Hex()}, nil
}

// decodeSignedTx is DecodeSigned up to (not including) sender recovery:
// size cap, supported type, strict canonical decoding, EIP-155 protection,
// the configured chain id and the checks of checkTx.
func (a *Adapter) decodeSignedTx(raw []byte) (*types.Transaction, error) {
	if len(raw) > a.maxTx {
		return nil, fieldErr(ErrTooLarge, "signedTx", "signed transaction is %d bytes, cap is %d", len(raw), a.maxTx)
	}
	if len(raw) == 0 {
		return nil, fieldErr(ErrMalformed, "signedTx", "signed transaction is empty")
	}
	if b := raw[0]; b < 0x80 && b != types.AccessListTxType && b != types.DynamicFeeTxType {
		return nil, unsupportedType(b)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, rlpErr("signedTx", err)
	}
	again, err := tx.MarshalBinary()
	if err != nil || !bytes.Equal(again, raw) {
		return nil, fieldErr(ErrMalformed, "signedTx", "signed transaction is not in canonical encoding")
	}
	if tx.Type() == types.LegacyTxType && !tx.Protected() {
		return nil, fieldErr(ErrPreEIP155, "v", "legacy transaction signed without EIP-155 replay protection")
	}
	if err := a.checkTx(tx, tx.ChainId()); err != nil {
		return nil, err
	}
	return tx, nil
}
