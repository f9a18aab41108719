package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestErrorText(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Col: 5, Path: "nodes.a", Rule: "unknown-field", Msg: "bad"}, "f.yaml:3:5: nodes.a: bad (unknown-field)"},
		{Problem{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{Problem{File: "f.yaml", Msg: "bad", Rule: "error"}, "f.yaml: bad (error)"},
		{Problem{Line: 2, Col: 1, Path: "a", Msg: "bad"}, "2:1: a: bad"},
		{Problem{Msg: "bad"}, "bad"},
	} {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestAllSortsAndUnwraps(t *testing.T) {
	a := &Problem{File: "b.yaml", Line: 1, Col: 1, Msg: "a"}
	b := &Problem{File: "a.yaml", Line: 9, Col: 1, Msg: "b"}
	c := &Problem{File: "a.yaml", Line: 2, Col: 7, Msg: "c"}
	err := fmt.Errorf("loading flows: %w", errors.Join(a, errors.Join(b, c)))
	got := All(err)
	if len(got) != 3 || got[0] != c || got[1] != b || got[2] != a {
		t.Fatalf("All = %v", got)
	}
	if All(nil) != nil || Join(nil) != nil {
		t.Error("nil in, something out")
	}
	plain := errors.New("reading x: no such file")
	ps := List(errors.Join(plain, a))
	if len(ps) != 2 || ps[0].Msg != plain.Error() || ps[0].Rule != "error" || ps[1] != a {
		t.Errorf("List = %v", ps)
	}
	// A wrapper around plain errors keeps its words.
	ps = List(fmt.Errorf("reading flows: %w", plain))
	if len(ps) != 1 || ps[0].Msg != "reading flows: reading x: no such file" {
		t.Errorf("List = %v", ps)
	}
}

func TestWriteTextAndJSON(t *testing.T) {
	ps := []*Problem{{File: "f.yaml", Line: 2, Col: 3, Path: "a", Rule: RuleQuote, Msg: "quote this", Hint: `write "x"`}}
	var b bytes.Buffer
	if err := WriteText(&b, ps); err != nil {
		t.Fatal(err)
	}
	if want := "f.yaml:2:3: a: quote this (yaml-quote)\n    hint: write \"x\"\n"; b.String() != want {
		t.Errorf("text %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := WriteJSON(&b, ps); err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0]["file"] != "f.yaml" || back[0]["line"] != 2.0 || back[0]["col"] != 3.0 ||
		back[0]["rule"] != "yaml-quote" || back[0]["hint"] != `write "x"` || back[0]["path"] != "a" {
		t.Errorf("json %s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no problems: %q %v", b.String(), err)
	}
}

func TestSuggest(t *testing.T) {
	ops := []string{"schedules", "schedule", "register", "status"}
	for in, want := range map[string]string{"specis": "", "schedul": "schedule", "Regster": "register", "zzz": ""} {
		if got := Suggest(in, ops); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFromYAML: the YAML mistakes owners make, each explained in words
// and positioned on the offending text. Each source must be refused by
// yaml.v3, or the case tests nothing.
func TestFromYAML(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		line, col int
		rule, msg string
		hint      string
	}{
		{"question mark in braces", "a:\n  text: {en: What is it? Tell me, fr: x}\n",
			2, 14, RuleQuote, `quote this text: What is it? Tell me`, `"What is it? Tell me"`},
		{"colon in braces", "nodes:\n  main:\n    type: end\n    text: {en: Price: 30 KES, fr: x}\n",
			4, 16, RuleQuote, `quote this text: Price: 30 KES`, `"Price: 30 KES"`},
		{"colon in a flow list item", "a:\n  options: [{label: Yes, next: b}, {label: No: next: c}]\n",
			2, 44, RuleQuote, `quote this text: No: next: c`, ""},
		{"comment sign in braces", "a: {en: Pay #1 now, fr: x}\n",
			1, 9, RuleQuote, `quote this text: Pay #1 now`, ""},
		{"colon in plain text", "a:\n  text: Price: 30\n",
			2, 9, RuleQuote, `quote this text: Price: 30`, `text: "Price: 30"`},
		{"colon in a list item", "a:\n  - label: Time: 5pm\n",
			2, 12, RuleQuote, `quote this text: Time: 5pm`, `label: "Time: 5pm"`},
		{"at sign", "a:\n  text: @home\n", 2, 9, RuleQuote, "quote this text: @home", `"@home"`},
		{"tab indent", "a:\n  b: 1\n\tc: 2\n", 3, 1, RuleTab, "a tab in the indentation", ""},
		{"tab after spaces", "a:\n  \tb: 1\n", 2, 3, RuleTab, "a tab in the indentation", ""},
		{"indented more", "a:\n  b: 1\n   c: 2\n", 3, 4, RuleIndent, "indented more than line 2", "indent it by 2 spaces"},
		{"indented less", "a:\n  b: 1\n c: 2\n", 3, 2, RuleIndent, "indented by 1 spaces, which lines up with no line", "2 spaces like line 2"},
		{"between levels", "a:\n  b:\n    c: 1\n   d: 2\n", 4, 4, RuleIndent, "lines up with no line", "4 spaces like line 3"},
		{"list item misaligned", "nodes:\n  main:\n    options:\n      - a\n     - b\n", 5, 6, RuleIndent, "lines up with no line", "6 spaces like line 4"},
		{"key among list items", "a:\n  - x\n  y: 1\n", 3, 3, RuleIndent, "a key at the indentation of the list items above it (line 2)", ""},
		{"unclosed brace", "a: {b: 1\nc: 2\n", 1, 4, RuleUnclosed, "this { is never closed", ""},
		{"extra brace", "a:\n  text: {en: Hi, fr: x}}\n", 2, 24, RuleUnclosed, "this } closes nothing", ""},
		{"unclosed quote", "a:\n  text: \"unclosed\n  b: 1\n", 2, 9, RuleUnclosed, "this quote is never closed", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tt.src), &n)
			if err == nil {
				t.Fatal("yaml.v3 accepts the source")
			}
			p := FromYAML("f.yaml", []byte(tt.src), err)
			if p.File != "f.yaml" || p.Line != tt.line || p.Col != tt.col || p.Rule != tt.rule ||
				!strings.Contains(p.Msg, tt.msg) || !strings.Contains(p.Hint, tt.hint) {
				t.Errorf("got  %s\n    hint: %s\nwant f.yaml:%d:%d: %s… (%s)\n    hint: …%s… (yaml.v3 said %q)", p, p.Hint, tt.line, tt.col, tt.msg, tt.rule, tt.hint, err)
			}
		})
	}
}

// TestFromYAMLFallback: a syntax error the scanner does not explain keeps
// yaml.v3's words and line.
func TestFromYAMLFallback(t *testing.T) {
	src := "a: *nothing\n"
	var n yaml.Node
	err := yaml.Unmarshal([]byte(src), &n)
	p := FromYAML("f.yaml", []byte(src), err)
	if p.Rule != RuleSyntax || p.Line != 1 || !strings.Contains(p.Msg, "unknown anchor") {
		t.Errorf("got %v", p)
	}
	if FromYAML("f.yaml", nil, nil) != nil {
		t.Error("nil error gave a problem")
	}
}

// TestFromYAMLTypeErrors: yaml.v3's type errors become wrong-type
// problems at the value.
func TestFromYAMLTypeErrors(t *testing.T) {
	src := "window: many\nport: 1\ntps: lots\n"
	var v struct{ Window, Port, TPS int }
	err := yaml.Unmarshal([]byte(src), &v)
	ps := FromYAMLAll("g.yaml", []byte(src), err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	want := []string{`g.yaml:1:9: "many" is not a whole number (wrong-type)`, `g.yaml:3:6: "lots" is not a whole number (wrong-type)`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScanLeavesValidYAMLAlone: the scanner finds nothing in valid files
// of the shapes flows use, so its findings are never invented.
func TestScanLeavesValidYAMLAlone(t *testing.T) {
	for _, src := range []string{
		"a:\n- x\n- y\nb: 1\n",
		"a:\n  - label: x\n    next: b\n  - {label: y, next: c}\nc: 2\n",
		"text: |\n  Price: 30\n    indented: free\nnext: b\n",
		"text: Hello\n  world goes on\nnext: b\n",
		"t: {en: \"What? Price: 30\", fr: 'l''eau'}\n",
		"t: {en: x, fr: y\n  , sw: z}\nb: 1\n",
		"# comment\n   # odd comment\na: 1 # trailing: colon\n",
		"a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
		"url: http://x:8080/a?b=c\n",
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if f := scanText([]byte(src)); len(f) > 0 {
			t.Errorf("%q: found %v", src, f)
		}
	}
}
