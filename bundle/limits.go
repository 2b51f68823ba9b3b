package bundle

import "fmt"

// Limits caps what a decoder accepts. A zero field takes its value from
// DefaultLimits; a negative field is an error. Byte counts are checked on
// the raw input before any parsing.
type Limits struct {
	MaxRequestBytes  int // whole request file
	MaxResponseBytes int // whole response file
	MaxApprovalBytes int // whole detached approval file
	MaxTransactions  int // transactions per request or response
	MaxPayloadBytes  int // bytes of one transaction payload
	MaxApprovals     int // approvals carried by one request
	MaxIDLen         int // request id, bytes
	MaxNameLen       int // requester, officer, signer, network, refusal stage/code, bytes
	MaxReasonLen     int // request reason and refusal reason, bytes
	MaxSignatureLen  int // signature value, bytes
}

// DefaultLimits returns the caps used when a Limits field is zero.
func DefaultLimits() Limits {
	return Limits{
		MaxRequestBytes:  64 << 20,
		MaxResponseBytes: 96 << 20, // signed transactions are larger than unsigned ones
		MaxApprovalBytes: 64 << 10,
		MaxTransactions:  20000,
		MaxPayloadBytes:  4 << 20,
		MaxApprovals:     64,
		MaxIDLen:         128,
		MaxNameLen:       128,
		MaxReasonLen:     4096,
		MaxSignatureLen:  256,
	}
}

// resolve fills zero fields from DefaultLimits and refuses negative ones.
func (l Limits) resolve() (Limits, error) {
	d := DefaultLimits()
	fields := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxRequestBytes", &l.MaxRequestBytes, d.MaxRequestBytes},
		{"MaxResponseBytes", &l.MaxResponseBytes, d.MaxResponseBytes},
		{"MaxApprovalBytes", &l.MaxApprovalBytes, d.MaxApprovalBytes},
		{"MaxTransactions", &l.MaxTransactions, d.MaxTransactions},
		{"MaxPayloadBytes", &l.MaxPayloadBytes, d.MaxPayloadBytes},
		{"MaxApprovals", &l.MaxApprovals, d.MaxApprovals},
		{"MaxIDLen", &l.MaxIDLen, d.MaxIDLen},
		{"MaxNameLen", &l.MaxNameLen, d.MaxNameLen},
		{"MaxReasonLen", &l.MaxReasonLen, d.MaxReasonLen},
		{"MaxSignatureLen", &l.MaxSignatureLen, d.MaxSignatureLen},
	}
	for _, f := range fields {
		switch {
		case *f.v < 0:
			return l, fieldErr("limits."+f.name, fmt.Errorf("%w: negative (%d)", ErrInvalid, *f.v))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return l, nil
}
