package ur

import (
	"encoding/binary"
	"fmt"
)

// WrapBytes returns the CBOR byte string holding b (shortest-form head), the
// UR payload of TypePSBT, TypeCryptoPSBT, TypeBytes and the Icebox types.
func WrapBytes(b []byte) []byte {
	n := uint64(len(b))
	var head []byte
	switch {
	case n < 24:
		head = []byte{0x40 | byte(n)}
	case n <= 0xff:
		head = []byte{0x58, byte(n)}
	case n <= 0xffff:
		head = binary.BigEndian.AppendUint16([]byte{0x59}, uint16(n))
	case n <= 0xffffffff:
		head = binary.BigEndian.AppendUint32([]byte{0x5a}, uint32(n))
	default:
		head = binary.BigEndian.AppendUint64([]byte{0x5b}, n)
	}
	return append(head, b...)
}

// UnwrapBytes returns the content of a CBOR byte string, strictly: one
// definite-length byte string with a shortest-form head and nothing after
// it. Anything else is ErrNotByteString with the reason. The result aliases
// cbor.
func UnwrapBytes(cbor []byte) ([]byte, error) {
	if len(cbor) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrNotByteString)
	}
	ib := cbor[0]
	if ib>>5 != 2 {
		return nil, fmt.Errorf("%w: CBOR major type %d", ErrNotByteString, ib>>5)
	}
	ai := ib & 0x1f
	var n uint64
	var size int
	switch {
	case ai < 24:
		n = uint64(ai)
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return nil, fmt.Errorf("%w: indefinite or reserved length", ErrNotByteString)
	}
	if len(cbor) < 1+size {
		return nil, fmt.Errorf("%w: truncated head", ErrNotByteString)
	}
	for _, c := range cbor[1 : 1+size] {
		n = n<<8 | uint64(c)
	}
	minFor := map[int]uint64{1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}
	if size > 0 && n < minFor[size] {
		return nil, fmt.Errorf("%w: non-shortest length head", ErrNotByteString)
	}
	content := cbor[1+size:]
	if uint64(len(content)) != n {
		return nil, fmt.Errorf("%w: head says %d bytes, %d follow", ErrNotByteString, n, len(content))
	}
	return content, nil
}
