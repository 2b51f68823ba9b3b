package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// marshal returns header(t) || deterministic CBOR of v. The wire structs hold
// only strings, integers, byte strings and slices of them, for which the
// encoder has no failure path; an error here is a programming error.
func marshal(t Type, v any) []byte {
	h := header(t)
	body, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bundle: encoding a %s cannot fail: %v", t, err))
	}
	return append(h[:], body...)
}

// EncodeRequest validates r against DefaultLimits and returns its one
// canonical encoding. It is for values this process built or decoded; it
// never modifies r.
func EncodeRequest(r *Request) ([]byte, error) {
	if err := r.Validate(Limits{}); err != nil {
		return nil, err
	}
	return marshal(TypeRequest, requestToWire(r, true)), nil
}

// EncodeApproval validates a and returns its canonical encoding.
func EncodeApproval(a *DetachedApproval) ([]byte, error) {
	if err := a.Validate(Limits{}); err != nil {
		return nil, err
	}
	return marshal(TypeApproval, detachedToWire(a)), nil
}

// EncodeResponse validates r and returns its canonical encoding.
func EncodeResponse(r *Response) ([]byte, error) {
	if err := r.Validate(Limits{}); err != nil {
		return nil, err
	}
	return marshal(TypeResponse, responseToWire(r, true)), nil
}

// DecodeRequest parses a request received from outside. In order it checks:
// len(data) against lim.MaxRequestBytes (before reading any byte), the
// request tag, the version, the strict CBOR decode (unknown fields,
// duplicate keys, trailing bytes, indefinite lengths and nested tags are
// refused), field rules (Validate), and finally that re-encoding the result
// gives exactly data. It does not verify any signature: call
// VerifyRequestSignature and the quorum check. On error the returned request
// is nil and the error is a *FieldError wrapping one of the Err* sentinels.
func DecodeRequest(data []byte, lim Limits) (*Request, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, err
	}
	var w requestWire
	if err := decodeStrict(data, TypeRequest, lim.MaxRequestBytes, lim, &w); err != nil {
		return nil, err
	}
	r, err := w.toRequest()
	if err != nil {
		return nil, err
	}
	if err := r.Validate(lim); err != nil {
		return nil, err
	}
	if err := checkCanonical("request", data, marshal(TypeRequest, requestToWire(r, true))); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeApproval parses a detached approval received from outside, with the
// same checks as DecodeRequest (cap: lim.MaxApprovalBytes). It does not
// verify the signature; the quorum package does.
func DecodeApproval(data []byte, lim Limits) (*DetachedApproval, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, err
	}
	var w detachedWire
	if err := decodeStrict(data, TypeApproval, lim.MaxApprovalBytes, lim, &w); err != nil {
		return nil, err
	}
	a, err := w.toDetached()
	if err != nil {
		return nil, err
	}
	if err := a.Validate(lim); err != nil {
		return nil, err
	}
	if err := checkCanonical("approval", data, marshal(TypeApproval, detachedToWire(a))); err != nil {
		return nil, err
	}
	return a, nil
}

// DecodeResponse parses a response received from outside, with the same
// checks as DecodeRequest (cap: lim.MaxResponseBytes). It does not verify
// the signer's signature: call VerifyResponse.
func DecodeResponse(data []byte, lim Limits) (*Response, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, err
	}
	var w responseWire
	if err := decodeStrict(data, TypeResponse, lim.MaxResponseBytes, lim, &w); err != nil {
		return nil, err
	}
	r, err := w.toResponse()
	if err != nil {
		return nil, err
	}
	if err := r.Validate(lim); err != nil {
		return nil, err
	}
	if err := checkCanonical("response", data, marshal(TypeResponse, responseToWire(r, true))); err != nil {
		return nil, err
	}
	return r, nil
}

// Decode sniffs the bundle type and decodes data with the matching Decode
// function. It is what `icebox inspect` uses.
func Decode(data []byte, lim Limits) (Bundle, error) {
	t, err := Sniff(data)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeRequest:
		return DecodeRequest(data, lim)
	case TypeApproval:
		return DecodeApproval(data, lim)
	default:
		return DecodeResponse(data, lim)
	}
}

