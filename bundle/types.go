package bundle

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/icebox-custody/icebox/sigkey"
)

// Version is the only bundle format version this code reads and writes.
const Version = 1

// Digest is a domain-separated SHA-256 digest.
type Digest [32]byte

// String returns lower-case hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is all zero (unset).
func (d Digest) IsZero() bool { return d == Digest{} }

// RequestKind is what the hot wallet says it is asking for. Policy matches on
// it, but the signer checks it against what the transactions actually do.
type RequestKind string

// Request kinds.
const (
	KindWithdrawal    RequestKind = "withdrawal"
	KindSweep         RequestKind = "sweep"
	KindConsolidation RequestKind = "consolidation"
)

// TxFormat says how a transaction payload is encoded.
type TxFormat string

// Transaction payload formats.
const (
	// FormatPSBT is a binary PSBT (BIP-174 v0 or BIP-370 v2).
	FormatPSBT TxFormat = "psbt"
	// FormatEthRLP is an unsigned Ethereum transaction: EIP-2718 typed
	// envelope (0x01/0x02 || RLP) or legacy RLP with EIP-155 chain id fields.
	FormatEthRLP TxFormat = "eth-rlp"
)

// Transaction is one transaction payload with its network.
type Transaction struct {
	Network string   // e.g. "btc-regtest", "eth-1337"
	Format  TxFormat // how Payload is encoded
	Payload []byte
}

// Signature is a signature by a party known to the roster (requester,
// officer, admin) or by the signer identity key.
type Signature struct {
	// Signer is the roster id ("alice") or, for the signer, its fingerprint.
	Signer    string
	Algorithm sigkey.Algorithm
	Value     []byte
}

// Request is what the hot wallet sends to the signer.
type Request struct {
	Version      int
	ID           string // unique, chosen by the hot wallet; 1–128 printable ASCII
	Created      int64  // unix seconds
	Expires      int64  // unix seconds; the signer refuses after it
	Requester    string // roster id of the requester
	Kind         RequestKind
	Reason       string // optional free text, shown to officers, never trusted
	Transactions []Transaction
	// RequesterSig signs RequestDigest. Not covered by the digest.
	RequesterSig Signature
	// Approvals are added by officers after review. Not covered by the digest.
	Approvals []Approval
}

// Networks returns the distinct networks of the transactions, in order of
// first appearance.
func (r *Request) Networks() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range r.Transactions {
		if !seen[t.Network] {
			seen[t.Network] = true
			out = append(out, t.Network)
		}
	}
	return out
}

// Approval is one officer's signature over ApprovalMessage for a request.
type Approval struct {
	Officer    string // roster id; identity comes from the roster, never from here
	Expires    int64  // unix seconds after which the approval no longer counts
	PolicyHash Digest // the policy the officer approved under
	RosterHash Digest // the roster the officer approved under
	Algorithm  sigkey.Algorithm
	Value      []byte
}

// ApprovalMessage returns the exact bytes an officer signs to approve the
// request with digest req under the given policy and roster until expires.
// It is domain separated and length-prefixed so that no two different
// tuples produce the same message.
func ApprovalMessage(req Digest, policy, roster Digest, expires int64, officer string) []byte {
	const domain = "icebox/approval/v1"
	b := make([]byte, 0, len(domain)+1+32*3+8+2+len(officer))
	b = append(b, domain...)
	b = append(b, 0)
	b = append(b, req[:]...)
	b = append(b, policy[:]...)
	b = append(b, roster[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	b = binary.BigEndian.AppendUint16(b, uint16(len(officer)))
	b = append(b, officer...)
	sum := sha256.Sum256(b)
	return sum[:]
}

// Status says whether a response carries signatures or a refusal.
type Status string

// Response statuses.
const (
	StatusSigned  Status = "signed"
	StatusRefused Status = "refused"
)

// Refusal explains why nothing was signed.
type Refusal struct {
	// Stage is the pipeline stage that refused: "decode", "requester",
	// "parse", "policy", "quorum", "reserve", "sign", "verify", "audit", "clock".
	Stage string
	// Code is a short machine-readable reason ("not-allowlisted", "no-quorum", …).
	Code string
	// Reason is the full explanation for a person.
	Reason string
}

// Response is what the signer sends back: signed transactions or a refusal,
// always signed by the signer identity key.
type Response struct {
	Version       int
	RequestID     string
	RequestDigest Digest
	Status        Status
	// Signed holds the signed transactions in the request's order (PSBT with
	// our partial signatures for Bitcoin, raw signed RLP for Ethereum).
	Signed     []Transaction
	Refusal    *Refusal // set iff Status == StatusRefused
	PolicyHash Digest
	RosterHash Digest
	AuditSeq   uint64 // sequence of the audit record of this decision
	AuditHead  Digest // audit chain head hash after that record
	Created    int64  // unix seconds, signer clock
	// SignerSig signs ResponseDigest. Not covered by the digest.
	SignerSig Signature
}
