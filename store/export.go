package store

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/icebox-custody/icebox/store/audit"
)

// ExportAudit writes the whole audit log to w as JSON Lines (format in
// docs/audit.md): a header with the identity public key, every record in
// order with each checkpoint right after the record it covers, and an end
// line. It reads one consistent snapshot. A partial write is possible on
// error; the end line is then missing, which Verify reports as truncation.
func (s *Store) ExportAudit(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	err := s.view(func(tx *bolt.Tx) error {
		write := func(line []byte) error {
			if _, err := bw.Write(line); err != nil {
				return err
			}
			return bw.WriteByte('\n')
		}
		if err := write(audit.Header{Signer: s.pub}.MarshalLine()); err != nil {
			return err
		}
		cps := tx.Bucket(bucketCheckpoints)
		var end audit.End
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := write(v); err != nil {
				return err
			}
			end.Records = u64(k)
			if cp := cps.Get(k); cp != nil {
				if err := write(cp); err != nil {
					return err
				}
				end.Checkpoints++
			}
		}
		end.Head = readHead(tx).hash
		return write(end.MarshalLine())
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export audit log of %s: %w", s.path, err)
	}
	return nil
}

// VerifyAudit verifies the live store's audit log exactly as an offline
// auditor would (export + audit.Verify with the identity public key), then
// checks that the store's head is the verified head and that the HSM anchor
// is part of the verified chain. It returns the report, or the first
// failure (a *audit.VerifyError for chain damage). When the chain verifies
// but the store is older than the anchor, it returns the report AND a
// *RollbackError.
func (s *Store) VerifyAudit() (audit.Report, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.ExportAudit(pw)) }()
	rep, err := audit.Verify(pr, s.pub)
	_ = pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return audit.Report{}, fmt.Errorf("verify audit log of %s: %w", s.path, err)
	}
	var h head
	if err := s.view(func(tx *bolt.Tx) error { h = readHead(tx); return nil }); err != nil {
		return audit.Report{}, err
	}
	if h.seq < rep.Records || (h.seq == rep.Records && h.hash != rep.Head) {
		return audit.Report{}, fmt.Errorf("%w: verify audit log of %s: head seq %d %s, export ends at %d %s", ErrCorrupt, s.path, h.seq, h.hash, rep.Records, rep.Head)
	}
	anchor, ok, err := s.readAnchor()
	if err != nil {
		return audit.Report{}, err
	}
	if ok {
		rb, err := s.compareAnchor(anchor, h.seq, h.hash)
		if err != nil {
			return audit.Report{}, err
		}
		if rb != nil {
			return rep, rb
		}
	}
	return rep, nil
}

// CheckConsistency checks the ledger against itself and the audit log:
// every request's intent record exists and names it; no consume is held by
// an unknown or aborted request or with content its holder does not list;
// every charge belongs to a live request that lists it, and each counter's
// total equals the sum of its requests' charges. It returns the first
// inconsistency wrapped in ErrCorrupt.
func (s *Store) CheckConsistency() error {
	err := s.view(func(tx *bolt.Tx) error {
		reqs := map[string]*requestEntry{}
		charged := map[string]string{} // charge key (hex) -> request id
		listed := map[string]*big.Int{}
		err := tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			var e requestEntry
			if err := decodeJSON(v, &e, "request "+string(k)); err != nil {
				return err
			}
			id := string(k)
			reqs[id] = &e
			st := parseState(e.State)
			if st == StateUnknown {
				return fmt.Errorf("request %q: unknown state %q", id, e.State)
			}
			rec, err := readRecord(tx, e.IntentSeq)
			if err != nil {
				return fmt.Errorf("request %q: intent: %w", id, err)
			}
			if rec.RequestID != id || (rec.Kind != audit.KindIntent && rec.Kind != audit.KindResumed) || hex.EncodeToString(rec.RequestDigest[:]) != e.Digest {
				return fmt.Errorf("request %q: record %d is not its intent", id, e.IntentSeq)
			}
			if st == StateAborted && (len(e.Consumes) > 0 || len(e.Charges) > 0) {
				return fmt.Errorf("request %q: aborted but still lists consumes or charges", id)
			}
			if st == StateDone && len(e.Response) == 0 {
				return fmt.Errorf("request %q: done without a stored response", id)
			}
			for _, c := range e.Charges {
				charged[hex.EncodeToString(c.Key)] = id
				amt, ok := new(big.Int).SetString(c.Amount, 10)
				if !ok {
					return fmt.Errorf("request %q: charge amount %q", id, c.Amount)
				}
				if listed[c.Counter] == nil {
					listed[c.Counter] = new(big.Int)
				}
				listed[c.Counter].Add(listed[c.Counter], amt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketConsumes).ForEach(func(k, v []byte) error {
			var c consumeEntry
			if err := decodeJSON(v, &c, "consume "+string(k)); err != nil {
				return err
			}
			e := reqs[c.RequestID]
			if e == nil || parseState(e.State) == StateAborted {
				return fmt.Errorf("consume %q held by unknown or aborted request %q", k, c.RequestID)
			}
			for _, r := range e.Consumes {
				if r.Key == string(k) && r.Owned && r.ContentHash == c.ContentHash {
					return nil
				}
			}
			return fmt.Errorf("consume %q: holder %q does not list it with that content", k, c.RequestID)
		})
		if err != nil {
			return err
		}
		totals := map[string]*big.Int{}
		err = tx.Bucket(bucketCharges).ForEach(func(k, v []byte) error {
			id, ok := charged[hex.EncodeToString(k)]
			if !ok {
				return fmt.Errorf("charge %x belongs to no live request", k)
			}
			if !strings.HasPrefix(string(v), id+"\x00") {
				return fmt.Errorf("charge %x names another request than %q", k, id)
			}
			amt, err := chargeAmount(k, v)
			if err != nil {
				return err
			}
			counter := string(k[:bytes.IndexByte(k, 0)])
			if totals[counter] == nil {
				totals[counter] = new(big.Int)
			}
			totals[counter].Add(totals[counter], amt)
			delete(charged, hex.EncodeToString(k))
			return nil
		})
		if err != nil {
			return err
		}
		for k, id := range charged {
			return fmt.Errorf("request %q lists charge %s that is not stored", id, k)
		}
		for counter, want := range listed {
			got := totals[counter]
			if got == nil || got.Cmp(want) != 0 {
				return fmt.Errorf("counter %q: stored charges sum to %v, requests list %v", counter, got, want)
			}
		}
		return nil
	})
	if errors.Is(err, ErrClosed) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: consistency of %s: %v", ErrCorrupt, s.path, err)
	}
	return nil
}
