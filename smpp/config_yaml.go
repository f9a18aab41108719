package smpp

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/problem"
)

// UnmarshalYAML decodes a Config on top of Defaults(). Unknown keys are
// errors with their line and column, even though yaml's KnownFields does
// not reach into custom unmarshalers.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	var errs []error
	checkKnown(n, reflect.TypeFor[Config](), "", &errs)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	type plain Config
	p := plain(Defaults())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// ConfigError is one problem of a Config: the field, as a path such as
// "ussd.end_op" or "sources[0].addr", the rule it breaks and what is wrong
// with it. It is the gateway's one problem type (package problem). Line
// and Col are set when the problem was found while decoding YAML (an
// unknown key); callers that kept the YAML can find the others' position
// by Path, and set File.
type ConfigError = problem.Problem

// CheckKnownFields reports, as *ConfigError joined, every mapping key of n
// that no yaml tag of v's type names, recursing into structs and slices:
// yaml.v3's KnownFields does not reach into values decoded with
// Node.Decode or custom unmarshalers. v is a pointer or a value of the
// target type.
func CheckKnownFields(n *yaml.Node, v any) error {
	var errs []error
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	checkKnown(n, reflect.TypeOf(v), "", &errs)
	return errors.Join(errs...)
}

// checkKnown reports mapping keys that no yaml tag of t names, recursing
// into structs and slices.
func checkKnown(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			p := join(path, k.Value)
			if !ok {
				known := slices.Sorted(maps.Keys(fields))
				*errs = append(*errs, &ConfigError{Line: k.Line, Col: k.Column, Path: p, Rule: "unknown-field",
					Msg: "unknown field" + problem.DidYouMean(k.Value, known)})
				continue
			}
			checkKnown(v, ft, p, errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, v := range n.Content {
			checkKnown(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
