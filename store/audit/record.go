package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/icebox-custody/icebox/sigkey"
)

// Domain separators and format names.
const (
	// HashDomain prefixes every record hash.
	HashDomain = "icebox/audit/v1"
	// CheckpointDomain prefixes the message the identity key signs.
	CheckpointDomain = "icebox/audit/checkpoint/v1"
	// ExportFormat is the header's format name.
	ExportFormat = "icebox/audit-export/v1"
	// MaxLineBytes caps one export line (excluding the newline).
	MaxLineBytes = 4 << 20
	// MaxRecordBytes caps one record's canonical line; the store refuses to
	// append bigger records, so every stored record fits in an export line.
	// It must hold the tx_ids of the largest batch a request bundle may
	// carry (bundle.DefaultLimits: 20,000 transactions; an Ethereum id is
	// 66 characters, 69 bytes in the list): 20,000 × 69 ≈ 1.4 MB.
	MaxRecordBytes = 2 << 20
	// TimeLayout is the one time format: UTC, nine fractional digits, "Z".
	TimeLayout = "2006-01-02T15:04:05.000000000Z"
)

// Digest is a SHA-256 value. Its zero value means "none".
type Digest [32]byte

// String returns lower-case hex (64 characters, also for the zero value).
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is all zero.
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses exactly 64 lower-case hex characters.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 64 {
		return d, fmt.Errorf("digest has %d hex characters, want 64", len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest is not hex: %v", err)
	}
	if d.String() != s {
		return d, fmt.Errorf("digest hex must be lower-case")
	}
	return d, nil
}

// Kind says what a record records.
type Kind string

// Record kinds. The set is closed: Verify refuses any other kind.
const (
	// KindStoreCreated is the first record of every store (seq 1); Detail
	// holds "identity=<alg:hex>" of the signer identity key.
	KindStoreCreated Kind = "store-created"
	// KindIntent is written by Reserve before any signature exists.
	KindIntent Kind = "intent"
	// KindResumed is written when an interrupted request is re-submitted
	// identically and reserved again.
	KindResumed Kind = "resumed"
	// KindSigned is the outcome of a completed request.
	KindSigned Kind = "signed"
	// KindRefused is a refusal (with or without a reservation).
	KindRefused Kind = "refused"
	// KindInterrupted marks an intent found still reserved at start-up.
	KindInterrupted Kind = "interrupted"
	// KindPolicyInstalled records a new policy (PolicyHash).
	KindPolicyInstalled Kind = "policy-installed"
	// KindRosterInstalled records a new roster (RosterHash).
	KindRosterInstalled Kind = "roster-installed"
	// KindRollbackAcknowledged records an admin-quorum acknowledgement that
	// the store is older than the HSM anchor.
	KindRollbackAcknowledged Kind = "rollback-acknowledged"
	// KindKeyCeremony records key generation or identity creation.
	KindKeyCeremony Kind = "key-ceremony"
)

var knownKinds = map[Kind]bool{
	KindStoreCreated: true, KindIntent: true, KindResumed: true, KindSigned: true,
	KindRefused: true, KindInterrupted: true, KindPolicyInstalled: true,
	KindRosterInstalled: true, KindRollbackAcknowledged: true, KindKeyCeremony: true,
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return knownKinds[k] }

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Record is one audit log entry. Seq, Time, PrevHash and Hash are set by the
// store when it appends; callers fill the rest. Nil and empty slices encode
// the same ("[]"); a zero Digest encodes as 64 zeros.
type Record struct {
	Seq           uint64
	Time          time.Time
	Kind          Kind
	RequestID     string
	RequestDigest Digest
	// Decision is a short word ("allow", "deny", "signed", "refused", ...).
	Decision string
	// Reasons lists every reason of the decision, in order.
	Reasons    []string
	PolicyHash Digest
	RosterHash Digest
	// Approvers are the roster ids whose approvals counted.
	Approvers []string
	// TxIDs are the ids of the transactions signed (or that would have been).
	TxIDs []string
	// Detail is free text for kinds that need it (identity, acknowledgement).
	Detail   string
	PrevHash Digest
	Hash     Digest
}

// recordBody is the hashed encoding: field order is the declaration order.
type recordBody struct {
	Seq           uint64   `json:"seq"`
	Time          string   `json:"time"`
	Kind          string   `json:"kind"`
	RequestID     string   `json:"request_id"`
	RequestDigest string   `json:"request_digest"`
	Decision      string   `json:"decision"`
	Reasons       []string `json:"reasons"`
	PolicyHash    string   `json:"policy_hash"`
	RosterHash    string   `json:"roster_hash"`
	Approvers     []string `json:"approvers"`
	TxIDs         []string `json:"tx_ids"`
	Detail        string   `json:"detail"`
}

