// Package btc is the Bitcoin adapter and the only package that imports btcd.
// It parses untrusted PSBTs (v0 and v2), decodes them into chain.Summary,
// lists the sighashes our HSM keys must sign, attaches and verifies
// signatures with btcd's script engine, and derives addresses. The psbt
// module is pinned on purpose at github.com/btcsuite/btcd/btcutil/psbt
// v1.2.0 (newer btcd moved wire/txscript into modules that break it).
//
// # Intake (Adapter.Parse)
//
// The payload (base64 or binary) is size-capped before any decoding
// (Config.MaxPSBTBytes), then walked by a strict framing checker
// (psbtwire.go) that is stricter than btcd: canonical compact sizes, exact
// value lengths (BIP-174 invalid-19 is refused), no trailing bytes, no
// duplicate keys, correct key-data/value shapes for every known key type,
// the BIP-174/BIP-370 version rules, and transaction counts checked against
// the bytes present before btcd's wire decoder allocates. PSBTv2 is
// converted to v0 by hand (BIP-370 lock-time algorithm included). Unknown
// key types are kept, as the BIPs require.
//
// Then, for the transaction as a whole:
//   - every input must carry its full previous transaction whose txid
//     matches the outpoint; a witness utxo, when present, must equal that
//     output (fee-misstatement attack). Amounts come only from these verified
//     previous outputs, so the fee is computed by us;
//   - the BIP-174 signer checks (redeem/witness scripts hash to what they
//     claim; no witness utxo for non-witness outputs);
//   - taproot inputs (tap fields or witness v1+ spent outputs) are refused
//     with ErrTaproot: PKCS#11 has no BIP340 Schnorr;
//   - global xpubs must belong to the network; every output must be a
//     standard address (rendered for the adapter's network);
//   - no duplicate outpoints, outputs ≤ inputs, 21M BTC bounds, input and
//     output caps.
//
// Ownership is decided from scripts derived from Config.Keys (P2WPKH,
// P2SH-P2WPKH, P2PKH) and from P2WSH multisig witness scripts (taken from
// the PSBT after checking they hash to the program, or from
// Config.Multisig) that contain one of our keys. BIP32-derivation fields
// are never used to claim ownership. Inputs we do not own are shown with
// Ours=false and left alone; a PSBT where we own nothing is refused
// (ErrNothingToSign). An output is Change only when its script is derived
// from our keys or equals a Config.Multisig P2WSH script; PSBT output hints
// are ignored.
//
// # Signing
//
// SigningItems are one per (input we own, our key), inputs ascending,
// keys in witness-script order; digests are BIP-143 (segwit v0) or legacy
// sighashes with SIGHASH_ALL unless Config.AllowedSighash says otherwise.
// Attach converts each (r, s) to low-S DER plus the sighash byte, adds it to
// the input's partial signatures (other cosigners' signatures are kept),
// fills the redeem/witness script and witness utxo, then verifies every
// input we signed with btcd's script engine (a multisig input still short
// of its threshold: an ECDSA check against an independently recomputed
// sighash). It returns the PSBT in binary v0 layout and never mutates the Tx.
//
// Summary.ID is the txid of the unsigned transaction (equal to the final
// txid only when every input is native segwit).
//
// # Online side
//
// Finalize, Combine, BuildSweep and BuildPayment are for the hot wallet.
// The builders trust their request (it is our own data) but still check it,
// and are deliberately separate from the untrusted-input parser.
package btc
