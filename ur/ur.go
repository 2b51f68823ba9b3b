package ur

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/icebox-custody/icebox/ur/bytewords"
	"github.com/icebox-custody/icebox/ur/fountain"
)

// UR types this project reads and writes. Any syntactically valid type can
// be encoded and decoded; these are the ones with a meaning here.
const (
	// TypeBytes is BCR-2020-005's test type (a CBOR byte string).
	TypeBytes = "bytes"
	// TypePSBT is BCR-2020-006's current name for a PSBT: the payload is a
	// CBOR byte string wrapping the binary PSBT.
	TypePSBT = "psbt"
	// TypeCryptoPSBT is the legacy name of TypePSBT, same payload. Most
	// air-gapped wallets still write and read it.
	TypeCryptoPSBT = "crypto-psbt"
	// TypeIceboxRequest, TypeIceboxResponse and TypeIceboxApproval carry an
	// Icebox bundle: the payload is a CBOR byte string wrapping the bytes of
	// the bundle file exactly as written to disk (*.icebox). The UR type
	// says which kind of bundle to expect; the bundle itself is
	// authenticated by its signatures, never by the UR.
	TypeIceboxRequest  = "icebox-request"
	TypeIceboxResponse = "icebox-response"
	TypeIceboxApproval = "icebox-approval"
)

// Sentinel errors of this package, matched with errors.Is. Errors from the
// layers below are wrapped too: bytewords.ErrChecksum and friends (under
// ErrBytewords), fountain.ErrInconsistentPart, fountain.ErrTooLarge,
// fountain.ErrChecksum, fountain.ErrMalformedPart.
var (
	// ErrInvalidScheme: the string does not start with "ur:".
	ErrInvalidScheme = errors.New("ur: scheme is not \"ur:\"")
	// ErrInvalidType: the type is missing or has characters other than
	// a–z, 0–9 and "-".
	ErrInvalidType = errors.New("ur: invalid type")
	// ErrInvalidSequence: the seqNum-seqLen path component is malformed,
	// zero, disagrees with the part's CBOR, or there are too many components.
	ErrInvalidSequence = errors.New("ur: invalid sequence component")
	// ErrBytewords: the body is not valid minimal Bytewords (bad word, odd
	// length, CRC32 mismatch).
	ErrBytewords = errors.New("ur: invalid bytewords body")
	// ErrNotMultiPart: a single-part UR where a multi-part one is required.
	ErrNotMultiPart = errors.New("ur: not a multi-part UR")
	// ErrNotSinglePart: a multi-part UR where a single-part one is required.
	ErrNotSinglePart = errors.New("ur: not a single-part UR")
	// ErrUnexpectedType: a type the decoder was not told to accept.
	ErrUnexpectedType = errors.New("ur: unexpected UR type")
	// ErrMixedMessage: a part of another message (other type, or a
	// single-part UR amid a multi-part stream).
	ErrMixedMessage = errors.New("ur: part belongs to another message")
	// ErrTooLarge: the input string or declared message is above a cap.
	ErrTooLarge = errors.New("ur: too large")
	// ErrNotByteString: a payload that must be a CBOR byte string is not.
	ErrNotByteString = errors.New("ur: payload is not a CBOR byte string")
)

// CheckType returns nil if t is a valid UR type: one or more of a–z, 0–9
// and "-" (lower case; the caller lower-cases input first).
func CheckType(t string) error {
	if t == "" {
		return fmt.Errorf("%w: empty", ErrInvalidType)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: %q has character %q at offset %d", ErrInvalidType, t, c, i)
		}
	}
	return nil
}

// Encode returns the single-part UR "ur:<type>/<bytewords>" of cbor, lower
// case. It fails only for an invalid type.
func Encode(urType string, cbor []byte) (string, error) {
	if err := CheckType(urType); err != nil {
		return "", err
	}
	return "ur:" + urType + "/" + bytewords.Encode(bytewords.Minimal, cbor), nil
}

// maxStringLen is the longest UR accepted for a message of maxMessageLen
// bytes: two letters a byte, with room for the part header and checksum.
func maxStringLen(maxMessageLen int) int { return 2*(maxMessageLen+64) + 256 }

