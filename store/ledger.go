package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/icebox-custody/icebox/store/audit"
)

// Caps on ledger keys (bytes).
const (
	MaxRequestIDBytes = 256
	MaxKeyBytes       = 512
	MaxCounterBytes   = 256
)

// Charge is one velocity charge: Amount base units on Counter. It has the
// shape of the policy package's Charge.
type Charge struct {
	Counter string
	Amount  *big.Int
}

// Consume is one thing a request uses up: a Bitcoin outpoint or an Ethereum
// (address, nonce) (see OutpointKey, NonceKey), with the hash of the
// transaction content that uses it.
type Consume struct {
	Key         string
	ContentHash [32]byte
	// AllowReplace: the policy allows replacing our own earlier transaction
	// on this key (a fee bump). The earlier holder is restored on Abort.
	AllowReplace bool
}

// OutpointKey is the consume key of a Bitcoin outpoint: "btc:<network>:<txid>:<vout>".
// txid is the usual (byte-reversed) hex; it is lower-cased.
func OutpointKey(network, txid string, vout uint32) string {
	return "btc:" + network + ":" + strings.ToLower(txid) + ":" + strconv.FormatUint(uint64(vout), 10)
}

// NonceKey is the consume key of an Ethereum account nonce:
// "eth:<chainID>:<address lower-case hex with 0x>:<nonce>".
func NonceKey(chainID uint64, address string, nonce uint64) string {
	return "eth:" + strconv.FormatUint(chainID, 10) + ":" + strings.ToLower(address) + ":" + strconv.FormatUint(nonce, 10)
}

// State is a request's ledger state.
type State uint8

// Request states.
const (
	StateUnknown State = iota
	// StateReserved: Reserve committed, no outcome yet.
	StateReserved
	// StateInterrupted: found reserved at start-up; a signature may exist.
	StateInterrupted
	// StateDone: Complete stored the response.
	StateDone
	// StateAborted: Abort released everything; the id stays bound to its digest.
	StateAborted
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateReserved:
		return "reserved"
	case StateInterrupted:
		return "interrupted"
	case StateDone:
		return "done"
	case StateAborted:
		return "aborted"
	default:
		return "unknown"
	}
}

func parseState(s string) State {
	for st := StateReserved; st <= StateAborted; st++ {
		if st.String() == s {
			return st
		}
	}
	return StateUnknown
}

// ReserveRequest is the first phase of signing a request.
type ReserveRequest struct {
	RequestID     string
	RequestDigest [32]byte
	Consumes      []Consume
	Charges       []Charge
	// Intent is the audit record to append (kind, request id and digest are
	// set by Reserve; decision, reasons, hashes, approvers, tx ids by the caller).
	Intent Record
}

// Reservation is what Reserve took; pass it to Complete or Abort.
type Reservation struct {
	RequestID     string
	RequestDigest [32]byte
	// Intent is the appended intent (or resumed) record.
	Intent Record
	// Resumed: an interrupted identical request was reserved again; its
	// original consumes and charges are kept (not charged twice).
	Resumed bool
}

// CompleteRequest is the second phase after every signature was made.
type CompleteRequest struct {
	// Response is the exact response bundle, returned again for an
	// identical re-submission. Leave it nil and set Build instead when the
	// response must name the outcome record.
	Response []byte
	// Build, when set, is called inside the same transaction with the
	// appended outcome record (its Seq and Hash final) and returns the
	// response bytes to store. An error from Build rolls everything back.
	Build func(outcome Record) ([]byte, error)
	// Outcome is the audit record (kind forced to "signed").
	Outcome Record
}

// RequestState is a request as the ledger knows it.
type RequestState struct {
	Digest   [32]byte
	State    State
	Response []byte
}

// requestEntry is the stored form of a request (internal JSON).
type requestEntry struct {
	Digest    string       `json:"digest"`
	State     string       `json:"state"`
	IntentSeq uint64       `json:"intent_seq"`
	Consumes  []consumeRef `json:"consumes"`
	Charges   []chargeRef  `json:"charges"`
	Response  []byte       `json:"response"`
}