// decodeStrict runs the checks shared by every Decode function up to and
// including the strict CBOR decode into w.
func decodeStrict(data []byte, t Type, maxBytes int, lim Limits, w any) error {
	name := t.String()
	// Size first: nothing below runs on oversized input.
	if len(data) > maxBytes {
		return fieldErr(name, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), maxBytes))
	}
	got, err := Sniff(data)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			err = fe.Err
		}
		return fieldErr(name, err)
	}
	if got != t {
		return fieldErr(name, fmt.Errorf("%w: this is a %s bundle", ErrWrongType, got))
	}
	body := data[headerLen:]

	pm, err := lim.peekMode()
	if err != nil {
		return err
	}
	var v versionWire
	if err := pm.Unmarshal(body, &v); err != nil {
		return fieldErr(name, fmt.Errorf("%w: %s", ErrMalformed, describeCBORError(err)))
	}
	if v.Version != Version {
		return fieldErr(name+".version", fmt.Errorf("%w: %d (this build reads only version %d)", ErrVersion, v.Version, Version))
	}

	dm, err := lim.decMode()
	if err != nil {
		return err
	}
	if err := dm.Unmarshal(body, w); err != nil {
		var unknown *cbor.UnknownFieldError
		if errors.As(err, &unknown) {
			if path, key, ok := locateUnknown(name, body, reflect.TypeOf(w).Elem()); ok {
				return fieldErr(path, fmt.Errorf("%w: unknown field %d", ErrMalformed, key))
			}
		}
		return fieldErr(name, fmt.Errorf("%w: %s", ErrMalformed, describeCBORError(err)))
	}
	return nil
}

// locateUnknown finds the path of the first unknown map key in raw, read
// against the wire struct type t. It only runs on the error path, on input
// that already passed the size cap and the well-formedness check.
func locateUnknown(path string, raw []byte, t reflect.Type) (string, uint64, bool) {
	var m map[uint64]cbor.RawMessage
	if err := cbor.Unmarshal(raw, &m); err != nil {
		return "", 0, false
	}
	known := map[uint64]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("cbor"), ",")
		var k uint64
		if _, err := fmt.Sscan(tag, &k); err == nil {
			known[k] = f
		}
	}
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := known[k]
		if !ok {
			return path, k, true
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		sub := path + "." + snake(f.Name)
		switch {
		case ft.Kind() == reflect.Struct:
			if p, key, ok := locateUnknown(sub, m[k], ft); ok {
				return p, key, true
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			var items []cbor.RawMessage
			if err := cbor.Unmarshal(m[k], &items); err != nil {
				continue
			}
			for i, it := range items {
				if p, key, ok := locateUnknown(fmt.Sprintf("%s[%d]", sub, i), it, ft.Elem()); ok {
					return p, key, true
				}
			}
		}
	}
	return "", 0, false
}

// checkCanonical compares the input with the re-encoding of what was decoded.
func checkCanonical(name string, data, again []byte) error {
	if bytes.Equal(data, again) {
		return nil
	}
	i := 0
	for i < len(data) && i < len(again) && data[i] == again[i] {
		i++
	}
	return fieldErr(name, fmt.Errorf("%w: input differs from the deterministic encoding (RFC 8949 §4.2) at byte %d "+
		"(non-shortest integer or length, unsorted map keys, a missing required field or an empty optional field)", ErrNonCanonical, i))
}

// describeCBORError turns decoder errors into text that names the problem
// and, where the library says it, the field.
func describeCBORError(err error) string {
	var (
		unknown *cbor.UnknownFieldError
		dup     *cbor.DupMapKeyError
		extra   *cbor.ExtraneousDataError
		typ     *cbor.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("unknown field (map element %d): %v", unknown.Index, err)
	case errors.As(err, &dup):
		return fmt.Sprintf("duplicate map key %v: %v", dup.Key, err)
	case errors.As(err, &extra):
		return fmt.Sprintf("trailing bytes after the bundle: %v", err)
	case errors.As(err, &typ):
		if typ.StructFieldName != "" {
			return fmt.Sprintf("field %s: %v", wireName(typ.StructFieldName), err)
		}
	}
	return err.Error()
}

// wireName maps the library's field name ("bundle.requestWire.3") to the
// name used in docs and errors ("request.created").
func wireName(libName string) string {
	parts := strings.Split(libName, ".")
	if len(parts) < 2 {
		return libName
	}
	typ, key := parts[len(parts)-2], parts[len(parts)-1]
	fields, ok := wireFieldNames[typ]
	if !ok {
		return libName
	}
	if name, ok := fields[key]; ok {
		return wireTypeNames[typ] + "." + name
	}
	return wireTypeNames[typ] + "." + key
}

var wireTypeNames = map[string]string{
	"requestWire": "request", "txWire": "transaction", "sigWire": "signature",
	"approvalWire": "approval", "detachedWire": "approval", "refusalWire": "refusal",
	"responseWire": "response", "versionWire": "bundle",
}

// wireFieldNames maps wire struct name → CBOR key → snake_case field name,
// read from the struct tags.
var wireFieldNames = func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, v := range []any{requestWire{}, txWire{}, sigWire{}, approvalWire{}, detachedWire{}, refusalWire{}, responseWire{}, versionWire{}} {
		t := reflect.TypeOf(v)
		m := map[string]string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("cbor"), ",")
			m[key] = snake(f.Name)
		}
		out[t.Name()] = m
	}
	return out
}()

// snake turns "RequestDigest" into "request_digest" and "ID" into "id".
func snake(goName string) string {
	var b strings.Builder
	for i, c := range goName {
		if c >= 'A' && c <= 'Z' {
			if i > 0 && !(goName[i-1] >= 'A' && goName[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}
