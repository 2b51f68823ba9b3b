package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/icebox-custody/icebox/hsm"
	"github.com/icebox-custody/icebox/sigkey"
	"github.com/icebox-custody/icebox/store/audit"
)

// Record and Kind are the audit package's types, re-exported for callers.
type (
	Record = audit.Record
	Kind   = audit.Kind
	Digest = audit.Digest
)

// AnchorName is the name of the CKO_DATA object holding the latest checkpoint.
const AnchorName = "icebox-audit-anchor"

// DefaultCheckpointEvery is used when Options.CheckpointEvery is 0.
const DefaultCheckpointEvery = 64

// DefaultLockTimeout is how long Open waits for the file lock.
const DefaultLockTimeout = 100 * time.Millisecond

var (
	bucketMeta        = []byte("meta")
	bucketAudit       = []byte("audit")
	bucketCheckpoints = []byte("checkpoints")
	bucketRequests    = []byte("requests")
	bucketConsumes    = []byte("consumes")
	bucketCharges     = []byte("charges")

	keyVersion   = []byte("version")
	keyHeadSeq   = []byte("head_seq")
	keyHeadHash  = []byte("head_hash")
	keyTimeFloor = []byte("time_floor")
	keyLastCP    = []byte("last_checkpoint")
)

const schemaVersion = "1"

// Options configure a Store. Clock, Identity and Anchor are required.
type Options struct {
	// Clock returns the current time (injected; time.Now in production).
	Clock func() time.Time
	// ClockTolerance is how far the clock may read behind the time floor.
	ClockTolerance time.Duration
	// CheckpointEvery: a checkpoint is also made after this many records
	// without one (0 means DefaultCheckpointEvery).
	CheckpointEvery int
	// Identity is the signer identity key (in the HSM) that signs checkpoints.
	Identity sigkey.Signer
	// Anchor stores the latest checkpoint on the token.
	Anchor hsm.AnchorStore
	// LockTimeout bounds the wait for the file lock (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// Logger receives operational messages (nil: slog.Default()).
	Logger *slog.Logger
}

// Store is the open store. Methods are safe for concurrent use; writes are
// serialised.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	pub  sigkey.PublicKey
	log  *slog.Logger

	mu         sync.Mutex
	quarantine *RollbackError // non-nil: only acknowledge, read, export, close
	closed     bool
}

