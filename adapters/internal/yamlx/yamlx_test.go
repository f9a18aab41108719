package yamlx

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Attempts int           `yaml:"attempts"`
	Backoff  time.Duration `yaml:"backoff"`
}

type Common struct {
	File string `yaml:"file"`
}

type config struct {
	Common  `yaml:",inline"`
	URL     string            `yaml:"url"`
	Timeout time.Duration     `yaml:"timeout"`
	Retry   inner             `yaml:"retry"`
	Headers map[string]string `yaml:"headers"`
	Tags    []string          `yaml:"tags"`
	Items   []inner           `yaml:"items"`
	On      bool              `yaml:"on"`
}

func TestParse(t *testing.T) {
	const doc = `file: a.yaml
url: http://x
timeout: 2s
retry: {attempts: 3}
headers: {A: b}
tags: [x, y]
items:
  - attempts: 1
  - backoff: 1s
`
	c := config{Retry: inner{Backoff: time.Second}}
	ix, err := Parse("c.yaml", []byte(doc), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "a.yaml" || c.URL != "http://x" || c.Timeout != 2*time.Second ||
		c.Retry.Attempts != 3 || c.Retry.Backoff != time.Second || c.Headers["A"] != "b" ||
		len(c.Tags) != 2 || len(c.Items) != 2 || c.Items[1].Backoff != time.Second {
		t.Errorf("decoded %+v", c)
	}
	if n := ix.Node("items[1].backoff"); n == nil || n.Line != 9 {
		t.Errorf("index: %v", n)
	}
	if p := ix.Problem("retry.backoff", "too long"); p.Error() != "c.yaml:4:8: retry.backoff: too long (bad-value)" {
		t.Errorf("problem at a missing key: %v", p)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"all at once", "url: [1]\ntimeout: 2\nretry: {attempts: x, nope: 1}\nbogus: 1\n", []string{
			`c.yaml:1:6: url: want a string, got a list (wrong-type)`,
			`c.yaml:2:10: timeout: want a duration (like "2s" or "10m"), got "2" (wrong-type)`,
			`c.yaml:3:19: retry.attempts: want an integer, got "x" (wrong-type)`,
			`c.yaml:3:22: retry.nope: unknown key (known: attempts, backoff) (unknown-field)`,
			`c.yaml:4:1: bogus: unknown key (known: file, headers, items, on, retry, tags, timeout, url) (unknown-field)`,
		}},
		{"nested list", "items:\n  - attempts: 1\n  - attempt: 2\n", []string{
			`c.yaml:3:5: items[1].attempt: unknown key; did you mean "attempts"? (known: attempts, backoff) (unknown-field)`,
		}},
		{"wrong shapes", "headers: x\ntags: {a: b}\non: maybe\n", []string{
			`c.yaml:1:10: headers: want a mapping, got "x" (wrong-type)`,
			`c.yaml:2:7: tags: want a list, got a mapping (wrong-type)`,
			`c.yaml:3:5: on: want true or false, got "maybe" (wrong-type)`,
		}},
		{"syntax", "url: [\n", []string{`c.yaml:1:6: this [ is never closed (yaml-unclosed)`}},
		{"empty", "", []string{`c.yaml: empty document (empty-file)`}},
		{"not a mapping", "- a\n", []string{`c.yaml:1:1: want a mapping, got a list (wrong-type)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			_, err := Parse("c.yaml", []byte(tt.doc), &c)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Errorf("not a *Problem: %T", err)
			}
		})
	}
}

func TestPathHelpers(t *testing.T) {
	if got := Parent("a.b[2].c"); got != "a.b[2]" {
		t.Errorf("Parent = %q", got)
	}
	if got := Parent("a.b[2]"); got != "a.b" {
		t.Errorf("Parent = %q", got)
	}
	if got := Item(Join("", "a"), 3); got != "a[3]" {
		t.Errorf("Item = %q", got)
	}
}
