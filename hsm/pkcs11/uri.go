package pkcs11

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxURILen caps a PKCS#11 URI before it is parsed.
const MaxURILen = 4096

// URIScheme is the prefix of every PKCS#11 URI.
const URIScheme = "pkcs11:"

var errBadURI = errors.New("invalid PKCS#11 URI")

// URIError reports a PKCS#11 URI that Icebox refuses, naming the attribute
// and the reason. It never holds a PIN.
type URIError struct {
	Attr   string // attribute name, "" for the URI as a whole
	Reason string
}

func (e *URIError) Error() string {
	if e.Attr == "" {
		return fmt.Sprintf("%v: %s", errBadURI, e.Reason)
	}
	return fmt.Sprintf("%v: attribute %q: %s", errBadURI, e.Attr, e.Reason)
}

func (e *URIError) Unwrap() error { return errBadURI }

// URI is the subset of an RFC 7512 PKCS#11 URI that addresses one officer
// signing key: which token (label and/or serial), which key (label and/or
// CKA_ID), which module, and where the PIN is.
type URI struct {
	// Token is the token label (path attribute "token").
	Token string
	// Serial is the token serial number (path attribute "serial").
	Serial string
	// Object is the key's CKA_LABEL (path attribute "object").
	Object string
	// ID is the key's CKA_ID (path attribute "id", percent-encoded bytes).
	ID []byte
	// ModulePath is the absolute path of the PKCS#11 library (query
	// attribute "module-path"); empty means the caller's default.
	ModulePath string
	// PINFile is the file named by "pin-source=file:..." (absolute path);
	// empty means $ICEBOX_OFFICER_PIN or a prompt.
	PINFile string
}

// ParseURI parses an RFC 7512 PKCS#11 URI by hand (the grammar is small and
// no pinned module implements it). It fails closed: every attribute it does
// not understand is refused rather than ignored, because ignoring a path
// attribute would widen which key is used. Refused on purpose:
//   - pin-value: a PIN in a URI ends up in shell history, process lists and
//     scripts; use pin-source=file:/path (mode 0600), $ICEBOX_OFFICER_PIN or
//     the prompt;
//   - pin-source other than file: (RFC 7512 allows e.g. "|command");
//   - module-name (no library search path is trusted; use module-path);
//   - a URI naming no token, or no key (object or id), or a repeated
//     attribute; type other than "private".
func ParseURI(s string) (URI, error) {
	var u URI
	if len(s) > MaxURILen {
		return u, &URIError{Reason: fmt.Sprintf("%d bytes, limit %d", len(s), MaxURILen)}
	}
	if len(s) < len(URIScheme) || !strings.EqualFold(s[:len(URIScheme)], URIScheme) {
		return u, &URIError{Reason: "does not start with " + URIScheme}
	}
	rest := s[len(URIScheme):]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return u, &URIError{Reason: "fragments are not allowed"}
	}
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	each := func(part, sep string, fn func(name, val string, raw []byte) error) error {
		if part == "" {
			return nil
		}
		for _, attr := range strings.Split(part, sep) {
			name, val, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return &URIError{Attr: name, Reason: "not of the form name=value"}
			}
			name = strings.ToLower(name)
			if seen[name] {
				return &URIError{Attr: name, Reason: "given more than once"}
			}
			seen[name] = true
			raw, err := pctDecode(val)
			if err != nil {
				return &URIError{Attr: name, Reason: err.Error()}
			}
			if len(raw) == 0 {
				return &URIError{Attr: name, Reason: "empty value"}
			}
			if err := fn(name, string(raw), raw); err != nil {
				return err
			}
		}
		return nil
	}
	err := each(path, ";", func(name, val string, raw []byte) error {
		switch name {
		case "token":
			u.Token = val
		case "serial":
			u.Serial = val
		case "object":
			u.Object = val
		case "id":
			u.ID = append([]byte(nil), raw...)
		case "type":
			if val != "private" {
				return &URIError{Attr: name, Reason: fmt.Sprintf("%q: only type=private (a signing key) is meaningful", val)}
			}
		default:
			return &URIError{Attr: name, Reason: "path attribute not supported (supported: token, serial, object, id, type)"}
		}
		if name != "id" && !printable(val) {
			return &URIError{Attr: name, Reason: "contains control or non-UTF-8 bytes"}
		}
		return nil
	})
	if err != nil {
		return URI{}, err
	}
	err = each(query, "&", func(name, val string, _ []byte) error {
		switch name {
		case "module-path":
			if !filepath.IsAbs(val) || !printable(val) {
				return &URIError{Attr: name, Reason: "must be an absolute file path"}
			}
			u.ModulePath = filepath.Clean(val)
		case "pin-source":
			p, ok := strings.CutPrefix(val, "file:")
			if !ok {
				return &URIError{Attr: name, Reason: "only file:/absolute/path is supported"}
			}
			if strings.HasPrefix(p, "//") { // file:///abs or file://localhost/abs
				host, rest, _ := strings.Cut(p[2:], "/")
				if host != "" && host != "localhost" {
					return &URIError{Attr: name, Reason: "file URI with a remote host"}
				}
				p = "/" + rest
			}
			if !filepath.IsAbs(p) || !printable(p) {
				return &URIError{Attr: name, Reason: "only file:/absolute/path is supported"}
			}
			u.PINFile = filepath.Clean(p)
		case "pin-value":
			return &URIError{Attr: name, Reason: "refused: a PIN must not appear in a URI (use pin-source=file:/path, $" + OfficerPINEnv + " or the prompt)"}
		case "module-name":
			return &URIError{Attr: name, Reason: "not supported: give module-path"}
		default:
			return &URIError{Attr: name, Reason: "query attribute not supported (supported: module-path, pin-source)"}
		}
		return nil
	})
	if err != nil {
		return URI{}, err
	}
	if u.Token == "" && u.Serial == "" {
		return URI{}, &URIError{Reason: "names no token (give token= and/or serial=)"}
	}
	if u.Object == "" && len(u.ID) == 0 {
		return URI{}, &URIError{Reason: "names no key (give object= and/or id=)"}
	}
	return u, nil
}

