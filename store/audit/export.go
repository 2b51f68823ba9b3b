package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/icebox-custody/icebox/sigkey"
)

// Header is the first line of an export.
type Header struct {
	// Signer is the identity public key that signs the checkpoints.
	Signer sigkey.PublicKey
}

type headerLine struct {
	Type        string `json:"type"`
	Format      string `json:"format"`
	Signer      string `json:"signer"`
	Fingerprint string `json:"fingerprint"`
}

// MarshalLine returns the header line (no newline).
func (h Header) MarshalLine() []byte {
	return mustMarshal(headerLine{Type: "header", Format: ExportFormat, Signer: h.Signer.String(),
		Fingerprint: h.Signer.Fingerprint()})
}

// End is the last line of an export: the counts and the head the exporter
// saw. It is not signed; it lets Verify tell a cut file from a complete one.
type End struct {
	Records     uint64
	Checkpoints uint64
	Head        Digest
}

type endLine struct {
	Type        string `json:"type"`
	Records     uint64 `json:"records"`
	Checkpoints uint64 `json:"checkpoints"`
	Head        string `json:"head"`
}

// MarshalLine returns the end line (no newline).
func (e End) MarshalLine() []byte {
	return mustMarshal(endLine{Type: "end", Records: e.Records, Checkpoints: e.Checkpoints, Head: e.Head.String()})
}

// Report summarises a verified export.
type Report struct {
	Signer sigkey.PublicKey
	// Records is the number of records (they are numbered 1..Records).
	Records uint64
	// Head is the hash of the last record.
	Head Digest
	// Checkpoints is the number of valid checkpoints.
	Checkpoints uint64
	// LastCheckpoint is the latest checkpoint (zero when there is none).
	LastCheckpoint Checkpoint
	// Unanchored counts the records after the last checkpoint: they chain
	// correctly but no signature covers them, so a tail of them could have
	// been dropped without trace.
	Unanchored uint64
}

// String renders a one-paragraph summary for operators.
func (r Report) String() string {
	return fmt.Sprintf("audit export OK: %d records, head %s, %d checkpoints (last at seq %d), %d unanchored records after the last checkpoint; signer %s",
		r.Records, r.Head, r.Checkpoints, r.LastCheckpoint.Seq, r.Unanchored, r.Signer.Fingerprint())
}

// lineReader reads newline-terminated lines with a size cap, never holding
// more than MaxLineBytes+1 bytes of one line.
type lineReader struct {
	r    *bufio.Reader
	line int
}

// next returns the next line without its "\n". io.EOF at a clean end.
func (lr *lineReader) next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes+1 {
			lr.line++
			return nil, &VerifyError{Line: lr.line, Err: fmt.Errorf("%w: line exceeds %d bytes", ErrTooLarge, MaxLineBytes)}
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if len(buf) == 0 {
				return nil, io.EOF
			}
			lr.line++
			return nil, &VerifyError{Line: lr.line, Err: fmt.Errorf("%w: last line has no newline (file cut)", ErrTruncated)}
		}
		if err != nil {
			return nil, fmt.Errorf("read audit export line %d: %w", lr.line+1, err)
		}
		lr.line++
		return buf[:len(buf)-1], nil
	}
}

// lineType peeks at the "type" value, which canonical lines always carry
// first: {"type":"<name>",...
func lineType(line []byte) string {
	const pfx = `{"type":"`
	if !bytes.HasPrefix(line, []byte(pfx)) {
		return ""
	}
	rest := line[len(pfx):]
	i := bytes.IndexByte(rest, '"')
	if i < 0 || i > 16 {
		return ""
	}
	return string(rest[:i])
}

