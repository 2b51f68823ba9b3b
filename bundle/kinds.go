package bundle

import (
	"encoding/binary"
	"fmt"
)

// Type says which of the three bundle types a file holds. It is encoded as
// the CBOR tag that opens every bundle, so a request can never be mistaken
// for a response or an approval.
type Type uint8

// Bundle types. The values are the low byte of the CBOR tag number.
const (
	TypeUnknown  Type = 0
	TypeRequest  Type = 1
	TypeApproval Type = 2
	TypeResponse Type = 3
)

// String returns "request", "approval", "response" or "unknown".
func (t Type) String() string {
	switch t {
	case TypeRequest:
		return "request"
	case TypeApproval:
		return "approval"
	case TypeResponse:
		return "response"
	default:
		return "unknown"
	}
}

// TagBase is the CBOR tag number of type 0; a bundle of type t is the CBOR
// data item tag(TagBase+t) wrapping a map. The tags lie in the IANA
// first-come-first-served range and are not registered: they only need to
// be unambiguous among Icebox files.
const TagBase = 0x1CEB00

// Tag returns the CBOR tag number of bundles of type t.
func (t Type) Tag() uint64 { return TagBase + uint64(t) }

// headerLen is the length of the tag head: 0xda (major type 6, 4-byte
// argument) followed by the tag number, big endian.
const headerLen = 5

func header(t Type) [headerLen]byte {
	var h [headerLen]byte
	h[0] = 0xda
	binary.BigEndian.PutUint32(h[1:], uint32(t.Tag()))
	return h
}

// Sniff returns the bundle type announced by the first five bytes of data.
// It reads nothing else and proves nothing about the rest of the input.
func Sniff(data []byte) (Type, error) {
	if len(data) < headerLen {
		return TypeUnknown, fieldErr("bundle", fmt.Errorf("%w: %d bytes is too short for a bundle header", ErrWrongType, len(data)))
	}
	for _, t := range []Type{TypeRequest, TypeApproval, TypeResponse} {
		if [headerLen]byte(data[:headerLen]) == header(t) {
			return t, nil
		}
	}
	return TypeUnknown, fieldErr("bundle", fmt.Errorf("%w: header %x is not an Icebox bundle tag", ErrWrongType, data[:headerLen]))
}

// Bundle is any decoded bundle: *Request, *DetachedApproval or *Response.
type Bundle interface {
	BundleType() Type
}

// BundleType returns TypeRequest.
func (r *Request) BundleType() Type { return TypeRequest }

// BundleType returns TypeApproval.
func (a *DetachedApproval) BundleType() Type { return TypeApproval }

// BundleType returns TypeResponse.
func (r *Response) BundleType() Type { return TypeResponse }

var (
	_ Bundle = (*Request)(nil)
	_ Bundle = (*DetachedApproval)(nil)
	_ Bundle = (*Response)(nil)
)

// DetachedApproval is an approval that travels on its own, for officers who
// review a request on their own machine and send back only their approval.
// The hot wallet merges it into the request with AddApproval. RequestID is
// informational; RequestDigest is what the approval's signature binds.
type DetachedApproval struct {
	Version       int
	RequestID     string
	RequestDigest Digest
	Approval      Approval
}
