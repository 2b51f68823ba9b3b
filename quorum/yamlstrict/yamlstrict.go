package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a parse or validation error at a position in a file.
type Error struct {
	File   string
	Line   int
	Column int
	// Field is the path of the offending field, e.g. "rules[1].limits.per_tx";
	// empty for errors about the whole file.
	Field string
	Msg   string
}

// Error renders "file:line:col: field: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrTooLarge is wrapped when a file exceeds the caller's size cap.
var ErrTooLarge = errors.New("file too large")

// D carries the file name into every error.
type D struct {
	File string
}

// Errf returns an *Error positioned at n (n may be nil).
func (d D) Errf(n *yaml.Node, field, format string, args ...any) error {
	e := &Error{File: d.File, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// Parse checks the size cap, decodes exactly one YAML document and returns
// its root node, which must be a mapping. It never panics.
func (d D) Parse(data []byte, maxSize int) (root *yaml.Node, err error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", d.File, ErrTooLarge, len(data), maxSize)
	}
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, d.Errf(nil, "", "YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, d.Errf(nil, "", "file is empty")
		}
		return nil, d.Errf(nil, "", "not valid YAML: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, d.Errf(nil, "", "not valid YAML after the first document: %v", err)
		}
		return nil, d.Errf(&extra, "", "more than one YAML document; exactly one is allowed")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, d.Errf(&doc, "", "expected one YAML document")
	}
	if err := d.checkTree(doc.Content[0], 0); err != nil {
		return nil, err
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, d.Errf(root, "", "the top level must be a mapping of keys to values")
	}
	return root, nil
}

const maxDepth = 32

func (d D) checkTree(n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return d.Errf(n, "", "nested more than %d levels deep", maxDepth)
	}
	if n.Kind == yaml.AliasNode {
		return d.Errf(n, "", "YAML aliases (*%s) are not allowed", n.Value)
	}
	if n.Anchor != "" {
		return d.Errf(n, "", "YAML anchors (&%s) are not allowed", n.Anchor)
	}
	switch n.Tag {
	case "", "!!str", "!!int", "!!bool", "!!null", "!!map", "!!seq", "!!float", "!!timestamp":
	default:
		return d.Errf(n, "", "YAML tag %q is not allowed", n.Tag)
	}
	for _, c := range n.Content {
		if err := d.checkTree(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Map is a mapping node whose keys were checked against an allowed set.
type Map struct {
	Node  *yaml.Node
	Field string
	Keys  []string // in file order
	vals  map[string]*yaml.Node
	keyAt map[string]*yaml.Node
}

// Get returns the value of key, or nil when absent.
func (m *Map) Get(key string) *yaml.Node { return m.vals[key] }

// Has reports whether key is present.
func (m *Map) Has(key string) bool { _, ok := m.vals[key]; return ok }

// KeyNode returns the node of the key itself (for error positions).
func (m *Map) KeyNode(key string) *yaml.Node { return m.keyAt[key] }

// Sub returns the field path of a key inside m.
func (m *Map) Sub(key string) string { return Join(m.Field, key) }

// Join appends key to a field path.
func Join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// Index appends [i] to a field path.
func Index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// Mapping checks that n is a mapping with string keys, no duplicates and no
// key outside allowed (nil allowed means any key, for user-named maps), and
// that every key in required is present.
func (d D) Mapping(n *yaml.Node, field string, allowed, required []string) (*Map, error) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, d.Errf(n, field, "expected a mapping (key: value lines)%s", got(n))
	}
	m := &Map{Node: n, Field: field, vals: map[string]*yaml.Node{}, keyAt: map[string]*yaml.Node{}}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "") {
			return nil, d.Errf(k, field, "keys must be plain strings")
		}
		if prev, dup := m.keyAt[k.Value]; dup {
			return nil, d.Errf(k, Join(field, k.Value), "duplicate key (first defined on line %d)", prev.Line)
		}
		if allowed != nil && !ok[k.Value] {
			return nil, d.Errf(k, Join(field, k.Value), "unknown field %q (allowed: %s)", k.Value, strings.Join(allowed, ", "))
		}
		m.keyAt[k.Value] = k
		m.vals[k.Value] = v
		m.Keys = append(m.Keys, k.Value)
	}
	for _, r := range required {
		if !m.Has(r) {
			return nil, d.Errf(n, Join(field, r), "required field is missing")
		}
	}
	return m, nil
}

func got(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return ", got nothing"
		}
		return fmt.Sprintf(", got %q", n.Value)
	case yaml.SequenceNode:
		return ", got a list"
	case yaml.MappingNode:
		return ", got a mapping"
	}
	return ""
}

// String returns a non-empty scalar string. Numbers and timestamps are
// accepted as their literal text; booleans, floats and null are not.
func (d D) String(n *yaml.Node, field string) (string, error) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", d.Errf(n, field, "expected a text value%s", got(n))
	}
	switch n.Tag {
	case "!!str", "!!int", "!!timestamp", "":
	case "!!float":
		return "", d.Errf(n, field, "expected a text value, got the number %s; quote it", n.Value)
	default:
		return "", d.Errf(n, field, "expected a text value%s", got(n))
	}
	if strings.TrimSpace(n.Value) == "" {
		return "", d.Errf(n, field, "must not be empty")
	}
	if len(n.Value) > 4096 {
		return "", d.Errf(n, field, "longer than 4096 characters")
	}
	return n.Value, nil
}

// Int returns a decimal integer in [lo, hi]. Floats, hex, octal and
// underscores are rejected.
func (d D) Int(n *yaml.Node, field string, lo, hi int64) (int64, error) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, d.Errf(n, field, "expected a whole number%s", got(n))
	}
	v, ok := new(big.Int).SetString(n.Value, 10)
	if !ok || !IsDecimalDigits(strings.TrimPrefix(n.Value, "-")) {
		return 0, d.Errf(n, field, "expected a plain decimal whole number, got %q", n.Value)
	}
	if !v.IsInt64() || v.Int64() < lo || v.Int64() > hi {
		return 0, d.Errf(n, field, "%s is out of range [%d, %d]", n.Value, lo, hi)
	}
	return v.Int64(), nil
}

// Bool returns true or false; nothing else (not yes/no/1/0) is accepted.
func (d D) Bool(n *yaml.Node, field string) (bool, error) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, d.Errf(n, field, "expected true or false%s", got(n))
	}
	switch n.Value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, d.Errf(n, field, "expected true or false, got %q", n.Value)
}

// Seq returns the items of a sequence node (maximum max items).
func (d D) Seq(n *yaml.Node, field string, max int) ([]*yaml.Node, error) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, d.Errf(n, field, "expected a list%s", got(n))
	}
	if len(n.Content) > max {
		return nil, d.Errf(n, field, "list has %d items, the limit is %d", len(n.Content), max)
	}
	return n.Content, nil
}

// Strings returns a non-empty list of distinct non-empty strings.
func (d D) Strings(n *yaml.Node, field string, max int) ([]string, error) {
	items, err := d.Seq(n, field, max)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.Errf(n, field, "list must not be empty")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := d.String(it, Index(field, i))
		if err != nil {
			return nil, err
		}
		if seen[s] {
			return nil, d.Errf(it, Index(field, i), "%q is listed twice", s)
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// IsDecimalDigits reports whether s is non-empty and only ASCII digits.
func IsDecimalDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
