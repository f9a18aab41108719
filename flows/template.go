package flows

import (
	"fmt"
	"regexp"
	"strings"
)

// A template is screen text with variables: "Maize in {{market}}: {{price.value}}".
// Variables are session variables, results saved by actions (dotted), the
// built-ins (msisdn, lang, service, today), and item.* inside a dynamic
// menu. A missing variable renders as nothing. Templates are parsed once at
// load and render without reflection, so a step stays cheap.
type template struct {
	src  string
	segs []segment
}

type segment struct {
	lit  string
	name string // variable name when not a literal
}

var varNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$`)

func parseTemplate(src string) (*template, error) {
	t := &template{src: src}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.segs = append(t.segs, segment{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.segs = append(t.segs, segment{lit: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, fmt.Errorf("template: {{ is not closed by }}")
		}
		name := strings.TrimSpace(rest[:j])
		if !varNameRE.MatchString(name) {
			return nil, fmt.Errorf("template: %q is not a variable name (lower-case letters, digits, _ and dots)", name)
		}
		t.segs = append(t.segs, segment{name: name})
		rest = rest[j+2:]
	}
}

// static reports whether the template has no variables.
func (t *template) static() bool {
	return len(t.segs) == 0 || (len(t.segs) == 1 && t.segs[0].name == "")
}

// vars returns the variable names the template uses.
func (t *template) vars() []string {
	var out []string
	for _, s := range t.segs {
		if s.name != "" {
			out = append(out, s.name)
		}
	}
	return out
}

func (t *template) render(b *strings.Builder, sc *scope) {
	for _, s := range t.segs {
		if s.name == "" {
			b.WriteString(s.lit)
		} else {
			b.WriteString(sc.lookup(s.name))
		}
	}
}

func (t *template) String(sc *scope) string {
	if t.static() {
		if len(t.segs) == 0 {
			return ""
		}
		return t.segs[0].lit
	}
	var b strings.Builder
	t.render(&b, sc)
	return b.String()
}

// text is a localized template: one per language of the flow, in the order
// of Flow.Languages. A text given as a plain string serves every language.
type text []*template

// get returns the template for language index li.
func (t text) get(li int) *template {
	if t == nil {
		return nil
	}
	return t[li]
}