// String renders u as a canonical PKCS#11 URI (ParseURI(u.String()) == u).
func (u URI) String() string {
	var path []string
	add := func(list *[]string, name string, v []byte) {
		if len(v) > 0 {
			*list = append(*list, name+"="+pctEncode(v))
		}
	}
	add(&path, "token", []byte(u.Token))
	add(&path, "serial", []byte(u.Serial))
	add(&path, "object", []byte(u.Object))
	add(&path, "id", u.ID)
	var query []string
	add(&query, "module-path", []byte(u.ModulePath))
	if u.PINFile != "" {
		add(&query, "pin-source", []byte("file:"+u.PINFile))
	}
	s := URIScheme + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// IsURI reports whether s looks like a PKCS#11 URI (rather than a file name).
func IsURI(s string) bool {
	return len(s) >= len(URIScheme) && strings.EqualFold(s[:len(URIScheme)], URIScheme)
}

// pctDecode decodes RFC 3986 percent-encoding. Bytes outside the printable
// ASCII range must be percent-encoded; structural characters inside a value
// (";", "?", "&", "#", "%") only appear encoded because the splitting above
// already consumed them.
func pctDecode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("truncated percent escape at byte %d", i)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("bad percent escape %q at byte %d", s[i:i+3], i)
			}
			out = append(out, hi<<4|lo)
			i += 2
		case c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}':
			return nil, fmt.Errorf("byte 0x%02x at %d must be percent-encoded", c, i)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctEncode keeps RFC 3986 unreserved characters and "/" and ":" and
// percent-encodes everything else.
func pctEncode(b []byte) string {
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ':' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexd[c>>4])
		sb.WriteByte(hexd[c&15])
	}
	return sb.String()
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