// Decode parses a single-part UR (case-insensitive) and returns its type and
// CBOR payload. A multi-part UR is ErrNotSinglePart (use a Decoder). Input
// longer than a DefaultMaxMessageLen message could need is ErrTooLarge,
// refused before parsing.
func Decode(s string) (urType string, cbor []byte, err error) {
	p, err := parse(s, fountain.DefaultMaxMessageLen)
	if err != nil {
		return "", nil, err
	}
	if p.multi {
		return "", nil, fmt.Errorf("%w: %s part %d-%d", ErrNotSinglePart, p.urType, p.seqNum, p.seqLen)
	}
	return p.urType, p.body, nil
}

// ParsePart parses one part of a multi-part UR (case-insensitive) and
// returns its type and fountain part, after checking that the seqNum-seqLen
// path component matches the part's CBOR. A single-part UR is
// ErrNotMultiPart.
func ParsePart(s string) (urType string, part fountain.Part, err error) {
	p, err := parse(s, fountain.DefaultMaxMessageLen)
	if err != nil {
		return "", fountain.Part{}, err
	}
	if !p.multi {
		return "", fountain.Part{}, fmt.Errorf("%w: ur:%s/…", ErrNotMultiPart, p.urType)
	}
	return p.urType, p.part, nil
}

type parsed struct {
	urType         string
	multi          bool
	seqNum, seqLen uint64
	body           []byte        // single-part payload
	part           fountain.Part // multi-part
}

func parse(s string, maxMessageLen int) (parsed, error) {
	if len(s) > maxStringLen(maxMessageLen) {
		return parsed{}, fmt.Errorf("%w: UR string of %d characters, cap %d", ErrTooLarge, len(s), maxStringLen(maxMessageLen))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return parsed{}, fmt.Errorf("%w: character %q at offset %d is not printable ASCII", ErrInvalidScheme, s[i], i)
		}
	}
	s = strings.ToLower(s)
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return parsed{}, fmt.Errorf("%w: starts with %q", ErrInvalidScheme, s[:min(len(s), 4)])
	}
	comps := strings.Split(rest, "/")
	var p parsed
	switch len(comps) {
	case 1:
		return parsed{}, fmt.Errorf("%w: type missing (no \"/\" after \"ur:\")", ErrInvalidType)
	case 2, 3:
	default:
		return parsed{}, fmt.Errorf("%w: %d path components, want 2 or 3", ErrInvalidSequence, len(comps))
	}
	p.urType = comps[0]
	if err := CheckType(p.urType); err != nil {
		return parsed{}, err
	}
	bodyText := comps[len(comps)-1]
	if len(comps) == 3 {
		p.multi = true
		var err error
		if p.seqNum, p.seqLen, err = parseSeq(comps[1]); err != nil {
			return parsed{}, err
		}
	}
	body, err := bytewords.Decode(bytewords.Minimal, bodyText)
	if err != nil {
		if p.multi {
			return parsed{}, fmt.Errorf("ur:%s part %d-%d: %w: %w", p.urType, p.seqNum, p.seqLen, ErrBytewords, err)
		}
		return parsed{}, fmt.Errorf("ur:%s: %w: %w", p.urType, ErrBytewords, err)
	}
	if !p.multi {
		p.body = body
		return p, nil
	}
	part, err := fountain.ParsePart(body)
	if err != nil {
		return parsed{}, fmt.Errorf("ur:%s part %d-%d: %w", p.urType, p.seqNum, p.seqLen, err)
	}
	if uint64(part.SeqNum) != p.seqNum || uint64(part.SeqLen) != p.seqLen {
		return parsed{}, fmt.Errorf("%w: path says %d-%d, part CBOR says %d-%d", ErrInvalidSequence, p.seqNum, p.seqLen, part.SeqNum, part.SeqLen)
	}
	p.part = part
	return p, nil
}

// parseSeq parses "<seqNum>-<seqLen>": decimal, no sign, no leading zero,
// each 1 … 2^32-1.
func parseSeq(s string) (num, length uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q is not seqNum-seqLen", ErrInvalidSequence, s)
	}
	if num, err = parseSeqInt(a); err != nil {
		return 0, 0, fmt.Errorf("%w: seqNum %q: %v", ErrInvalidSequence, a, err)
	}
	if length, err = parseSeqInt(b); err != nil {
		return 0, 0, fmt.Errorf("%w: seqLen %q: %v", ErrInvalidSequence, b, err)
	}
	return num, length, nil
}

func parseSeqInt(s string) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("want 1 to 10 digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	if s[0] == '0' {
		return 0, errors.New("zero or leading zero")
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > math.MaxUint32 {
		return 0, errors.New("exceeds 32 bits")
	}
	return v, nil
}