// Open opens (creating when absent) the store at path.
//
// It fails with ErrLocked when another writer holds the file, with
// ErrCorrupt when the chain head does not verify, and with ErrAnchorInvalid
// when the HSM anchor does not verify. When the store is older than the HSM
// anchor it returns BOTH a non-nil *Store and a *RollbackError (ErrRolledBack):
// that Store is quarantined — every write fails with ErrRolledBack except
// AcknowledgeRollback; reads, ExportAudit, VerifyAudit and Close work. A
// caller that does not acknowledge must Close it.
//
// On a normal open, requests left "reserved" by a crash are marked
// "interrupted" with one audit record each.
func Open(path string, opts Options) (*Store, error) {
	if opts.Clock == nil || opts.Identity == nil || opts.Anchor == nil {
		return nil, fmt.Errorf("%w: open store %s: Options.Clock, Identity and Anchor are required", ErrInvalid, path)
	}
	if opts.CheckpointEvery < 0 || opts.ClockTolerance < 0 {
		return nil, fmt.Errorf("%w: open store %s: negative CheckpointEvery or ClockTolerance", ErrInvalid, path)
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	pub := opts.Identity.Public()
	if err := pub.Validate(); err != nil {
		return nil, fmt.Errorf("open store %s: identity key: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: create directory: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%w: store file %s has mode %o: others may read it; chmod 600 it", ErrInvalid, path, fi.Mode().Perm())
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (is another iceboxd running on this store?)", ErrLocked, path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: opts, pub: pub, log: lg.With("store", path)}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, s.quarantineErr()
}

func (s *Store) quarantineErr() error {
	if s.quarantine != nil {
		return s.quarantine
	}
	return nil
}

func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketAudit, bucketCheckpoints, bucketRequests, bucketConsumes, bucketCharges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		if v := m.Get(keyVersion); v == nil {
			return m.Put(keyVersion, []byte(schemaVersion))
		} else if string(v) != schemaVersion {
			return fmt.Errorf("%w: schema version %q, this build reads %q", ErrCorrupt, v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	headSeq, head, err := s.verifyHead()
	if err != nil {
		return err
	}
	anchor, hasAnchor, err := s.readAnchor()
	if err != nil {
		return err
	}
	if hasAnchor {
		if rb, err := s.compareAnchor(anchor, headSeq, head); err != nil {
			return err
		} else if rb != nil {
			s.quarantine = rb
			s.log.Error("store quarantined: older than the HSM anchor", "anchor_seq", anchor.Seq, "store_seq", headSeq)
			return nil
		}
	}
	return s.startUp(headSeq)
}

// startUp writes the genesis record on a new store, marks interrupted
// intents and makes sure the head is checkpointed and anchored.
func (s *Store) startUp(headSeq uint64) error {
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if headSeq == 0 {
			if _, err := appendTx(tx, Record{Kind: audit.KindStoreCreated, Detail: "identity=" + s.pub.String()}, now); err != nil {
				return err
			}
		}
		return markInterrupted(tx, now, s.log)
	})
	if err != nil {
		return fmt.Errorf("open store %s: start-up: %w", s.path, err)
	}
	if _, err := s.checkpointLocked(context.Background()); err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	return nil
}

// Close releases the file lock. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the store file path.
func (s *Store) Path() string { return s.path }

// IdentityPublic returns the identity public key that signs checkpoints.
func (s *Store) IdentityPublic() sigkey.PublicKey { return s.pub }

func (s *Store) now() time.Time { return s.opts.Clock().UTC().Round(0) }

// writable must be called with s.mu held.
func (s *Store) writable() error {
	if s.closed {
		return ErrClosed
	}
	if s.quarantine != nil {
		return s.quarantine
	}
	return nil
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func u64b(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

type head struct {
	seq  uint64
	hash audit.Digest
}

func readHead(tx *bolt.Tx) head {
	m := tx.Bucket(bucketMeta)
	var h head
	h.seq = u64(m.Get(keyHeadSeq))
	copy(h.hash[:], m.Get(keyHeadHash))
	return h
}

func timeFloor(tx *bolt.Tx) time.Time {
	v := tx.Bucket(bucketMeta).Get(keyTimeFloor)
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
}

// appendTx appends rec to the chain inside tx and returns it as stored.
func appendTx(tx *bolt.Tx, rec Record, now time.Time) (Record, error) {
	h := readHead(tx)
	rec.Seq = h.seq + 1
	rec.Time = now
	rec.PrevHash = h.hash
	if err := rec.Validate(); err != nil {
		return Record{}, err
	}
	rec.Hash = rec.ComputeHash()
	m := tx.Bucket(bucketMeta)
	if err := tx.Bucket(bucketAudit).Put(u64b(rec.Seq), rec.MarshalLine()); err != nil {
		return Record{}, err
	}
	if err := m.Put(keyHeadSeq, u64b(rec.Seq)); err != nil {
		return Record{}, err
	}
	if err := m.Put(keyHeadHash, rec.Hash[:]); err != nil {
		return Record{}, err
	}
	if now.After(timeFloor(tx)) {
		if err := m.Put(keyTimeFloor, u64b(uint64(now.UnixNano()))); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// readRecord reads and strictly parses record seq.
func readRecord(tx *bolt.Tx, seq uint64) (Record, error) {
	v := tx.Bucket(bucketAudit).Get(u64b(seq))
	if v == nil {
		return Record{}, fmt.Errorf("%w: audit record seq %d missing", ErrCorrupt, seq)
	}
	rec, err := audit.ParseRecordLine(v)
	if err != nil {
		return Record{}, fmt.Errorf("%w: audit record seq %d: %v", ErrCorrupt, seq, err)
	}
	return rec, nil
}

// verifyHead checks that the stored head record hashes to the meta head and
// is the last record.
func (s *Store) verifyHead() (uint64, audit.Digest, error) {
	var h head
	err := s.db.View(func(tx *bolt.Tx) error {
		h = readHead(tx)
		k, _ := tx.Bucket(bucketAudit).Cursor().Last()
		if h.seq == 0 {
			if k != nil {
				return fmt.Errorf("%w: audit records exist but the head is unset", ErrCorrupt)
			}
			return nil
		}
		if u64(k) != h.seq {
			return fmt.Errorf("%w: last audit record is seq %d, head says %d", ErrCorrupt, u64(k), h.seq)
		}
		rec, err := readRecord(tx, h.seq)
		if err != nil {
			return err
		}
		if rec.Seq != h.seq || rec.ComputeHash() != rec.Hash || rec.Hash != h.hash {
			return fmt.Errorf("%w: audit head record seq %d does not hash to the stored head", ErrCorrupt, h.seq)
		}
		return nil
	})
	if err != nil {
		return 0, audit.Digest{}, fmt.Errorf("open store %s: verify audit head: %w", s.path, err)
	}
	return h.seq, h.hash, nil
}

func (s *Store) readAnchor() (audit.Checkpoint, bool, error) {
	v, err := s.opts.Anchor.ReadAnchor(context.Background(), AnchorName)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return audit.Checkpoint{}, false, nil
	}
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("open store %s: read HSM anchor %q: %w", s.path, AnchorName, err)
	}
	cp, err := audit.ParseCheckpointLine(v)
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("%w: %q: %v", ErrAnchorInvalid, AnchorName, err)
	}
	if err := cp.VerifySignature(s.pub); err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("%w: %q is not signed by identity %s: %v", ErrAnchorInvalid, AnchorName, s.pub.Fingerprint(), err)
	}
	return cp, true, nil
}

func (s *Store) compareAnchor(a audit.Checkpoint, headSeq uint64, headHash audit.Digest) (*RollbackError, error) {
	rb := &RollbackError{Path: s.path, Anchor: a, StoreSeq: headSeq, StoreHead: headHash}
	if headSeq < a.Seq {
		return rb, nil
	}
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = readRecord(tx, a.Seq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: compare with HSM anchor: %w", s.path, err)
	}
	if rec.Hash != a.Head {
		rb.Diverged = true
		return rb, nil
	}
	return nil, nil
}

// Checkpoint signs the current head with the identity key, stores the
// checkpoint and writes it to the HSM anchor. When the head is already
// checkpointed it only makes sure the anchor holds it. The pipeline calls it
// after every response. On error the response must not be released.
func (s *Store) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return audit.Checkpoint{}, err
	}
	return s.checkpointLocked(ctx)
}

