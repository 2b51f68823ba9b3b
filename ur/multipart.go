package ur

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/icebox-custody/icebox/ur/bytewords"
	"github.com/icebox-custody/icebox/ur/fountain"
)

// EncoderOptions configure an Encoder.
type EncoderOptions struct {
	// MaxFragmentLen is the largest fragment of the CBOR payload carried by
	// one part, in bytes. Required (>= 1).
	MaxFragmentLen int
	// MinFragmentLen: see fountain.EncoderOptions (0 = the reference 10).
	MinFragmentLen int
	// FirstSeqNum: see fountain.EncoderOptions (0 for a normal stream).
	FirstSeqNum uint32
}

// Encoder emits the URs of one payload: the same single-part UR forever when
// the payload fits in one fragment, otherwise multi-part URs — the SeqLen
// pure parts first, then fountain parts without end. Output is lower case
// and a deterministic function of type, payload and options (the reference
// implementations emit the same strings). Not safe for concurrent use.
type Encoder struct {
	urType string
	single string
	fe     *fountain.Encoder
}

// NewEncoder prepares the URs of cbor as urType. It fails for an invalid
// type, an empty payload or invalid options (fountain.ErrInvalidOptions).
func NewEncoder(urType string, cbor []byte, opts EncoderOptions) (*Encoder, error) {
	if err := CheckType(urType); err != nil {
		return nil, err
	}
	fe, err := fountain.NewEncoder(cbor, fountain.EncoderOptions{
		MaxFragmentLen: opts.MaxFragmentLen,
		MinFragmentLen: opts.MinFragmentLen,
		FirstSeqNum:    opts.FirstSeqNum,
	})
	if err != nil {
		return nil, fmt.Errorf("ur: encoding %s: %w", urType, err)
	}
	e := &Encoder{urType: urType, fe: fe}
	if fe.SeqLen() == 1 {
		e.single, _ = Encode(urType, cbor)
	}
	return e, nil
}

// IsSinglePart reports whether every part is the same single-part UR.
func (e *Encoder) IsSinglePart() bool { return e.single != "" }

// SeqLen is the number of fragments (1 for a single-part UR).
func (e *Encoder) SeqLen() int { return e.fe.SeqLen() }

// FragmentLen is the fragment length chosen (<= MaxFragmentLen).
func (e *Encoder) FragmentLen() int { return e.fe.FragmentLen() }

// Type is the UR type.
func (e *Encoder) Type() string { return e.urType }

// NextPart returns the next UR.
func (e *Encoder) NextPart() string {
	if e.single != "" {
		return e.single
	}
	p := e.fe.NextPart()
	return "ur:" + e.urType + "/" + strconv.FormatUint(uint64(p.SeqNum), 10) + "-" +
		strconv.Itoa(p.SeqLen) + "/" + bytewords.Encode(bytewords.Minimal, p.MarshalCBOR())
}

// Parts returns the next n URs (n <= 0 returns none).
func (e *Encoder) Parts(n int) []string {
	out := make([]string, 0, max(n, 0))
	for range n {
		out = append(out, e.NextPart())
	}
	return out
}

// DecoderOptions configure a Decoder. Zero fields take the defaults.
type DecoderOptions struct {
	// MaxMessageLen caps the CBOR payload (declared messageLen, or the
	// length of a single-part UR): default fountain.DefaultMaxMessageLen
	// (64 MiB). Checked before allocating.
	MaxMessageLen int
	// MaxSeqLen caps the declared number of fragments: default
	// fountain.DefaultMaxSeqLen.
	MaxSeqLen int
	// Types, if not empty, are the only UR types accepted (lower case).
	Types []string
}

// Decoder reassembles one payload from URs received in any order, repeated
// or with some missing. It accepts one single-part UR, or the parts of one
// multi-part UR. Every refused part leaves the Decoder unchanged and returns
// an error saying why: malformed UR or bytewords, CRC32 mismatch of the
// part, a type not in Types, a part of another message (other type,
// checksum, length or fragment count), declared sizes above the caps. Not
// safe for concurrent use; the zero value is not usable, call NewDecoder.
type Decoder struct {
	opts   DecoderOptions
	urType string
	fd     *fountain.Decoder
	single []byte // the payload of a single-part UR, once received
}

