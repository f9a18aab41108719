package httpjson

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// template is a string with {{param}} placeholders, parsed once.
type template struct {
	lits  []string // len(names)+1 literal parts around the placeholders
	names []string
	query []bool // for a URL: whether each placeholder is in the query
}

var placeRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

var paramRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// parseTemplate parses s; isURL marks where each placeholder falls.
func parseTemplate(s string, isURL bool) (*template, error) {
	t := &template{}
	last := 0
	for _, m := range placeRE.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		if !paramRE.MatchString(name) {
			return nil, fmt.Errorf("placeholder {{%s}}: want a lower-case param name", name)
		}
		t.lits = append(t.lits, s[last:m[0]])
		t.names = append(t.names, name)
		t.query = append(t.query, isURL && strings.Contains(s[:m[0]], "?"))
		last = m[1]
	}
	t.lits = append(t.lits, s[last:])
	for _, l := range t.lits {
		if strings.Contains(l, "{{") || strings.Contains(l, "}}") {
			return nil, fmt.Errorf("unbalanced {{ }}")
		}
	}
	return t, nil
}

// escaping says how a param value goes into the text.
type escaping int

const (
	forURL  escaping = iota // path or query escaping, by position
	forJSON                 // inside a JSON string
)

func (t *template) render(p map[string]string, esc escaping) string {
	if len(t.names) == 0 {
		return t.lits[0]
	}
	var b strings.Builder
	for i, name := range t.names {
		b.WriteString(t.lits[i])
		v := p[name]
		switch {
		case esc == forJSON:
			b.WriteString(jsonEscape(v))
		case t.query[i]:
			b.WriteString(url.QueryEscape(v))
		default:
			b.WriteString(url.PathEscape(v))
		}
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String()
}

// jsonEscape escapes s for the inside of a JSON string.
func jsonEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
