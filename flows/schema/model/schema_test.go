package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/flows/schema"
)

// TestSchemaUpToDate fails when flows/schema/flow.schema.json is not what
// the types make; UPDATE_SCHEMA=1 go test ./flows/schema/model rewrites it.
func TestSchemaUpToDate(t *testing.T) {
	got, err := Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_SCHEMA") != "" {
		if err := os.WriteFile("../flow.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, schema.JSON) {
		t.Fatal("flows/schema/flow.schema.json is stale: run UPDATE_SCHEMA=1 go test ./flows/schema/model and commit it")
	}
}

// compile loads the committed schema as a validator would.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("flow.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("flow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fromYAML is a YAML document as the JSON value an editor checks.
func fromYAML(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	return jsonValue(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = jsonValue(val)
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = jsonValue(val)
		}
		return x
	case int:
		return json.Number(fmt.Sprint(x))
	case float64:
		return json.Number(fmt.Sprint(x))
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
}

// shippedFlows are the flow files the repository ships: every *.yaml
// outside data/ and testdata/ folders that the loader accepts.
func shippedFlows(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("../../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "data", "testdata", "node_modules", ".git", "transcripts", "deploy", "grafana":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := flows.Parse(p, data, flows.Options{}); err == nil {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShippedFlowsValidate: every flow the repository ships is valid
// against the schema, as an editor would check it.
func TestShippedFlowsValidate(t *testing.T) {
	s := compile(t)
	files := shippedFlows(t)
	for _, want := range []string{"../../../flows-examples/market.yaml", "../../../examples/appointments/flows/appointments.yaml", "../../../cmd/loadtest/flows/bench.yaml"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is not among the flows found: %v", want, files)
		}
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if err := s.Validate(fromYAML(t, data)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSchemaCatchesMistakes: the mistakes an editor should underline are
// errors of the schema, and a correct node is not.
func TestSchemaCatchesMistakes(t *testing.T) {
	s := compile(t)
	base := "id: demo\nlanguages: [en]\nnodes:\n  main: %s\n  done: {type: end, text: Bye}\n"
	for _, tt := range []struct {
		node string
		ok   bool
		want string // in the validator's message
	}{
		{"{type: menu, text: Hi, options: [{label: A, next: done}]}", true, ""},
		{"{type: menu, text: Hi, options: [{label: A, next: done}], save: x}", false, "save"},
		{"{type: menu, text: Hi, options: [{lable: A, next: done}]}", false, "lable"},
		{"{type: input, text: Your age, save: age}", false, "next"},
		{"{type: input, text: Your age, save: age, next: done, validate: {type: year}}", false, "/nodes/main/validate/type"},
		{"{type: action, call: prices, op: latest, next: done, on_eror: done}", false, "on_eror"},
		{"{type: action, call: prices, next: done, timeout: soon}", false, "soon"},
		{"{type: menu, text: Hi, options: [{label: A, next: Done}]}", false, "Done"},
		{"{type: manu, text: Hi}", false, "/nodes/main/type"},
		{"{text: Hi}", false, "type"},
		{"{type: end, text: {en: Bye}, nav: false}", false, "nav"},
		{"{type: router, routes: [{when: 'x == \"1\"', next: done}], default: '@home'}", true, ""},
	} {
		err := s.Validate(fromYAML(t, []byte(fmt.Sprintf(base, tt.node))))
		if tt.ok != (err == nil) {
			t.Errorf("%s: valid=%v, want %v (%v)", tt.node, err == nil, tt.ok, err)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: the error does not name %q:\n%v", tt.node, tt.want, err)
		}
	}
}

// keysOf lists the keys a document type allows: its fields' json names.
func keysOf(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// context is a mapping of a flow file, with the type that describes it.
type context struct {
	name string
	doc  any
	// yaml is a valid flow with KEY: VALUE to be put in that mapping
	// (%[1]s is the line to add, indented for it); path is where the
	// loader reports the mapping.
	yaml, path string
}

// TestSchemaAgreesWithDecoder: for every mapping of the format (the file,
// each node kind, options, items, routes, validate, navigation, screen,
// sms, alerts, labels), the loader takes exactly the keys the type (and so
// the schema) lists: every key of every type is tried in every mapping,
// with a misspelt one.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	const flow = "id: t\nlanguages: [en]\n%s\nnodes:\n  m: {type: end, text: x}\n"
	node := func(body string) string {
		return "id: t\nlanguages: [en]\nnodes:\n  n:\n" + body + "\n  m: {type: end, text: x}\n"
	}
	contexts := []context{
		{"file", File{}, "id: t\nlanguages: [en]\nnodes:\n  m: {type: end, text: x}\n%[1]s\n", ""},
		{"navigation", Navigation{}, fmt.Sprintf(flow, "navigation:\n  back: true\n%[1]s"), "navigation"},
		{"screen", Screen{}, fmt.Sprintf(flow, "screen:\n  max_octets: 160\n%[1]s"), "screen"},
		{"sms", SMS{}, fmt.Sprintf(flow, "sms:\n  help: x\n%[1]s"), "sms"},
		{"alerts", Alerts{}, fmt.Sprintf(flow, "alerts:\n  daily_cap: 1\n%[1]s"), "alerts"},
		{"labels", Labels{}, fmt.Sprintf(flow, "labels:\n  en:\n    back: B\n%[1]s"), "labels.en"},
		{"option", Option{}, node("    type: menu\n    text: x\n    options:\n      - label: x\n        next: m\n%[1]s"), "nodes.n.options[1]"},
		{"items", Items{}, node("    type: menu\n    text: x\n    items:\n      from: l\n      label: x\n      next: m\n%[1]s"), "nodes.n.items"},
		{"route", Route{}, node("    type: router\n    default: m\n    routes:\n      - when: 'a == \"1\"'\n        next: m\n%[1]s"), "nodes.n.routes[1]"},
		{"validate", Validate{}, node("    type: input\n    text: x\n    save: v\n    next: m\n    validate:\n      type: text\n%[1]s"), "nodes.n.validate"},
	}
	indent := map[string]string{"file": "", "navigation": "  ", "screen": "  ", "sms": "  ", "alerts": "  ", "labels": "    ",
		"option": "        ", "items": "      ", "route": "        ", "validate": "      "}
	for _, k := range Kinds {
		contexts = append(contexts, context{"node " + k.Name, k.Type, node("    type: " + k.Name + "\n%[1]s"), "nodes.n"})
		indent["node "+k.Name] = "    "
	}
	// Every key any type names, and two that none does.
	universe := []string{"colour", "lable"}
	for _, c := range contexts {
		for _, k := range keysOf(c.doc) {
			if !slices.Contains(universe, k) {
				universe = append(universe, k)
			}
		}
	}
	for _, c := range contexts {
		allowed := keysOf(c.doc)
		for _, key := range universe {
			src := fmt.Sprintf(c.yaml, indent[c.name]+key+": x")
			if strings.Contains(fmt.Sprintf(c.yaml, ""), "\n"+indent[c.name]+key+":") {
				continue // the base has it already: accepted
			}
			_, err := flows.Parse("t.yaml", []byte(src), flows.Options{})
			unknown := false
			for _, e := range flows.Errors(err) {
				if isUnknownKey(e) && e.Path == join(c.path, key) {
					unknown = true
				}
			}
			if want := slices.Contains(allowed, key); want == unknown {
				t.Errorf("%s: key %q: the type (and schema) says allowed=%v, the loader says allowed=%v\n%s", c.name, key, want, !unknown, src)
			}
		}
	}
}

// isUnknownKey says whether the loader's error is about a key it does not
// take.
func isUnknownKey(e *flows.Error) bool { return strings.HasPrefix(e.Msg, "unknown field") }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