// NewDecoder returns an empty Decoder; it fails for negative caps or an
// invalid type in Types.
func NewDecoder(opts DecoderOptions) (*Decoder, error) {
	for _, t := range opts.Types {
		if err := CheckType(t); err != nil {
			return nil, fmt.Errorf("ur: DecoderOptions.Types: %w", err)
		}
	}
	fd, err := fountain.NewDecoder(fountain.DecoderOptions{MaxMessageLen: opts.MaxMessageLen, MaxSeqLen: opts.MaxSeqLen})
	if err != nil {
		return nil, fmt.Errorf("ur: %w", err)
	}
	if opts.MaxMessageLen == 0 {
		opts.MaxMessageLen = fountain.DefaultMaxMessageLen
	}
	return &Decoder{opts: opts, fd: fd}, nil
}

// Receive adds one UR (case-insensitive; surrounding white space is the
// caller's to trim). See Decoder for what is refused. Parts after completion
// are still checked against the message, then ignored.
func (d *Decoder) Receive(part string) error {
	p, err := parse(part, d.opts.MaxMessageLen)
	if err != nil {
		return err
	}
	if len(d.opts.Types) > 0 && !slices.Contains(d.opts.Types, p.urType) {
		return fmt.Errorf("%w: ur:%s, accepted: %v", ErrUnexpectedType, p.urType, d.opts.Types)
	}
	if d.urType != "" && p.urType != d.urType {
		return fmt.Errorf("%w: type ur:%s, message is ur:%s", ErrMixedMessage, p.urType, d.urType)
	}
	if !p.multi {
		switch {
		case len(p.body) > d.opts.MaxMessageLen:
			return fmt.Errorf("%w: single-part payload of %d bytes, cap %d", ErrTooLarge, len(p.body), d.opts.MaxMessageLen)
		case d.single != nil && !bytes.Equal(d.single, p.body):
			return fmt.Errorf("%w: a different single-part ur:%s", ErrMixedMessage, p.urType)
		case d.fd.Received() > 0:
			return fmt.Errorf("%w: single-part ur:%s amid a multi-part message", ErrMixedMessage, p.urType)
		}
		d.urType, d.single = p.urType, p.body
		return nil
	}
	if d.single != nil {
		return fmt.Errorf("%w: multi-part ur:%s part %d-%d after a single-part UR", ErrMixedMessage, p.urType, p.seqNum, p.seqLen)
	}
	if err := d.fd.Receive(p.part); err != nil {
		if errors.Is(err, fountain.ErrTooLarge) {
			err = fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return fmt.Errorf("ur:%s part %d-%d: %w", p.urType, p.seqNum, p.seqLen, err)
	}
	d.urType = p.urType
	return nil
}

// IsComplete reports whether the payload is reassembled (or found corrupt:
// Result then says so).
func (d *Decoder) IsComplete() bool { return d.single != nil || d.fd.IsComplete() }

// Result returns the type and CBOR payload once complete. It returns an
// error before completion, and an error wrapping fountain.ErrChecksum when
// the reassembled payload fails its CRC32 (the parts were forged or from a
// faulty encoder); no payload is ever returned then.
func (d *Decoder) Result() (urType string, cbor []byte, err error) {
	if d.single != nil {
		return d.urType, d.single, nil
	}
	msg, err := d.fd.Result()
	if err != nil {
		return "", nil, fmt.Errorf("ur:%s: %w", d.urType, err)
	}
	return d.urType, msg, nil
}

// Type is the UR type of the message ("" before the first part).
func (d *Decoder) Type() string { return d.urType }

// Progress is the fraction of fragments recovered, in [0, 1].
func (d *Decoder) Progress() float64 {
	if d.single != nil {
		return 1
	}
	return d.fd.Progress()
}

// Recovered is the number of fragments recovered (1 of 1 for a single-part UR).
func (d *Decoder) Recovered() int {
	if d.single != nil {
		return 1
	}
	return d.fd.Recovered()
}

// Expected is the number of fragments of the message (0 before the first part).
func (d *Decoder) Expected() int {
	if d.single != nil {
		return 1
	}
	return d.fd.Expected()
}

// Received is the number of URs accepted, duplicates included.
func (d *Decoder) Received() int {
	if d.single != nil {
		return 1
	}
	return d.fd.Received()
}