func (s *Store) checkpointLocked(ctx context.Context) (audit.Checkpoint, error) {
	var h head
	var last audit.Checkpoint
	var haveLast bool
	err := s.db.View(func(tx *bolt.Tx) error {
		h = readHead(tx)
		lastSeq := u64(tx.Bucket(bucketMeta).Get(keyLastCP))
		if lastSeq == h.seq && lastSeq != 0 {
			cp, err := audit.ParseCheckpointLine(tx.Bucket(bucketCheckpoints).Get(u64b(lastSeq)))
			if err != nil {
				return fmt.Errorf("%w: checkpoint seq %d: %v", ErrCorrupt, lastSeq, err)
			}
			last, haveLast = cp, true
		}
		return nil
	})
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if h.seq == 0 {
		return audit.Checkpoint{}, fmt.Errorf("%w: checkpoint: empty audit log", ErrCorrupt)
	}
	cp := last
	if !haveLast {
		cp, err = audit.Checkpoint{Seq: h.seq, Head: h.hash, Time: s.now()}.Sign(s.opts.Identity)
		if err != nil {
			return audit.Checkpoint{}, err
		}
		if err := cp.VerifySignature(s.pub); err != nil {
			return audit.Checkpoint{}, fmt.Errorf("identity key returned a bad checkpoint signature: %w", err)
		}
		err = s.db.Update(func(tx *bolt.Tx) error {
			if readHead(tx) != h {
				return fmt.Errorf("%w: head moved during checkpoint", ErrCorrupt)
			}
			if err := tx.Bucket(bucketCheckpoints).Put(u64b(cp.Seq), cp.MarshalLine()); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyLastCP, u64b(cp.Seq))
		})
		if err != nil {
			return audit.Checkpoint{}, fmt.Errorf("checkpoint seq %d: %w", cp.Seq, err)
		}
	}
	// The store holds the checkpoint before the anchor does: a crash in
	// between leaves the anchor behind the store, never ahead of it.
	if err := s.opts.Anchor.WriteAnchor(ctx, AnchorName, cp.MarshalLine()); err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint seq %d: write HSM anchor %q: %w", cp.Seq, AnchorName, err)
	}
	return cp, nil
}

