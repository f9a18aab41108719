package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"
)

// Kinds are the node types and the Go type of each, in the order the
// loader lists them.
var Kinds = []struct {
	Name string
	Type any
}{
	{"menu", Menu{}}, {"input", Input{}}, {"action", Action{}}, {"router", Router{}}, {"sms", SMSNode{}},
	{"subscribe", Subscribe{}}, {"unsubscribe", Unsubscribe{}}, {"subscriptions", Subscriptions{}}, {"end", End{}},
}

// Generate makes the JSON Schema of flow files from the types of this
// package. commentsDir is this package's source folder: its doc comments
// become the schema's descriptions ("" leaves them out).
func Generate(commentsDir string) ([]byte, error) {
	// The file's own keys at the top (ExpandedStruct); the types it uses
	// in $defs.
	r := &jsonschema.Reflector{ExpandedStruct: true}
	if commentsDir != "" {
		if err := r.AddGoComments("github.com/ussdgw/ussdgw/flows/schema/model", commentsDir); err != nil {
			return nil, fmt.Errorf("reading the doc comments: %w", err)
		}
	}
	root := r.Reflect(&File{})
	// Node refers to each kind by name; the kinds' definitions (and
	// theirs) join the root's.
	kinds := &jsonschema.Reflector{CommentMap: r.CommentMap}
	for _, k := range Kinds {
		s := kinds.Reflect(k.Type)
		for name, def := range s.Definitions {
			root.Definitions[name] = def
		}
	}
	root.Version = "http://json-schema.org/draft-07/schema#"
	root.ID = "https://github.com/ussdgw/ussdgw/raw/main/flows/schema/flow.schema.json"
	root.Title = "ussdgw flow file"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Patterns shared by the schema and the agreement test.
const (
	namePattern     = `^[a-z][a-z0-9_]*$`
	languagePattern = `^[a-z]{2,3}(-[A-Za-z0-9]+)*$`
	targetPattern   = `^(@back|@home|@language|[a-z][a-z0-9_]*)$`
)

// JSONSchemaExtend names what map keys may be.
func (File) JSONSchemaExtend(s *jsonschema.Schema) {
	set := func(prop, pattern string) {
		if p, ok := s.Properties.Get(prop); ok {
			p.PropertyNames = &jsonschema.Schema{Pattern: pattern}
		}
	}
	set("nodes", namePattern)
	set("labels", languagePattern)
	set("messages", namePattern)
	if p, ok := s.Properties.Get("nodes"); ok {
		p.MinProperties = ptr(uint64(1))
	}
}

func ptr[T any](v T) *T { return &v }

// Node is one node of a flow; its type decides which keys it takes.
type Node struct{}

// JSONSchema is an object with a type: whose value chooses the kind whose
// keys apply (if/then, so that an editor reports the keys of that kind).
func (Node) JSONSchema() *jsonschema.Schema {
	names := make([]any, len(Kinds))
	var all []*jsonschema.Schema
	for i, k := range Kinds {
		names[i] = k.Name
		typeProp := jsonschema.NewProperties()
		typeProp.Set("type", &jsonschema.Schema{Const: k.Name})
		all = append(all, &jsonschema.Schema{
			If:   &jsonschema.Schema{Properties: typeProp, Required: []string{"type"}},
			Then: &jsonschema.Schema{Ref: "#/$defs/" + reflect.TypeOf(k.Type).Name()},
		})
	}
	props := jsonschema.NewProperties()
	props.Set("type", &jsonschema.Schema{Enum: names, Description: "What the node does: menu, input, action, router, sms, subscribe, unsubscribe, subscriptions or end."})
	return &jsonschema.Schema{Type: "object", Required: []string{"type"}, Properties: props, AllOf: all,
		Description: "A node: its type decides its other keys."}
}

// Text is a text shown or sent to users: one string for every language,
// or one per language ({en: ..., sw: ...}). It may hold {{variables}}.
type Text struct{}

// JSONSchema is a string, or a mapping from language to string.
func (Text) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: "A text: one string for every language, or one per language ({en: ..., sw: ...}). It may hold {{variables}}.",
		AnyOf: []*jsonschema.Schema{
			{Type: "string"},
			{Type: "object", PropertyNames: &jsonschema.Schema{Pattern: languagePattern}, AdditionalProperties: &jsonschema.Schema{Type: "string"}},
		},
	}
}

// StringList is a list of strings; one string stands for a list of one.
type StringList struct{}

// JSONSchema is a string or a list of strings.
func (StringList) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "string"},
		{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
	}}
}

// Scalar is a value written as text, a number or true/false; templates
// like "{{crop}}" are text.
type Scalar struct{}

// JSONSchema is any scalar.
func (Scalar) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string"}, {Type: "number"}, {Type: "boolean"}}}
}

// boolWords are the words the loader reads as true or false.
var boolWords = []any{"true", "false", "yes", "no", "on", "off"}

// Bool is true or false (yes/no and on/off are read too).
type Bool struct{}

// JSONSchema is a boolean or one of the words for one.
func (Bool) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "boolean"}, {Enum: boolWords}}}
}

// Nav is a node's navigation entries: true, false or keys.
type Nav struct{}

// JSONSchema is a boolean, or keys.
func (Nav) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "boolean"}, {Enum: append([]any{"keys"}, boolWords...)}}}
}

// Key is what a phone can send: 1 to 3 digits, * or #.
type Key struct{}

// JSONSchema is such a string, or a number of up to 3 digits.
func (Key) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "string", Pattern: `^[0-9*#]{1,3}$`},
		{Type: "integer", Minimum: "0", Maximum: "999"},
	}}
}

// Target is where a transition goes: a node's name, or @back, @home or
// @language.
type Target struct{}

// JSONSchema is a node name or a built-in place.
func (Target) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: targetPattern,
		Description: "A node's name, or @back (the previous screen), @home (the start, history cleared) or @language (the language chooser)."}
}