type consumeEntry struct {
	ContentHash string `json:"content_hash"`
	RequestID   string `json:"request_id"`
}

type consumeRef struct {
	Key         string        `json:"key"`
	ContentHash string        `json:"content_hash"`
	Owned       bool          `json:"owned"`
	Replaced    *consumeEntry `json:"replaced,omitempty"`
}

type chargeRef struct {
	Counter string `json:"counter"`
	Amount  string `json:"amount"`
	Key     []byte `json:"key"`
}

func decodeJSON(v []byte, out any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	return nil
}

func getRequest(tx *bolt.Tx, id string) (*requestEntry, error) {
	v := tx.Bucket(bucketRequests).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var e requestEntry
	if err := decodeJSON(v, &e, "request "+strconv.Quote(id)); err != nil {
		return nil, err
	}
	return &e, nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

func getConsume(tx *bolt.Tx, key string) (*consumeEntry, error) {
	v := tx.Bucket(bucketConsumes).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	var e consumeEntry
	if err := decodeJSON(v, &e, "consume "+strconv.Quote(key)); err != nil {
		return nil, err
	}
	return &e, nil
}

// chargeKey: counter || 0x00 || uint64be(unix ns) || uint64be(intent seq) || uint16be(index).
func chargeKey(counter string, at time.Time, seq uint64, idx int) []byte {
	k := append([]byte(counter), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	k = binary.BigEndian.AppendUint64(k, seq)
	return binary.BigEndian.AppendUint16(k, uint16(idx))
}

func validText(field, s string, max int) error {
	if s == "" || len(s) > max || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s must be 1..%d bytes of UTF-8 without NUL", ErrInvalid, field, max)
	}
	return nil
}

func (r ReserveRequest) validate() error {
	if err := validText("request id", r.RequestID, MaxRequestIDBytes); err != nil {
		return err
	}
	if r.RequestDigest == ([32]byte{}) {
		return fmt.Errorf("%w: request %q: zero request digest", ErrInvalid, r.RequestID)
	}
	seen := map[string]bool{}
	for i, c := range r.Consumes {
		if err := validText(fmt.Sprintf("consumes[%d].key", i), c.Key, MaxKeyBytes); err != nil {
			return err
		}
		if seen[c.Key] {
			return fmt.Errorf("%w: request %q: consume key %q listed twice", ErrInvalid, r.RequestID, c.Key)
		}
		seen[c.Key] = true
	}
	if len(r.Charges) > 1<<16 {
		return fmt.Errorf("%w: request %q: too many charges", ErrInvalid, r.RequestID)
	}
	for i, ch := range r.Charges {
		if err := validText(fmt.Sprintf("charges[%d].counter", i), ch.Counter, MaxCounterBytes); err != nil {
			return err
		}
		if ch.Amount == nil || ch.Amount.Sign() < 0 {
			return fmt.Errorf("%w: request %q: charges[%d].amount must be >= 0", ErrInvalid, r.RequestID, i)
		}
	}
	return nil
}

// checkClockTx returns a *ClockBehindError when now < floor - tolerance.
func (s *Store) checkClockTx(tx *bolt.Tx, now time.Time) error {
	floor := timeFloor(tx)
	if now.Before(floor.Add(-s.opts.ClockTolerance)) {
		return &ClockBehindError{Now: now, Floor: floor, Tolerance: s.opts.ClockTolerance}
	}
	return nil
}

// CheckClock returns a *ClockBehindError (ErrClockBehind) when now is earlier
// than the time floor minus the tolerance.
func (s *Store) CheckClock(now time.Time) error {
	return s.view(func(tx *bolt.Tx) error { return s.checkClockTx(tx, now.UTC()) })
}

// TimeFloor returns the latest time recorded (zero on an empty store).
func (s *Store) TimeFloor() (time.Time, error) {
	var t time.Time
	err := s.view(func(tx *bolt.Tx) error { t = timeFloor(tx); return nil })
	return t, err
}

// Reserve durably records, in one fsync'd transaction and before any
// signature exists: the request id (state reserved), every consume, every
// velocity charge (at the current time), the audit intent, and the new time
// floor.
//
// It refuses, writing nothing, with a *ConflictError (ErrRequestConflict)
// when the id is known with another digest; a *ConflictError
// (ErrConsumeConflict) when a consume key is held with different content and
// AllowReplace is not set; a *ClockBehindError (ErrClockBehind);
// ErrAlreadyCompleted / ErrInProgress for an identical request that is done
// / reserved; ErrRolledBack while quarantined.
//
// An identical request that was interrupted is reserved again (Resumed): it
// keeps its earlier consumes and charges. An identical request that was
// aborted is reserved afresh.
func (s *Store) Reserve(req ReserveRequest) (*Reservation, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return nil, err
	}
	now := s.now()
	var res *Reservation
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := s.checkClockTx(tx, now); err != nil {
			return err
		}
		prev, err := getRequest(tx, req.RequestID)
		if err != nil {
			return err
		}
		digestHex := hex.EncodeToString(req.RequestDigest[:])
		if prev != nil {
			if prev.Digest != digestHex {
				return &ConflictError{What: "request id", Key: req.RequestID, ExistingRequest: req.RequestID, Err: ErrRequestConflict}
			}
			switch parseState(prev.State) {
			case StateDone:
				return fmt.Errorf("%w: request %q", ErrAlreadyCompleted, req.RequestID)
			case StateReserved:
				return fmt.Errorf("%w: request %q", ErrInProgress, req.RequestID)
			case StateInterrupted:
				r, err := resumeTx(tx, req, prev, now)
				res = r
				return err
			case StateAborted:
				// reserve afresh below
			default:
				return fmt.Errorf("%w: request %q has state %q", ErrCorrupt, req.RequestID, prev.State)
			}
		}
		r, err := reserveTx(tx, req, now)
		res = r
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reserve request %q: %w", req.RequestID, err)
	}
	s.maybeCheckpoint()
	return res, nil
}