// Verify reads an export from r and checks it against signerKey, the
// identity key the auditor trusts (from the signed manifest). It returns a
// Report on success; on failure a *VerifyError naming the first bad line
// (and record seq) wrapping ErrMalformed, ErrTooLarge, ErrTampered,
// ErrBadCheckpoint, ErrTruncated or ErrWrongSigner. It never panics and
// holds at most one line in memory.
func Verify(r io.Reader, signerKey sigkey.PublicKey) (Report, error) {
	if err := signerKey.Validate(); err != nil {
		return Report{}, fmt.Errorf("verify audit export: trusted signer key: %w", err)
	}
	lr := &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
	fail := func(seq uint64, err error) (Report, error) {
		return Report{}, &VerifyError{Line: lr.line, Seq: seq, Err: err}
	}
	line, err := lr.next()
	if err == io.EOF {
		return fail(0, fmt.Errorf("%w: empty export (no header line)", ErrTruncated))
	}
	if err != nil {
		return Report{}, err
	}
	var h headerLine
	if err := decodeStrict(line, &h); err != nil {
		return fail(0, fmt.Errorf("%w: header: %v", ErrMalformed, err))
	}
	if h.Type != "header" || h.Format != ExportFormat {
		return fail(0, fmt.Errorf("%w: header: type %q format %q, want header %q", ErrMalformed, h.Type, h.Format, ExportFormat))
	}
	pub, err := sigkey.ParsePublicKey(h.Signer)
	if err != nil {
		return fail(0, fmt.Errorf("%w: header field signer: %v", ErrMalformed, err))
	}
	if !bytes.Equal(Header{Signer: pub}.MarshalLine(), line) {
		return fail(0, fmt.Errorf("%w: header is not in canonical form", ErrMalformed))
	}
	if pub.Algorithm != signerKey.Algorithm || !bytes.Equal(pub.Key, signerKey.Key) {
		return fail(0, fmt.Errorf("%w: export names %s, trusted key is %s", ErrWrongSigner, pub.Fingerprint(), signerKey.Fingerprint()))
	}

	rep := Report{Signer: signerKey}
	var prev Digest // hash of the last record; zero before seq 1
	for {
		line, err := lr.next()
		if err == io.EOF {
			return fail(0, fmt.Errorf("%w: no end line after record seq %d", ErrTruncated, rep.Records))
		}
		if err != nil {
			return Report{}, err
		}
		switch lineType(line) {
		case "record":
			rec, err := ParseRecordLine(line)
			if err != nil {
				return fail(rep.Records+1, err)
			}
			want := rep.Records + 1
			if rec.Seq != want {
				return fail(rec.Seq, fmt.Errorf("%w: expected record seq %d, found seq %d (a record was deleted, inserted or reordered)", ErrTampered, want, rec.Seq))
			}
			if rec.PrevHash != prev {
				return fail(rec.Seq, fmt.Errorf("%w: prev_hash %s does not match the hash of record seq %d (%s): a record was replaced or inserted", ErrTampered, rec.PrevHash, rep.Records, prev))
			}
			if got := rec.ComputeHash(); got != rec.Hash {
				return fail(rec.Seq, fmt.Errorf("%w: hash %s does not match the record's content (%s): the record was edited", ErrTampered, rec.Hash, got))
			}
			if rec.Seq == 1 && rec.Kind != KindStoreCreated {
				return fail(rec.Seq, fmt.Errorf("%w: first record has kind %q, want %q", ErrTampered, rec.Kind, KindStoreCreated))
			}
			prev = rec.Hash
			rep.Records = rec.Seq
			rep.Head = rec.Hash
		case "checkpoint":
			cp, err := ParseCheckpointLine(line)
			if err != nil {
				return fail(0, err)
			}
			if cp.Seq > rep.Records {
				return fail(cp.Seq, fmt.Errorf("%w: checkpoint names record seq %d but the export has only %d records before it (records deleted)", ErrTampered, cp.Seq, rep.Records))
			}
			if cp.Seq < rep.Records || cp.Seq <= rep.LastCheckpoint.Seq {
				return fail(cp.Seq, fmt.Errorf("%w: checkpoint for seq %d is out of place (after record seq %d, previous checkpoint seq %d)", ErrTampered, cp.Seq, rep.Records, rep.LastCheckpoint.Seq))
			}
			if err := cp.VerifySignature(signerKey); err != nil {
				return fail(cp.Seq, err)
			}
			if cp.Head != prev {
				return fail(cp.Seq, fmt.Errorf("%w: checkpoint head %s differs from the chain's hash %s at seq %d: records up to here were altered", ErrTampered, cp.Head, prev, cp.Seq))
			}
			rep.Checkpoints++
			rep.LastCheckpoint = cp
		case "end":
			var e endLine
			if err := decodeStrict(line, &e); err != nil {
				return fail(0, fmt.Errorf("%w: end: %v", ErrMalformed, err))
			}
			head, err := ParseDigest(e.Head)
			if err != nil {
				return fail(0, fmt.Errorf("%w: end field head: %v", ErrMalformed, err))
			}
			end := End{Records: e.Records, Checkpoints: e.Checkpoints, Head: head}
			if !bytes.Equal(end.MarshalLine(), line) {
				return fail(0, fmt.Errorf("%w: end line is not in canonical form", ErrMalformed))
			}
			if end.Records != rep.Records || end.Head != rep.Head {
				return fail(0, fmt.Errorf("%w: end line says %d records (head %s), export holds %d (head %s)", ErrTruncated, end.Records, end.Head, rep.Records, rep.Head))
			}
			if end.Checkpoints != rep.Checkpoints {
				return fail(0, fmt.Errorf("%w: end line says %d checkpoints, export holds %d", ErrTruncated, end.Checkpoints, rep.Checkpoints))
			}
			if rep.Records == 0 {
				return fail(0, fmt.Errorf("%w: export holds no records", ErrTruncated))
			}
			if _, err := lr.next(); err != io.EOF {
				if err != nil {
					return Report{}, err
				}
				return fail(0, fmt.Errorf("%w: bytes after the end line", ErrMalformed))
			}
			rep.Unanchored = rep.Records - rep.LastCheckpoint.Seq
			return rep, nil
		default:
			return fail(0, fmt.Errorf("%w: line is not a canonical header, record, checkpoint or end line", ErrMalformed))
		}
	}
}

// ReadHeader reads and strictly parses only the header line of an export
// and returns the signer key it names. The key is NOT trusted by this: the
// caller must pin it (by fingerprint) before passing it to Verify.
func ReadHeader(r io.Reader) (sigkey.PublicKey, error) {
	lr := &lineReader{r: bufio.NewReaderSize(r, 4<<10)}
	line, err := lr.next()
	if err == io.EOF {
		return sigkey.PublicKey{}, &VerifyError{Line: 1, Err: fmt.Errorf("%w: empty export (no header line)", ErrTruncated)}
	}
	if err != nil {
		return sigkey.PublicKey{}, err
	}
	var h headerLine
	if err := decodeStrict(line, &h); err != nil || h.Type != "header" || h.Format != ExportFormat {
		return sigkey.PublicKey{}, &VerifyError{Line: 1, Err: fmt.Errorf("%w: not an %s header", ErrMalformed, ExportFormat)}
	}
	pub, err := sigkey.ParsePublicKey(h.Signer)
	if err != nil {
		return sigkey.PublicKey{}, &VerifyError{Line: 1, Err: fmt.Errorf("%w: header field signer: %v", ErrMalformed, err)}
	}
	return pub, nil
}
