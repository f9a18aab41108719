// Package yamlx decodes YAML (and JSON, which YAML reads too) strictly into
// Go values and reports every problem at once, each with its file, line,
// column and dotted path: unknown keys, values of the wrong type, syntax
// errors. It also keeps an index from paths to nodes, so that checks made
// after decoding (a market that names an unknown region, say) can be
// reported at the right place. It imports nothing of ours.
//
// Paths name mapping keys with dots and sequence items with brackets:
// "markets[2].region", "adapters.crm.headers.Authorization".
package yamlx

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/problem"
)

// Problem is one positioned configuration or data problem: the gateway's
// one problem type (package problem). Its text is "file:line:col: path:
// message (rule)", leaving out the parts that are unknown.
type Problem = problem.Problem

// Index maps the paths decoded so far to their value nodes.
type Index struct {
	File  string
	Root  *yaml.Node
	nodes map[string]*yaml.Node
}

// Node returns the node at path, or the nearest enclosing node that has
// one (a missing required key is reported at its parent mapping).
func (ix *Index) Node(path string) *yaml.Node {
	if ix == nil {
		return nil
	}
	for {
		if n, ok := ix.nodes[path]; ok {
			return n
		}
		if path == "" {
			return ix.Root
		}
		path = Parent(path)
	}
}

// Problem returns a Problem at path, positioned at its node, of rule
// bad-value: a value that decoded but is not right (a market that names
// an unknown region).
func (ix *Index) Problem(path, msg string) *Problem {
	p := &Problem{Path: path, Rule: "bad-value", Msg: msg}
	if ix == nil {
		return p
	}
	p.File = ix.File
	if n := ix.Node(path); n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

// Parent returns the path one level up: "a.b[2]" → "a.b", "a.b" → "a".
func Parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Join appends a mapping key to a path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Item appends a sequence index to a path.
func Item(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Parse parses data as one YAML or JSON document and decodes it strictly
// into v (a pointer to a struct, usually). Every problem comes back at
// once, joined, each a *Problem.
func Parse(file string, data []byte, v any) (*Index, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, problem.FromYAML(file, data, err)
	}
	if doc.Kind == 0 {
		return nil, &Problem{File: file, Rule: "empty-file", Msg: "empty document"}
	}
	return Decode(file, "", &doc, v)
}

// Decode decodes node strictly into v, a non-nil pointer. Values already in
// v are defaults: keys the YAML leaves out, or sets to null, keep them.
// Paths in problems and in the index start with prefix.
func Decode(file, prefix string, node *yaml.Node, v any) (*Index, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("yamlx: decoding into %T: want a non-nil pointer", v)
	}
	if node != nil && node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	d := &decoder{ix: &Index{File: file, Root: node, nodes: map[string]*yaml.Node{}}}
	if node != nil {
		d.decode(node, rv.Elem(), prefix)
	}
	return d.ix, errors.Join(d.problems...)
}

type decoder struct {
	ix       *Index
	problems []error
}

// problem records a problem at n. Every problem of decoding is a value
// of the wrong type but for unknown keys, which say so.
func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, problem.Errorf(d.ix.File, n, path, problem.RuleType, format, args...))
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.ix.nodes[path] = n
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // keep the default
	}
	if v.CanAddr() {
		pt := v.Addr().Type()
		if pt.Implements(unmarshalerType) || pt.Implements(textType) {
			if err := n.Decode(v.Addr().Interface()); err != nil {
				d.problem(n, path, "%s", cleanErr(err))
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.problem(n, path, "want a mapping, got %s", what(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := reflect.New(v.Type().Key()).Elem()
			if err := k.Decode(key.Addr().Interface()); err != nil {
				d.problem(k, path, "bad key %q: %s", k.Value, cleanErr(err))
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(key); old.IsValid() {
				elem.Set(old)
			}
			d.decode(val, elem, Join(path, k.Value))
			v.SetMapIndex(key, elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(n, path, "want a list, got %s", what(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), Item(path, i))
		}
		v.Set(s)
	case reflect.Interface:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.problem(n, path, "%s", cleanErr(err))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			d.problem(n, path, "want %s, got %s", typeName(v.Type()), what(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.problem(n, path, "want %s, got %q", typeName(v.Type()), n.Value)
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "want a mapping, got %s", what(n))
		return
	}
	fields := fieldsOf(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.ix.nodes[Join(path, k.Value)] = k
			p := problem.Errorf(d.ix.File, k, Join(path, k.Value), "unknown-field", "unknown key%s (known: %s)",
				problem.DidYouMean(k.Value, keysOf(fields)), knownKeys(fields))
			d.problems = append(d.problems, p)
			continue
		}
		d.decode(val, fieldByIndex(v, idx), Join(path, k.Value))
	}
}

// fieldByIndex is v.FieldByIndex, allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, idx []int) reflect.Value {
	for i, x := range idx {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// fieldsOf maps the YAML keys of a struct type to field index paths,
// following ",inline" fields.
func fieldsOf(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				walk(ft, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			out[name] = idx
		}
	}
	walk(t, nil)
	return out
}

func keysOf(fields map[string][]int) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func knownKeys(fields map[string][]int) string { return strings.Join(keysOf(fields), ", ") }

func what(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return `a duration (like "2s" or "10m")`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// cleanErr strips yaml.v3's "yaml: unmarshal errors:\n  line N: " framing.
func cleanErr(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		return msg
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