func intentRecord(req ReserveRequest, kind Kind) Record {
	rec := req.Intent
	rec.Kind = kind
	rec.RequestID = req.RequestID
	rec.RequestDigest = req.RequestDigest
	return rec
}

func reserveTx(tx *bolt.Tx, req ReserveRequest, now time.Time) (*Reservation, error) {
	intent, err := appendTx(tx, intentRecord(req, audit.KindIntent), now)
	if err != nil {
		return nil, err
	}
	e := requestEntry{Digest: hex.EncodeToString(req.RequestDigest[:]), State: StateReserved.String(), IntentSeq: intent.Seq}
	cb := tx.Bucket(bucketConsumes)
	for _, c := range req.Consumes {
		ch := hex.EncodeToString(c.ContentHash[:])
		held, err := getConsume(tx, c.Key)
		if err != nil {
			return nil, err
		}
		ref := consumeRef{Key: c.Key, ContentHash: ch}
		switch {
		case held == nil:
			ref.Owned = true
		case held.ContentHash == ch:
			// The same transaction content again (another request id):
			// nothing new is spent; the earlier holder keeps ownership.
		case c.AllowReplace:
			ref.Owned = true
			ref.Replaced = held
		default:
			return nil, &ConflictError{What: "consume", Key: c.Key, ExistingRequest: held.RequestID, Err: ErrConsumeConflict}
		}
		if ref.Owned {
			if err := putJSON(cb, []byte(c.Key), consumeEntry{ContentHash: ch, RequestID: req.RequestID}); err != nil {
				return nil, err
			}
		}
		e.Consumes = append(e.Consumes, ref)
	}
	chb := tx.Bucket(bucketCharges)
	for i, c := range req.Charges {
		k := chargeKey(c.Counter, now, intent.Seq, i)
		amt := c.Amount.String()
		if err := chb.Put(k, []byte(req.RequestID+"\x00"+amt)); err != nil {
			return nil, err
		}
		e.Charges = append(e.Charges, chargeRef{Counter: c.Counter, Amount: amt, Key: k})
	}
	if err := putJSON(tx.Bucket(bucketRequests), []byte(req.RequestID), e); err != nil {
		return nil, err
	}
	return &Reservation{RequestID: req.RequestID, RequestDigest: req.RequestDigest, Intent: intent}, nil
}

