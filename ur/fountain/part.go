package fountain

import (
	"fmt"
	"math"
)

// Part is one part of a multi-part message: fragment seqNum of seqLen (a
// pure fragment when SeqNum <= SeqLen, else the XOR of several fragments
// chosen from SeqNum and Checksum), with the message's length and CRC32.
type Part struct {
	SeqNum     uint32 // 1-based; > SeqLen for fountain (mixed) parts
	SeqLen     int    // number of fragments of the message
	MessageLen int    // length of the message in bytes
	Checksum   uint32 // CRC32 (IEEE) of the whole message
	Data       []byte // one fragment's worth: FragmentLen bytes
}

// MarshalCBOR returns the part's CBOR: the array
// [seqNum, seqLen, messageLen, checksum, data] with minimal-length heads,
// as every reference implementation writes it.
func (p Part) MarshalCBOR() []byte {
	out := make([]byte, 0, 1+4*9+9+len(p.Data))
	out = append(out, 0x85)
	out = appendHead(out, 0, uint64(p.SeqNum))
	out = appendHead(out, 0, uint64(p.SeqLen))
	out = appendHead(out, 0, uint64(p.MessageLen))
	out = appendHead(out, 0, uint64(p.Checksum))
	out = appendHead(out, 2, uint64(len(p.Data)))
	return append(out, p.Data...)
}

func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= math.MaxUint8:
		return append(b, m|24, byte(v))
	case v <= math.MaxUint16:
		return append(b, m|25, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, m|26, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		return append(b, m|27, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// ParsePart decodes a part's CBOR strictly: exactly a definite array of five
// items, four unsigned integers that fit in 32 bits and a definite byte
// string, every head in its shortest form (dCBOR, as BCR-2020-005 requires),
// no trailing bytes. It checks the field values only for form (SeqNum,
// SeqLen and MessageLen at least 1, Data not empty); whether a part fits
// its message is the Decoder's business. Errors wrap ErrMalformedPart and
// name the field.
func ParsePart(b []byte) (Part, error) {
	d := cborReader{b: b}
	if len(b) == 0 || b[0] != 0x85 {
		return Part{}, fmt.Errorf("%w: not a CBOR array of 5 items", ErrMalformedPart)
	}
	d.off = 1
	var vals [4]uint64
	for i, name := range []string{"seqNum", "seqLen", "messageLen", "checksum"} {
		v, err := d.head(0)
		if err != nil {
			return Part{}, fmt.Errorf("%w: field %s: %v", ErrMalformedPart, name, err)
		}
		if v > math.MaxUint32 {
			return Part{}, fmt.Errorf("%w: field %s: %d exceeds 32 bits", ErrMalformedPart, name, v)
		}
		vals[i] = v
	}
	n, err := d.head(2)
	if err != nil {
		return Part{}, fmt.Errorf("%w: field data: %v", ErrMalformedPart, err)
	}
	if n != uint64(len(b)-d.off) {
		return Part{}, fmt.Errorf("%w: field data: length %d, %d bytes follow", ErrMalformedPart, n, len(b)-d.off)
	}
	p := Part{
		SeqNum:     uint32(vals[0]),
		SeqLen:     int(vals[1]),
		MessageLen: int(vals[2]),
		Checksum:   uint32(vals[3]),
		Data:       append([]byte(nil), b[d.off:]...),
	}
	switch {
	case p.SeqNum == 0:
		return Part{}, fmt.Errorf("%w: field seqNum: zero", ErrMalformedPart)
	case p.SeqLen == 0:
		return Part{}, fmt.Errorf("%w: field seqLen: zero", ErrMalformedPart)
	case p.MessageLen == 0:
		return Part{}, fmt.Errorf("%w: field messageLen: zero", ErrMalformedPart)
	case len(p.Data) == 0:
		return Part{}, fmt.Errorf("%w: field data: empty fragment", ErrMalformedPart)
	}
	return p, nil
}

type cborReader struct {
	b   []byte
	off int
}

// head reads one head of the wanted major type in shortest form and returns
// its argument.
func (r *cborReader) head(major byte) (uint64, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("truncated")
	}
	ib := r.b[r.off]
	if ib>>5 != major {
		return 0, fmt.Errorf("CBOR major type %d, want %d", ib>>5, major)
	}
	r.off++
	ai := ib & 0x1f
	var size int
	switch {
	case ai < 24:
		return uint64(ai), nil
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return 0, fmt.Errorf("indefinite or reserved length (additional info %d)", ai)
	}
	if len(r.b)-r.off < size {
		return 0, fmt.Errorf("truncated")
	}
	var v uint64
	for _, c := range r.b[r.off : r.off+size] {
		v = v<<8 | uint64(c)
	}
	r.off += size
	var min uint64
	switch size {
	case 1:
		min = 24
	case 2:
		min = math.MaxUint8 + 1
	case 4:
		min = math.MaxUint16 + 1
	case 8:
		min = math.MaxUint32 + 1
	}
	if v < min {
		return 0, fmt.Errorf("non-shortest integer encoding of %d", v)
	}
	return v, nil
}
