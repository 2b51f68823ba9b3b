package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/icebox-custody/icebox/store/audit"
)

// bucketGovernance holds every installed policy and roster, keyed by
// kind || 0x00 || audit sequence (big-endian), so that history is kept and
// the active one can be found for any time.
var bucketGovernance = []byte("governance")

// InstallRequest records one policy or roster whose change was already
// verified by the admin quorum (the caller checks signatures; the store
// keeps the bytes and the audit record together).
type InstallRequest struct {
	// Kind is audit.KindPolicyInstalled or audit.KindRosterInstalled.
	Kind Kind
	// Content is the exact file bytes; ContentHash their policy/roster hash.
	Content     []byte
	ContentHash Digest
	// ActivateAt is when the content takes effect.
	ActivateAt time.Time
	// Record is the audit record to append (kind forced to Kind; put the
	// admins who approved in Approvers and the change digest in Detail).
	Record Record
}

type governanceEntry struct {
	Content     []byte `json:"content"`
	ContentHash string `json:"content_hash"`
	ActivateAt  string `json:"activate_at"`
	Seq         uint64 `json:"seq"`
}

// Installed is one installed policy or roster.
type Installed struct {
	Content     []byte
	ContentHash Digest
	ActivateAt  time.Time
	// Seq is the audit record that installed it.
	Seq uint64
}

// Install appends the install record and stores the content in one
// fsync'd transaction.
func (s *Store) Install(req InstallRequest) (Record, error) {
	if req.Kind != audit.KindPolicyInstalled && req.Kind != audit.KindRosterInstalled {
		return Record{}, fmt.Errorf("%w: install: kind %q is neither policy-installed nor roster-installed", ErrInvalid, req.Kind)
	}
	if len(req.Content) == 0 {
		return Record{}, fmt.Errorf("%w: install: empty content", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return Record{}, err
	}
	now := s.now()
	rec := req.Record
	rec.Kind = req.Kind
	var out Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = appendTx(tx, rec, now)
		if err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketGovernance)
		if err != nil {
			return err
		}
		return putJSON(b, governanceKey(req.Kind, out.Seq), governanceEntry{
			Content: req.Content, ContentHash: req.ContentHash.String(),
			ActivateAt: audit.FormatTime(req.ActivateAt), Seq: out.Seq,
		})
	})
	if err != nil {
		return Record{}, fmt.Errorf("install %s: %w", req.Kind, err)
	}
	s.maybeCheckpoint()
	return out, nil
}

func governanceKey(kind Kind, seq uint64) []byte {
	k := append([]byte(kind), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// Active returns the latest installed content of kind whose activation time
// is at or before now, and any installed later that is still pending.
// ok is false when nothing of that kind is active yet.
func (s *Store) Active(kind Kind, now time.Time) (active Installed, ok bool, pending []Installed, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGovernance)
		if b == nil {
			return nil
		}
		prefix := append([]byte(kind), 0)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var e governanceEntry
			if err := decodeJSON(v, &e, "governance entry"); err != nil {
				return err
			}
			at, err := audit.ParseTime(e.ActivateAt)
			if err != nil {
				return fmt.Errorf("%w: governance entry %d: %v", ErrCorrupt, e.Seq, err)
			}
			h, err := audit.ParseDigest(e.ContentHash)
			if err != nil {
				return fmt.Errorf("%w: governance entry %d: %v", ErrCorrupt, e.Seq, err)
			}
			in := Installed{Content: e.Content, ContentHash: h, ActivateAt: at, Seq: e.Seq}
			if at.After(now) {
				pending = append(pending, in)
				continue
			}
			active, ok = in, true
		}
		return nil
	})
	return active, ok, pending, err
}