func resumeTx(tx *bolt.Tx, req ReserveRequest, prev *requestEntry, now time.Time) (*Reservation, error) {
	// Same digest means same content; still check every consume is held as
	// the request says, so a corrupt or edited ledger fails closed.
	if len(req.Consumes) != len(prev.Consumes) {
		return nil, fmt.Errorf("%w: interrupted request %q held %d consumes, re-submission lists %d", ErrCorrupt, req.RequestID, len(prev.Consumes), len(req.Consumes))
	}
	held := map[string]string{}
	for _, r := range prev.Consumes {
		held[r.Key] = r.ContentHash
	}
	for _, c := range req.Consumes {
		if held[c.Key] != hex.EncodeToString(c.ContentHash[:]) {
			return nil, &ConflictError{What: "consume", Key: c.Key, ExistingRequest: req.RequestID, Err: ErrConsumeConflict}
		}
	}
	rec := intentRecord(req, audit.KindResumed)
	intent, err := appendTx(tx, rec, now)
	if err != nil {
		return nil, err
	}
	prev.State = StateReserved.String()
	prev.IntentSeq = intent.Seq
	if err := putJSON(tx.Bucket(bucketRequests), []byte(req.RequestID), prev); err != nil {
		return nil, err
	}
	return &Reservation{RequestID: req.RequestID, RequestDigest: req.RequestDigest, Intent: intent, Resumed: true}, nil
}

// currentReservation loads the entry and checks res is its live reservation.
func currentReservation(tx *bolt.Tx, res *Reservation) (*requestEntry, error) {
	if res == nil {
		return nil, fmt.Errorf("%w: nil reservation", ErrBadReservation)
	}
	e, err := getRequest(tx, res.RequestID)
	if err != nil {
		return nil, err
	}
	if e == nil || parseState(e.State) != StateReserved || e.IntentSeq != res.Intent.Seq ||
		e.Digest != hex.EncodeToString(res.RequestDigest[:]) {
		return nil, fmt.Errorf("%w: request %q", ErrBadReservation, res.RequestID)
	}
	return e, nil
}

func outcomeRecord(res *Reservation, rec Record, kind Kind) Record {
	rec.Kind = kind
	rec.RequestID = res.RequestID
	rec.RequestDigest = res.RequestDigest
	return rec
}

// Complete records the outcome of a reserved request in one fsync'd
// transaction: the response bytes (for replay), the "signed" audit record,
// state done. Consumes and charges stay taken. Call Checkpoint afterwards,
// before releasing the response.
func (s *Store) Complete(res *Reservation, req CompleteRequest) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return Record{}, err
	}
	if (len(req.Response) == 0) == (req.Build == nil) {
		return Record{}, fmt.Errorf("%w: complete: give exactly one of a response and a response builder", ErrInvalid)
	}
	now := s.now()
	var out Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		e, err := currentReservation(tx, res)
		if err != nil {
			return err
		}
		out, err = appendTx(tx, outcomeRecord(res, req.Outcome, audit.KindSigned), now)
		if err != nil {
			return err
		}
		response := req.Response
		if req.Build != nil {
			if response, err = req.Build(out); err != nil {
				return fmt.Errorf("build response: %w", err)
			}
			if len(response) == 0 {
				return fmt.Errorf("%w: complete: response builder returned nothing", ErrInvalid)
			}
		}
		e.State = StateDone.String()
		e.Response = response
		return putJSON(tx.Bucket(bucketRequests), []byte(res.RequestID), e)
	})
	if err != nil {
		return Record{}, fmt.Errorf("complete request %q: %w", resID(res), err)
	}
	s.maybeCheckpoint()
	return out, nil
}

