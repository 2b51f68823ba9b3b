package bytewords

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Style is one of the three Bytewords spellings.
type Style int

// Styles. Minimal is what URs use.
const (
	// Standard spells each byte as its full four-letter word, words
	// separated by a space.
	Standard Style = iota + 1
	// URI spells each byte as its full word, words separated by "-".
	URI
	// Minimal spells each byte as the first and last letter of its word,
	// with no separator.
	Minimal
)

// String returns the style's name.
func (s Style) String() string {
	switch s {
	case Standard:
		return "standard"
	case URI:
		return "uri"
	case Minimal:
		return "minimal"
	default:
		return fmt.Sprintf("Style(%d)", int(s))
	}
}

// Sentinel errors, matched with errors.Is. Every decode error wraps one.
var (
	errInvalidStyle = errors.New("bytewords: invalid style")
	// ErrInvalidWord: a word (or minimal letter pair) is not in the dictionary.
	ErrInvalidWord = errors.New("bytewords: invalid word")
	// ErrInvalidLength: a minimal string of odd length, or a word not four letters long.
	ErrInvalidLength = errors.New("bytewords: invalid length")
	// ErrNonASCII: the input holds a byte outside printable ASCII.
	ErrNonASCII = errors.New("bytewords: non-ASCII input")
	// ErrTooShort: fewer than the four checksum bytes.
	ErrTooShort = errors.New("bytewords: too short for the CRC32 checksum")
	// ErrChecksum: the trailing CRC32 does not match the body.
	ErrChecksum = errors.New("bytewords: bad CRC32 checksum")
)

const checksumLen = 4

var (
	words [256]string
	// byFirstLast maps (first letter, last letter) to byte value+1; 0 = none.
	byFirstLast [26][26]uint16
)

func init() {
	list := strings.Fields(wordList)
	if len(list) != 256 {
		panic("bytewords: dictionary must have 256 words")
	}
	for i, w := range list {
		if len(w) != 4 {
			panic("bytewords: dictionary word " + w + " is not four letters")
		}
		words[i] = w
		f, l := w[0]-'a', w[3]-'a'
		if byFirstLast[f][l] != 0 {
			panic("bytewords: dictionary first/last letters are not unique")
		}
		byFirstLast[f][l] = uint16(i) + 1
	}
}

// Word returns the dictionary word of b.
func Word(b byte) string { return words[b] }

// Checksum returns the CRC32 (IEEE) of data, the checksum Bytewords appends.
func Checksum(data []byte) uint32 { return crc32.ChecksumIEEE(data) }

// Encode spells data followed by its big-endian CRC32 in the given style.
// It panics only on an invalid Style value, which is a programming error.
func Encode(style Style, data []byte) string {
	withSum := binary.BigEndian.AppendUint32(append(make([]byte, 0, len(data)+checksumLen), data...), Checksum(data))
	var sb strings.Builder
	switch style {
	case Standard, URI:
		sep := byte(' ')
		if style == URI {
			sep = '-'
		}
		sb.Grow(len(withSum) * 5)
		for i, b := range withSum {
			if i > 0 {
				sb.WriteByte(sep)
			}
			sb.WriteString(words[b])
		}
	case Minimal:
		sb.Grow(len(withSum) * 2)
		for _, b := range withSum {
			w := words[b]
			sb.WriteByte(w[0])
			sb.WriteByte(w[3])
		}
	default:
		panic(errInvalidStyle)
	}
	return sb.String()
}

// Decode parses s in the given style, checks and strips the trailing CRC32
// and returns the body. Input is case-insensitive (QR alphanumeric mode is
// upper case). In the standard and URI styles every word must be spelled in
// full and correctly: a word that merely shares its first and last letters
// with a dictionary word is refused. On failure it returns nil and an error
// wrapping one of the package's sentinel errors, naming the position.
func Decode(style Style, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return nil, fmt.Errorf("%w at offset %d", ErrNonASCII, i)
		}
	}
	var out []byte
	switch style {
	case Standard, URI:
		sep := " "
		if style == URI {
			sep = "-"
		}
		if s == "" {
			return nil, fmt.Errorf("%w: empty input", ErrInvalidWord)
		}
		parts := strings.Split(s, sep)
		out = make([]byte, 0, len(parts))
		for i, w := range parts {
			b, err := decodeWord(w)
			if err != nil {
				return nil, fmt.Errorf("word %d %q: %w", i+1, w, err)
			}
			out = append(out, b)
		}
	case Minimal:
		if len(s)%2 != 0 {
			return nil, fmt.Errorf("%w: minimal string has odd length %d", ErrInvalidLength, len(s))
		}
		out = make([]byte, 0, len(s)/2)
		for i := 0; i < len(s); i += 2 {
			b, ok := lookup(s[i], s[i+1])
			if !ok {
				return nil, fmt.Errorf("%w: letters %q at offset %d", ErrInvalidWord, s[i:i+2], i)
			}
			out = append(out, b)
		}
	default:
		return nil, fmt.Errorf("%w: %v", errInvalidStyle, style)
	}
	if len(out) < checksumLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooShort, len(out))
	}
	body, sum := out[:len(out)-checksumLen], out[len(out)-checksumLen:]
	if want, got := Checksum(body), binary.BigEndian.Uint32(sum); want != got {
		return nil, fmt.Errorf("%w: body has %08x, trailer says %08x", ErrChecksum, want, got)
	}
	return body, nil
}

func decodeWord(w string) (byte, error) {
	if len(w) != 4 {
		return 0, fmt.Errorf("%w: %d letters, want 4", ErrInvalidLength, len(w))
	}
	b, ok := lookup(w[0], w[3])
	if !ok || !strings.EqualFold(words[b], w) {
		return 0, ErrInvalidWord
	}
	return b, nil
}

func lookup(first, last byte) (byte, bool) {
	f, l := lower(first), lower(last)
	if f < 'a' || f > 'z' || l < 'a' || l > 'z' {
		return 0, false
	}
	v := byFirstLast[f-'a'][l-'a']
	if v == 0 {
		return 0, false
	}
	return byte(v - 1), true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
