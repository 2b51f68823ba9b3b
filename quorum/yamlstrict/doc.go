// Package yamlstrict reads small configuration files (the policy and the
// roster) from YAML without ever being permissive: it caps the size before
// parsing, rejects anchors, aliases, custom tags, multiple documents,
// duplicate keys and unknown keys, and every error names the file, the line,
// the column and the field path ("rules[2].limits.per_tx").
//
// It works on gopkg.in/yaml.v3 nodes so that positions survive; callers walk
// the tree with the typed accessors of D and never decode into a struct.
package yamlstrict