// maybeCheckpoint makes the every-N checkpoint after a write. Its failure
// is logged, not returned: the record is durable, the next write retries,
// and the pipeline's own Checkpoint call reports errors.
func (s *Store) maybeCheckpoint() {
	var due bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		h := readHead(tx)
		due = h.seq-u64(tx.Bucket(bucketMeta).Get(keyLastCP)) >= uint64(s.opts.CheckpointEvery)
		return nil
	})
	if !due {
		return
	}
	if _, err := s.checkpointLocked(context.Background()); err != nil {
		s.log.Error("periodic audit checkpoint failed; will retry on the next write", "err", err)
	}
}

// AcknowledgeRollback lifts the quarantine of a store that Open found older
// than the HSM anchor. ack is an acknowledgement record that the caller has
// ALREADY verified against the admin quorum; it is written, as is, into a
// rollback-acknowledged audit record together with the anchor and store
// heads, interrupted intents are marked, and a new checkpoint replaces the
// anchor. It fails with ErrInvalid when the store is not quarantined.
func (s *Store) AcknowledgeRollback(ack []byte) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Record{}, ErrClosed
	}
	rb := s.quarantine
	if rb == nil {
		return Record{}, fmt.Errorf("%w: acknowledge rollback: store %s is not quarantined", ErrInvalid, s.path)
	}
	if len(ack) == 0 {
		return Record{}, fmt.Errorf("%w: acknowledge rollback: empty acknowledgement", ErrInvalid)
	}
	now := s.now()
	var rec Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		if readHead(tx).seq == 0 {
			if _, err := appendTx(tx, Record{Kind: audit.KindStoreCreated, Detail: "identity=" + s.pub.String()}, now); err != nil {
				return err
			}
		}
		var err error
		rec, err = appendTx(tx, Record{
			Kind:     audit.KindRollbackAcknowledged,
			Decision: "acknowledged",
			Reasons: []string{fmt.Sprintf("anchor seq %d head %s; store seq %d head %s; diverged=%t",
				rb.Anchor.Seq, rb.Anchor.Head, rb.StoreSeq, rb.StoreHead, rb.Diverged)},
			Detail: string(hexOrText(ack)),
		}, now)
		if err != nil {
			return err
		}
		return markInterrupted(tx, now, s.log)
	})
	if err != nil {
		return Record{}, fmt.Errorf("acknowledge rollback of %s: %w", s.path, err)
	}
	s.quarantine = nil
	if _, err := s.checkpointLocked(context.Background()); err != nil {
		return rec, fmt.Errorf("acknowledge rollback of %s: recorded, but %w", s.path, err)
	}
	s.log.Warn("rollback acknowledged; store resumed", "record", rec.Seq)
	return rec, nil
}

// hexOrText keeps a printable UTF-8 acknowledgement as is and hex-encodes
// anything else, so the audit record stays lossless.
func hexOrText(b []byte) []byte {
	printable := true
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			printable = false
			break
		}
	}
	if printable {
		return b
	}
	return append([]byte("hex:"), []byte(fmt.Sprintf("%x", b))...)
}

// view runs fn in a read transaction, or fails with ErrClosed.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return s.db.View(fn)
}