// recordLine is the export line: "type", the body fields, then the chain.
type recordLine struct {
	Type          string   `json:"type"`
	Seq           uint64   `json:"seq"`
	Time          string   `json:"time"`
	Kind          string   `json:"kind"`
	RequestID     string   `json:"request_id"`
	RequestDigest string   `json:"request_digest"`
	Decision      string   `json:"decision"`
	Reasons       []string `json:"reasons"`
	PolicyHash    string   `json:"policy_hash"`
	RosterHash    string   `json:"roster_hash"`
	Approvers     []string `json:"approvers"`
	TxIDs         []string `json:"tx_ids"`
	Detail        string   `json:"detail"`
	PrevHash      string   `json:"prev_hash"`
	Hash          string   `json:"hash"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FormatTime renders t in TimeLayout (UTC).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime is the strict inverse of FormatTime.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	t = t.UTC()
	if FormatTime(t) != s {
		return time.Time{}, fmt.Errorf("time %q is not in canonical form", s)
	}
	return t, nil
}

func (r Record) body() recordBody {
	return recordBody{
		Seq: r.Seq, Time: FormatTime(r.Time), Kind: string(r.Kind), RequestID: r.RequestID,
		RequestDigest: r.RequestDigest.String(), Decision: r.Decision, Reasons: nonNil(r.Reasons),
		PolicyHash: r.PolicyHash.String(), RosterHash: r.RosterHash.String(),
		Approvers: nonNil(r.Approvers), TxIDs: nonNil(r.TxIDs), Detail: r.Detail,
	}
}

// Validate checks what the store checks before appending: a known kind,
// valid UTF-8 in every string (so the encoding is lossless), and a line
// that fits MaxRecordBytes.
func (r Record) Validate() error {
	if !r.Kind.Valid() {
		return fmt.Errorf("%w: kind %q is unknown", ErrInvalidRecord, r.Kind)
	}
	check := func(field, s string) error {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: field %s is not valid UTF-8", ErrInvalidRecord, field)
		}
		return nil
	}
	fields := []struct {
		name string
		vals []string
	}{
		{"request_id", []string{r.RequestID}}, {"decision", []string{r.Decision}},
		{"detail", []string{r.Detail}}, {"reasons", r.Reasons}, {"approvers", r.Approvers},
		{"tx_ids", r.TxIDs},
	}
	for _, f := range fields {
		for _, v := range f.vals {
			if err := check(f.name, v); err != nil {
				return err
			}
		}
	}
	if n := len(r.MarshalLine()); n > MaxRecordBytes {
		return fmt.Errorf("%w: record line has %d bytes, cap %d", ErrInvalidRecord, n, MaxRecordBytes)
	}
	return nil
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings, integers and string slices are marshalled: cannot fail.
		panic(fmt.Sprintf("audit: marshal: %v", err))
	}
	return b
}

// Encoding returns the canonical body encoding that the hash covers: the
// JSON object {"seq","time","kind","request_id","request_digest","decision",
// "reasons","policy_hash","roster_hash","approvers","tx_ids","detail"} in
// exactly that order, no white space, Go encoding/json string escaping.
func (r Record) Encoding() []byte { return mustMarshal(r.body()) }

// ComputeHash returns SHA-256(HashDomain || r.PrevHash || r.Encoding()).
func (r Record) ComputeHash() Digest {
	h := sha256.New()
	h.Write([]byte(HashDomain))
	h.Write(r.PrevHash[:])
	h.Write(r.Encoding())
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// MarshalLine returns the record's export line (no newline): {"type":"record",
// the body fields, "prev_hash", "hash"}.
func (r Record) MarshalLine() []byte {
	b := r.body()
	return mustMarshal(recordLine{
		Type: "record", Seq: b.Seq, Time: b.Time, Kind: b.Kind, RequestID: b.RequestID,
		RequestDigest: b.RequestDigest, Decision: b.Decision, Reasons: b.Reasons,
		PolicyHash: b.PolicyHash, RosterHash: b.RosterHash, Approvers: b.Approvers,
		TxIDs: b.TxIDs, Detail: b.Detail, PrevHash: r.PrevHash.String(), Hash: r.Hash.String(),
	})
}

// decodeStrict decodes one JSON object with unknown fields refused and no
// trailing bytes.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.InputOffset() != int64(len(line)) {
		return fmt.Errorf("trailing bytes after the JSON object")
	}
	return nil
}

// ParseRecordLine parses an export record line strictly: the line must be
// byte-for-byte what MarshalLine produces for the decoded record. It does not
// check the hash; see Verify.
func ParseRecordLine(line []byte) (Record, error) {
	if len(line) > MaxRecordBytes {
		return Record{}, fmt.Errorf("%w: record line has %d bytes, cap %d", ErrTooLarge, len(line), MaxRecordBytes)
	}
	var l recordLine
	if err := decodeStrict(line, &l); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if l.Type != "record" {
		return Record{}, fmt.Errorf("%w: field type is %q, want record", ErrMalformed, l.Type)
	}
	r := Record{Seq: l.Seq, Kind: Kind(l.Kind), RequestID: l.RequestID, Decision: l.Decision,
		Reasons: l.Reasons, Approvers: l.Approvers, TxIDs: l.TxIDs, Detail: l.Detail}
	var err error
	if r.Time, err = ParseTime(l.Time); err != nil {
		return Record{}, fmt.Errorf("%w: field time: %v", ErrMalformed, err)
	}
	digests := []struct {
		name string
		src  string
		dst  *Digest
	}{
		{"request_digest", l.RequestDigest, &r.RequestDigest}, {"policy_hash", l.PolicyHash, &r.PolicyHash},
		{"roster_hash", l.RosterHash, &r.RosterHash}, {"prev_hash", l.PrevHash, &r.PrevHash},
		{"hash", l.Hash, &r.Hash},
	}
	for _, d := range digests {
		if *d.dst, err = ParseDigest(d.src); err != nil {
			return Record{}, fmt.Errorf("%w: field %s: %v", ErrMalformed, d.name, err)
		}
	}
	if !r.Kind.Valid() {
		return Record{}, fmt.Errorf("%w: field kind: %q is unknown", ErrMalformed, l.Kind)
	}
	if !bytes.Equal(r.MarshalLine(), line) {
		return Record{}, fmt.Errorf("%w: record is not in canonical form (duplicate key, escaping, null or white space)", ErrMalformed)
	}
	return r, nil
}

// Checkpoint is the signer identity's signature over the chain head at Seq.
type Checkpoint struct {
	Seq       uint64
	Head      Digest
	Time      time.Time
	Signature []byte
}

type checkpointLine struct {
	Type      string `json:"type"`
	Seq       uint64 `json:"seq"`
	Head      string `json:"head"`
	Time      string `json:"time"`
	Signature string `json:"signature"`
}

// Message returns the bytes the identity key signs:
// CheckpointDomain || uint64be(Seq) || Head || int64be(Time.UnixNano()).
func (c Checkpoint) Message() []byte {
	m := make([]byte, 0, len(CheckpointDomain)+8+32+8)
	m = append(m, CheckpointDomain...)
	m = binary.BigEndian.AppendUint64(m, c.Seq)
	m = append(m, c.Head[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(c.Time.UnixNano()))
	return m
}

// Sign returns c with Time truncated to what the encoding carries and
// Signature set by s. On error the zero Checkpoint is returned.
func (c Checkpoint) Sign(s sigkey.Signer) (Checkpoint, error) {
	t, err := ParseTime(FormatTime(c.Time))
	if err != nil {
		return Checkpoint{}, err
	}
	c.Time = t
	sig, err := s.Sign(c.Message())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign audit checkpoint seq %d: %w", c.Seq, err)
	}
	c.Signature = sig
	return c, nil
}

// VerifySignature checks the signature against pub.
func (c Checkpoint) VerifySignature(pub sigkey.PublicKey) error {
	if err := pub.Verify(c.Message(), c.Signature); err != nil {
		return fmt.Errorf("%w: checkpoint seq %d: %v", ErrBadCheckpoint, c.Seq, err)
	}
	return nil
}

// MarshalLine returns the checkpoint's export line (no newline).
func (c Checkpoint) MarshalLine() []byte {
	return mustMarshal(checkpointLine{Type: "checkpoint", Seq: c.Seq, Head: c.Head.String(),
		Time: FormatTime(c.Time), Signature: hex.EncodeToString(c.Signature)})
}

// ParseCheckpointLine parses a checkpoint line strictly (canonical bytes).
// It does not verify the signature.
func ParseCheckpointLine(line []byte) (Checkpoint, error) {
	var l checkpointLine
	if err := decodeStrict(line, &l); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if l.Type != "checkpoint" {
		return Checkpoint{}, fmt.Errorf("%w: field type is %q, want checkpoint", ErrMalformed, l.Type)
	}
	c := Checkpoint{Seq: l.Seq}
	var err error
	if c.Head, err = ParseDigest(l.Head); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: field head: %v", ErrMalformed, err)
	}
	if c.Time, err = ParseTime(l.Time); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: field time: %v", ErrMalformed, err)
	}
	if c.Signature, err = hex.DecodeString(l.Signature); err != nil || len(c.Signature) == 0 || len(c.Signature) > 512 {
		return Checkpoint{}, fmt.Errorf("%w: field signature: not 1..512 bytes of hex", ErrMalformed)
	}
	if !bytes.Equal(c.MarshalLine(), line) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint is not in canonical form", ErrMalformed)
	}
	return c, nil
}