func resID(res *Reservation) string {
	if res == nil {
		return ""
	}
	return res.RequestID
}

// Abort releases exactly what Reserve took (consumes it owned are deleted,
// or restored to the entry they replaced; its charges are deleted), records
// the refusal (kind forced to "refused") and marks the request aborted. Only
// call it when no signature was made: after a signature exists, Complete.
func (s *Store) Abort(res *Reservation, refusal Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return Record{}, err
	}
	now := s.now()
	var out Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		e, err := currentReservation(tx, res)
		if err != nil {
			return err
		}
		cb := tx.Bucket(bucketConsumes)
		for _, c := range e.Consumes {
			if !c.Owned {
				continue
			}
			held, err := getConsume(tx, c.Key)
			if err != nil {
				return err
			}
			if held == nil || held.RequestID != res.RequestID {
				continue // replaced since by a later fee bump: not ours to release
			}
			if c.Replaced != nil {
				err = putJSON(cb, []byte(c.Key), c.Replaced)
			} else {
				err = cb.Delete([]byte(c.Key))
			}
			if err != nil {
				return err
			}
		}
		for _, c := range e.Charges {
			if err := tx.Bucket(bucketCharges).Delete(c.Key); err != nil {
				return err
			}
		}
		e.Consumes, e.Charges, e.Response = nil, nil, nil
		e.State = StateAborted.String()
		out, err = appendTx(tx, outcomeRecord(res, refusal, audit.KindRefused), now)
		if err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketRequests), []byte(res.RequestID), e)
	})
	if err != nil {
		return Record{}, fmt.Errorf("abort request %q: %w", resID(res), err)
	}
	s.maybeCheckpoint()
	return out, nil
}

// RecordRefusal appends a "refused" record for a request that never
// reserved (bad signature, policy deny, missing quorum). The clock is not
// checked, so a clock-behind refusal can itself be recorded.
func (s *Store) RecordRefusal(rec Record) (Record, error) {
	rec.Kind = audit.KindRefused
	return s.append(rec)
}

// Append appends an administrative record: policy-installed,
// roster-installed, key-ceremony. Ledger kinds (intent, resumed, signed,
// refused, interrupted, store-created, rollback-acknowledged) are refused
// with ErrInvalid: they have their own methods.
func (s *Store) Append(rec Record) (Record, error) {
	switch rec.Kind {
	case audit.KindPolicyInstalled, audit.KindRosterInstalled, audit.KindKeyCeremony:
	default:
		return Record{}, fmt.Errorf("%w: append: kind %q is not an administrative kind", ErrInvalid, rec.Kind)
	}
	return s.append(rec)
}

func (s *Store) append(rec Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return Record{}, err
	}
	now := s.now()
	var out Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = appendTx(tx, rec, now)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("append %s record: %w", rec.Kind, err)
	}
	s.maybeCheckpoint()
	return out, nil
}

// LookupRequest returns what the ledger knows about id, or
// ErrRequestNotFound. For StateDone, Response is the stored response to
// return for an identical re-submission (compare Digest first!).
func (s *Store) LookupRequest(id string) (RequestState, error) {
	var st RequestState
	err := s.view(func(tx *bolt.Tx) error {
		e, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		if e == nil {
			return fmt.Errorf("%w: %q", ErrRequestNotFound, id)
		}
		d, err := audit.ParseDigest(e.Digest)
		if err != nil {
			return fmt.Errorf("%w: request %q digest: %v", ErrCorrupt, id, err)
		}
		st = RequestState{Digest: d, State: parseState(e.State), Response: append([]byte(nil), e.Response...)}
		return nil
	})
	if err != nil {
		return RequestState{}, fmt.Errorf("look up request: %w", err)
	}
	return st, nil
}

