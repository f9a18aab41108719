package flows

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/problem"
)

// decoder walks a YAML node tree by hand rather than unmarshalling into
// structs, so that every problem of a file is reported at once, each with
// its line, column and path, and so that unknown keys are errors.
type decoder struct {
	file string
	errs []*Error
}

// errorf records a problem at n breaking rule (docs/lint.md lists them).
func (d *decoder) errorf(n *yaml.Node, path, rule, format string, args ...any) {
	d.errs = append(d.errs, problem.Errorf(d.file, n, path, rule, format, args...))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// field is one key of a mapping.
type field struct {
	key, val *yaml.Node
}

// fields is a checked mapping: its known keys, in document order.
type fields struct {
	d     *decoder
	node  *yaml.Node
	path  string
	m     map[string]field
	order []string
}

// mapping checks that n is a mapping whose keys are all in allowed (nil:
// any key) and unique, reporting each offender, and returns its fields.
// ok is false when n is not a mapping at all.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string) (fields, bool) {
	f := fields{d: d, node: n, path: path, m: map[string]field{}}
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, path, "wrong-type", "expected a mapping, got %s", kindName(n))
		}
		return f, false
	}
	f.node = n
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "wrong-type", "keys must be plain strings")
			continue
		}
		if allowed != nil && !contains(allowed, k.Value) {
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if s := suggest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(k, join(path, k.Value), "unknown-field", "%s", msg)
			continue
		}
		if prev, dup := f.m[k.Value]; dup {
			d.errorf(k, join(path, k.Value), "duplicate-key", "duplicate key (first at line %d)", prev.key.Line)
			continue
		}
		f.m[k.Value] = field{key: k, val: v}
		f.order = append(f.order, k.Value)
	}
	return f, true
}

func (f fields) has(key string) bool { _, ok := f.m[key]; return ok }

func (f fields) val(key string) *yaml.Node {
	if fl, ok := f.m[key]; ok {
		return fl.val
	}
	return nil
}

func (f fields) keyNode(key string) *yaml.Node {
	if fl, ok := f.m[key]; ok {
		return fl.key
	}
	return f.node
}

func (f fields) require(keys ...string) bool {
	ok := true
	for _, k := range keys {
		if !f.has(k) {
			f.d.errorf(f.node, join(f.path, k), "missing-field", "required field is missing")
			ok = false
		}
	}
	return ok
}

// str returns the string value of key ("" if absent or not a scalar).
func (f fields) str(key string) string {
	n := f.val(key)
	if n == nil {
		return ""
	}
	return f.d.scalar(n, join(f.path, key))
}

func (f fields) boolean(key string, def bool) bool {
	n := f.val(key)
	if n == nil {
		return def
	}
	s := f.d.scalar(n, join(f.path, key))
	switch s {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	f.d.errorf(n, join(f.path, key), "wrong-type", "expected true or false, got %q", s)
	return def
}

func (f fields) integer(key string) (int, bool) {
	n := f.val(key)
	if n == nil {
		return 0, false
	}
	s := f.d.scalar(n, join(f.path, key))
	v, err := strconv.Atoi(s)
	if err != nil {
		f.d.errorf(n, join(f.path, key), "wrong-type", "expected a whole number, got %q", s)
		return 0, false
	}
	return v, true
}

func (f fields) number(key string) (float64, bool) {
	n := f.val(key)
	if n == nil {
		return 0, false
	}
	s := f.d.scalar(n, join(f.path, key))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		f.d.errorf(n, join(f.path, key), "wrong-type", "expected a number, got %q", s)
		return 0, false
	}
	return v, true
}

func (f fields) duration(key string) time.Duration {
	n := f.val(key)
	if n == nil {
		return 0
	}
	s := f.d.scalar(n, join(f.path, key))
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		f.d.errorf(n, join(f.path, key), "wrong-type", "expected a positive duration like 2s or 500ms, got %q", s)
		return 0
	}
	return v
}

// strList returns a list of strings; a single scalar counts as a list of one.
func (f fields) strList(key string) []string {
	n := resolve(f.val(key))
	if n == nil {
		return nil
	}
	return f.d.strList(n, join(f.path, key))
}

func (d *decoder) strList(n *yaml.Node, path string) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{d.scalar(n, path)}
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "wrong-type", "expected a list, got %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, d.scalar(c, index(path, i)))
	}
	return out
}

func (d *decoder) scalar(n *yaml.Node, path string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "wrong-type", "expected a string, got %s", kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// seq returns the items of a list.
func (d *decoder) seq(n *yaml.Node, path string) []*yaml.Node {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "wrong-type", "expected a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i+1) + "]"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the allowed key closest to s when it is a likely typo.
func suggest(s string, allowed []string) string { return problem.Suggest(s, allowed) }
