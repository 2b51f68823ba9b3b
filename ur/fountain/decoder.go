package fountain

import (
	"fmt"
	"hash/crc32"
)

// Default caps of a Decoder. They are checked against a part's declared
// lengths before anything is allocated for the message.
const (
	DefaultMaxMessageLen = 64 << 20 // 64 MiB
	DefaultMaxSeqLen     = 1 << 16  // 65,536 fragments
)

// DecoderOptions cap what a Decoder accepts. Zero fields take the defaults.
type DecoderOptions struct {
	MaxMessageLen int // largest declared messageLen accepted
	MaxSeqLen     int // largest declared seqLen (fragment count) accepted
}

// Decoder reassembles a message from parts received in any order, repeated
// or with some missing: pure fragments are stored, mixed parts are reduced by
// XOR against what is known (a peeling decoder) until they yield a new
// fragment. The first part
// fixes the message (seqLen, messageLen, checksum, fragment length); a later
// part that disagrees is refused with ErrInconsistentPart and does not
// change the state. A Decoder is not safe for concurrent use; its zero value
// is not usable, call NewDecoder.
type Decoder struct {
	opts DecoderOptions

	started     bool
	seqLen      int
	messageLen  int
	fragmentLen int
	ch          chooser

	fragments  [][]byte // recovered pure fragments; nil = missing
	recovered  int
	mixed      []*mixedPart
	byFragment [][]int32       // fragment index -> mixed parts waiting for it
	seenMixed  map[uint32]bool // seqNums of mixed parts already taken
	edges      int             // sum of stored mixed parts' unknown counts
	dropped    int             // mixed parts not stored because of the caps
	received   int             // parts accepted (including duplicates)

	done   bool
	result []byte
	err    error
}

// mixedPart is a fountain part whose data has had every recovered
// fragment XORed out; unknown counts the fragments still in it.
type mixedPart struct {
	indexes []int // as chosen (all fragments mixed in originally)
	data    []byte
	unknown int
}

// Caps on stored unresolved mixed parts: count and total fragment
// references. A hostile stream could otherwise send endless distinct mixes.
const maxEdges = 1 << 22

// NewDecoder returns an empty Decoder. Negative options are ErrInvalidOptions.
func NewDecoder(opts DecoderOptions) (*Decoder, error) {
	if opts.MaxMessageLen < 0 || opts.MaxSeqLen < 0 {
		return nil, fmt.Errorf("%w: negative cap", ErrInvalidOptions)
	}
	if opts.MaxMessageLen == 0 {
		opts.MaxMessageLen = DefaultMaxMessageLen
	}
	if opts.MaxSeqLen == 0 {
		opts.MaxSeqLen = DefaultMaxSeqLen
	}
	return &Decoder{opts: opts}, nil
}

// Validate reports whether p could belong to the message this Decoder is
// assembling (or, before the first part, whether p is self-consistent and
// within the caps). It does not change the Decoder.
func (d *Decoder) Validate(p Part) error {
	switch {
	case p.MessageLen < 1:
		return fmt.Errorf("%w: field messageLen: %d", ErrMalformedPart, p.MessageLen)
	case p.SeqLen < 1:
		return fmt.Errorf("%w: field seqLen: %d", ErrMalformedPart, p.SeqLen)
	case p.SeqNum == 0:
		return fmt.Errorf("%w: field seqNum: zero", ErrMalformedPart)
	case len(p.Data) == 0:
		return fmt.Errorf("%w: field data: empty fragment", ErrMalformedPart)
	case p.MessageLen > d.opts.MaxMessageLen:
		return fmt.Errorf("%w: field messageLen: declared %d bytes, cap %d", ErrTooLarge, p.MessageLen, d.opts.MaxMessageLen)
	case p.SeqLen > d.opts.MaxSeqLen:
		return fmt.Errorf("%w: field seqLen: declared %d fragments, cap %d", ErrTooLarge, p.SeqLen, d.opts.MaxSeqLen)
	}
	fragLen := len(p.Data)
	if want := (p.MessageLen + fragLen - 1) / fragLen; p.SeqLen != want {
		return fmt.Errorf("%w: field seqLen: %d fragments of %d bytes cannot hold messageLen %d (want seqLen %d)",
			ErrInconsistentPart, p.SeqLen, fragLen, p.MessageLen, want)
	}
	if !d.started {
		return nil
	}
	switch {
	case p.Checksum != d.ch.checksum:
		return fmt.Errorf("%w: field checksum: %08x, message has %08x (mixed messages)", ErrInconsistentPart, p.Checksum, d.ch.checksum)
	case p.MessageLen != d.messageLen:
		return fmt.Errorf("%w: field messageLen: %d, message has %d (mixed messages)", ErrInconsistentPart, p.MessageLen, d.messageLen)
	case p.SeqLen != d.seqLen:
		return fmt.Errorf("%w: field seqLen: %d, message has %d (mixed messages)", ErrInconsistentPart, p.SeqLen, d.seqLen)
	case fragLen != d.fragmentLen:
		return fmt.Errorf("%w: field data: fragment of %d bytes, message has %d", ErrInconsistentPart, fragLen, d.fragmentLen)
	}
	return nil
}