// markInterrupted turns every reserved request into interrupted, with one
// audit record each.
func markInterrupted(tx *bolt.Tx, now time.Time, lg *slog.Logger) error {
	type item struct {
		id string
		e  requestEntry
	}
	var found []item
	err := tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
		var e requestEntry
		if err := decodeJSON(v, &e, "request "+strconv.Quote(string(k))); err != nil {
			return err
		}
		if parseState(e.State) == StateReserved {
			found = append(found, item{string(k), e})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range found {
		d, err := audit.ParseDigest(it.e.Digest)
		if err != nil {
			return fmt.Errorf("%w: request %q digest: %v", ErrCorrupt, it.id, err)
		}
		rec, err := appendTx(tx, Record{
			Kind: audit.KindInterrupted, RequestID: it.id, RequestDigest: d, Decision: "interrupted",
			Reasons: []string{fmt.Sprintf("process stopped between reserve (record %d) and complete; consumes and charges stay held; only the identical request may resume", it.e.IntentSeq)},
		}, now)
		if err != nil {
			return err
		}
		it.e.State = StateInterrupted.String()
		if err := putJSON(tx.Bucket(bucketRequests), []byte(it.id), it.e); err != nil {
			return err
		}
		lg.Warn("request interrupted by a crash; marked interrupted", "request_id", it.id, "record", rec.Seq)
	}
	return nil
}

// Spent returns the sum of charges on counter at or after since. It has the
// policy package's Usage.Spent signature.
func (s *Store) Spent(counter string, since time.Time) (*big.Int, error) {
	sum := new(big.Int)
	err := s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(counter), 0)
		start := prefix
		if ns := since.UnixNano(); ns > 0 {
			start = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), uint64(ns))
		}
		c := tx.Bucket(bucketCharges).Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			amt, err := chargeAmount(k, v)
			if err != nil {
				return err
			}
			sum.Add(sum, amt)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spent on counter %q: %w", counter, err)
	}
	return sum, nil
}

func chargeAmount(k, v []byte) (*big.Int, error) {
	i := bytes.LastIndexByte(v, 0)
	amt, ok := new(big.Int).SetString(string(v[i+1:]), 10)
	if i < 0 || !ok || amt.Sign() < 0 {
		return nil, fmt.Errorf("%w: charge %x has a bad amount", ErrCorrupt, k)
	}
	return amt, nil
}

// LastCharge returns the time of the latest charge on counter (ok false when
// none). It has the policy package's Usage.LastCharge signature.
func (s *Store) LastCharge(counter string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		prefix := append([]byte(counter), 0)
		c := tx.Bucket(bucketCharges).Cursor()
		k, _ := c.Seek(append([]byte(counter), 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+18 {
			return nil
		}
		at = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):]))).UTC()
		ok = true
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last charge on counter %q: %w", counter, err)
	}
	return at, ok, nil
}

// ConsumeHolder returns the request that holds a consume key and the
// content hash it holds it with (ok false when the key is free). The
// signer uses it to check a fee bump before asking Reserve to replace.
func (s *Store) ConsumeHolder(key string) (requestID string, contentHash [32]byte, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		held, err := getConsume(tx, key)
		if err != nil || held == nil {
			return err
		}
		d, err := audit.ParseDigest(held.ContentHash)
		if err != nil {
			return fmt.Errorf("%w: consume %q content hash: %v", ErrCorrupt, key, err)
		}
		requestID, contentHash, ok = held.RequestID, d, true
		return nil
	})
	if err != nil {
		return "", [32]byte{}, false, fmt.Errorf("look up consume %q: %w", key, err)
	}
	return requestID, contentHash, ok, nil
}
