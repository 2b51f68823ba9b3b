package fountain

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrMalformedPart: a part's CBOR is not [seqNum, seqLen, messageLen, checksum, data].
	ErrMalformedPart = errors.New("fountain: malformed part")
	// ErrInconsistentPart: a part's fields contradict each other (fragment
	// length vs seqLen vs messageLen) or the parts received before it (a
	// different message).
	ErrInconsistentPart = errors.New("fountain: part inconsistent with message")
	// ErrTooLarge: a declared messageLen or seqLen is above the decoder's cap.
	ErrTooLarge = errors.New("fountain: message too large")
	// ErrChecksum: all fragments were recovered but the message's CRC32 is wrong.
	ErrChecksum = errors.New("fountain: message checksum mismatch")
	// ErrInvalidOptions: encoder or decoder options out of range.
	ErrInvalidOptions = errors.New("fountain: invalid options")
)

// DefaultMinFragmentLen is the reference implementations' minimum fragment
// length: a message is not split into fragments shorter than this.
const DefaultMinFragmentLen = 10

// EncoderOptions configure an Encoder.
type EncoderOptions struct {
	// MaxFragmentLen is the largest fragment, in bytes. Required (>= 1).
	MaxFragmentLen int
	// MinFragmentLen is the smallest fragment the message is split into.
	// Zero means DefaultMinFragmentLen; it is lowered to the message length
	// for short messages, which then travel as one fragment.
	MinFragmentLen int
	// FirstSeqNum is the sequence number before the first part emitted
	// (the first part is FirstSeqNum+1). Zero for a normal stream.
	FirstSeqNum uint32
}

// Encoder splits a message into equal fragments and emits parts: the
// SeqLen pure fragments first, then fountain parts (XOR mixes) without end.
// The stream is a deterministic function of the message and options, the
// same as every reference implementation's. An Encoder is not safe for
// concurrent use.
type Encoder struct {
	fragments   [][]byte
	fragmentLen int
	messageLen  int
	seqNum      uint32
	ch          chooser
}

// NewEncoder prepares the parts of message. It returns ErrInvalidOptions
// for an empty message, a MaxFragmentLen below 1 or below MinFragmentLen,
// or more fragments than fit in 32 bits.
func NewEncoder(message []byte, opts EncoderOptions) (*Encoder, error) {
	if len(message) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrInvalidOptions)
	}
	minLen := opts.MinFragmentLen
	if minLen == 0 {
		minLen = DefaultMinFragmentLen
	}
	if minLen < 1 || opts.MaxFragmentLen < minLen {
		return nil, fmt.Errorf("%w: MaxFragmentLen %d, MinFragmentLen %d", ErrInvalidOptions, opts.MaxFragmentLen, minLen)
	}
	if int64(len(message)) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds 32-bit lengths", ErrInvalidOptions, len(message))
	}
	fragLen := NominalFragmentLen(len(message), min(minLen, len(message)), opts.MaxFragmentLen)
	e := &Encoder{
		fragments:   partition(message, fragLen),
		fragmentLen: fragLen,
		messageLen:  len(message),
		seqNum:      opts.FirstSeqNum,
	}
	e.ch = chooser{seqLen: len(e.fragments), checksum: crc32.ChecksumIEEE(message)}
	return e, nil
}

// NominalFragmentLen returns the fragment length the reference encoders use:
// the length of the fewest equal fragments (at least minLen bytes each) that
// are each at most maxLen bytes. A minLen below 1 counts as 1.
func NominalFragmentLen(messageLen, minLen, maxLen int) int {
	minLen = max(minLen, 1)
	maxCount := messageLen / minLen
	fragLen := messageLen
	for count := 1; count <= maxCount; count++ {
		fragLen = (messageLen + count - 1) / count
		if fragLen <= maxLen {
			break
		}
	}
	return fragLen
}

// partition splits message into fragLen-sized fragments, the last one
// zero-padded.
func partition(message []byte, fragLen int) [][]byte {
	n := (len(message) + fragLen - 1) / fragLen
	out := make([][]byte, n)
	for i := range out {
		f := make([]byte, fragLen)
		copy(f, message[i*fragLen:])
		out[i] = f
	}
	return out
}

// SeqLen is the number of fragments.
func (e *Encoder) SeqLen() int { return len(e.fragments) }

// FragmentLen is the length of every fragment (and part data).
func (e *Encoder) FragmentLen() int { return e.fragmentLen }

// Checksum is the CRC32 of the message.
func (e *Encoder) Checksum() uint32 { return e.ch.checksum }

// SeqNum is the sequence number of the last part emitted (FirstSeqNum
// before the first).
func (e *Encoder) SeqNum() uint32 { return e.seqNum }

// NextPart returns the next part. Sequence numbers wrap from 2^32-1 to 1.
func (e *Encoder) NextPart() Part {
	e.seqNum++
	if e.seqNum == 0 {
		e.seqNum = 1
	}
	data := make([]byte, e.fragmentLen)
	for _, i := range e.ch.choose(e.seqNum) {
		xorInto(data, e.fragments[i])
	}
	return Part{
		SeqNum:     e.seqNum,
		SeqLen:     len(e.fragments),
		MessageLen: e.messageLen,
		Checksum:   e.ch.checksum,
		Data:       data,
	}
}

func xorInto(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}