// Receive adds one part. It returns an error, and leaves the Decoder
// unchanged, if the part is invalid or belongs to another message (see
// Validate). Once all fragments are recovered the message's CRC32 is
// checked: a mismatch makes the Decoder complete with Result returning
// ErrChecksum. Parts received after completion are validated and then
// ignored.
func (d *Decoder) Receive(p Part) error {
	if err := d.Validate(p); err != nil {
		return err
	}
	if !d.started {
		d.started = true
		d.seqLen = p.SeqLen
		d.messageLen = p.MessageLen
		d.fragmentLen = len(p.Data)
		d.ch = chooser{seqLen: p.SeqLen, checksum: p.Checksum}
		d.fragments = make([][]byte, p.SeqLen)
		d.byFragment = make([][]int32, p.SeqLen)
		d.seenMixed = make(map[uint32]bool)
	}
	d.received++
	if d.done {
		return nil
	}
	data := append([]byte(nil), p.Data...)
	if int64(p.SeqNum) <= int64(d.seqLen) {
		d.recover(int(p.SeqNum)-1, data)
		return nil
	}
	if d.seenMixed[p.SeqNum] {
		return nil
	}
	idx := d.ch.choose(p.SeqNum)
	m := &mixedPart{indexes: idx, data: data}
	last := -1
	for _, i := range idx {
		if f := d.fragments[i]; f != nil {
			xorInto(m.data, f)
		} else {
			m.unknown++
			last = i
		}
	}
	switch {
	case m.unknown == 0:
		return nil
	case m.unknown == 1:
		d.recover(last, m.data)
		return nil
	case len(d.mixed) >= 2*d.seqLen+16 || d.edges+m.unknown > maxEdges:
		d.dropped++
		return nil
	}
	d.seenMixed[p.SeqNum] = true
	n := int32(len(d.mixed))
	d.mixed = append(d.mixed, m)
	d.edges += m.unknown
	for _, i := range idx {
		if d.fragments[i] == nil {
			d.byFragment[i] = append(d.byFragment[i], n)
		}
	}
	return nil
}

// recover stores fragment i and peels it out of every mixed part waiting
// for it, recovering further fragments as mixed parts drop to one unknown.
func (d *Decoder) recover(i int, data []byte) {
	type item struct {
		i    int
		data []byte
	}
	queue := []item{{i, data}}
	for len(queue) > 0 && !d.done {
		it := queue[0]
		queue = queue[1:]
		if d.fragments[it.i] != nil {
			continue
		}
		d.fragments[it.i] = it.data
		d.recovered++
		if d.recovered == d.seqLen {
			d.finish()
			return
		}
		waiting := d.byFragment[it.i]
		d.byFragment[it.i] = nil
		for _, n := range waiting {
			m := d.mixed[n]
			if m.unknown == 0 {
				continue
			}
			xorInto(m.data, it.data)
			m.unknown--
			d.edges--
			if m.unknown == 1 {
				for _, j := range m.indexes {
					if d.fragments[j] == nil {
						queue = append(queue, item{j, m.data})
						break
					}
				}
				m.unknown = 0
				d.edges--
			}
		}
	}
}

func (d *Decoder) finish() {
	d.done = true
	msg := make([]byte, 0, d.seqLen*d.fragmentLen)
	for _, f := range d.fragments {
		msg = append(msg, f...)
	}
	msg = msg[:d.messageLen]
	d.fragments, d.mixed, d.byFragment, d.seenMixed = nil, nil, nil, nil
	if got := crc32.ChecksumIEEE(msg); got != d.ch.checksum {
		d.err = fmt.Errorf("%w: reassembled message has %08x, parts declare %08x", ErrChecksum, got, d.ch.checksum)
		return
	}
	d.result = msg
}

// IsComplete reports whether every fragment has been recovered (Result then
// returns the message or ErrChecksum).
func (d *Decoder) IsComplete() bool { return d.done }

// Result returns the message once complete. Before completion it returns an
// error; after a checksum failure it returns an error wrapping ErrChecksum.
func (d *Decoder) Result() ([]byte, error) {
	if !d.done {
		return nil, fmt.Errorf("fountain: incomplete: %d of %d fragments", d.recovered, d.seqLen)
	}
	return d.result, d.err
}

// Recovered is the number of distinct fragments recovered so far.
func (d *Decoder) Recovered() int {
	if d.done {
		return d.seqLen
	}
	return d.recovered
}

// Expected is the number of fragments of the message (0 before the first part).
func (d *Decoder) Expected() int { return d.seqLen }

// Received is the number of parts accepted, duplicates included.
func (d *Decoder) Received() int { return d.received }

// Progress is Recovered/Expected in [0, 1] (0 before the first part).
func (d *Decoder) Progress() float64 {
	if d.seqLen == 0 {
		return 0
	}
	return float64(d.Recovered()) / float64(d.seqLen)
}

// MessageLen and Checksum describe the message being assembled (zero
// before the first part).
func (d *Decoder) MessageLen() int { return d.messageLen }

// Checksum is the CRC32 every part declared (zero before the first part).
func (d *Decoder) Checksum() uint32 { return d.ch.checksum }
