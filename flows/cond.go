package flows

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A condition decides a router branch or whether a menu option shows:
//
//	qty > 100
//	crop == maize and market != ""
//	region in (nairobi, mombasa)
//	code not in ('A1', 'B2')
//	name is set          (has a non-empty value)
//	name is empty
//	a == 1 or b == 2     ("and" binds tighter than "or")
//
// The left side is always a variable; the right side is a literal (a
// number, a bare word or a quoted string). Comparisons with < <= > >= are
// numeric; == and != compare numerically when both sides are numbers,
// otherwise as case-insensitive text.
type cond struct {
	or [][]cmpExpr // disjunction of conjunctions
}

type cmpExpr struct {
	name string
	op   string // == != < <= > >= in notin set empty
	vals []string
}

func (c *cond) vars() []string {
	var out []string
	for _, and := range c.or {
		for _, e := range and {
			out = append(out, e.name)
		}
	}
	return out
}

func (c *cond) eval(sc *scope) bool {
	for _, and := range c.or {
		ok := true
		for _, e := range and {
			if !e.eval(sc.lookup(e.name)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (e cmpExpr) eval(v string) bool {
	switch e.op {
	case "set":
		return v != ""
	case "empty":
		return v == ""
	case "in", "notin":
		found := false
		for _, x := range e.vals {
			if equalValues(v, x) {
				found = true
				break
			}
		}
		return found == (e.op == "in")
	case "==":
		return equalValues(v, e.vals[0])
	case "!=":
		return !equalValues(v, e.vals[0])
	}
	a, errA := strconv.ParseFloat(v, 64)
	b, errB := strconv.ParseFloat(e.vals[0], 64)
	if errA != nil || errB != nil {
		return false
	}
	switch e.op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

func equalValues(a, b string) bool {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa == fb
	}
	return strings.EqualFold(a, b)
}

type token struct {
	s      string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{s: string(c)})
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("quote %c is not closed", c)
			}
			toks = append(toks, token{s: s[i+1 : i+1+j], quoted: true})
			i += j + 2
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			toks = append(toks, token{s: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t(),'\"=!<>", rune(s[j])) {
				j++
			}
			toks = append(toks, token{s: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

func parseCond(src string) (*cond, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks}
	c := &cond{}
	for {
		and, err := p.conj()
		if err != nil {
			return nil, err
		}
		c.or = append(c.or, and)
		if p.done() {
			return c, nil
		}
		if !p.word("or") {
			return nil, fmt.Errorf("expected and, or or the end after %q, got %q", p.toks[p.i-1].s, p.toks[p.i].s)
		}
	}
}

type condParser struct {
	toks []token
	i    int
}

func (p *condParser) done() bool { return p.i >= len(p.toks) }

func (p *condParser) word(w string) bool {
	if !p.done() && !p.toks[p.i].quoted && strings.EqualFold(p.toks[p.i].s, w) {
		p.i++
		return true
	}
	return false
}

func (p *condParser) next() (token, bool) {
	if p.done() {
		return token{}, false
	}
	p.i++
	return p.toks[p.i-1], true
}

func (p *condParser) conj() ([]cmpExpr, error) {
	var out []cmpExpr
	for {
		e, err := p.cmp()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.word("and") {
			return out, nil
		}
	}
}

func isIdent(s string) bool {
	if s == "" || !(unicode.IsLower(rune(s[0])) || s[0] == '_') {
		return false
	}
	return varNameRE.MatchString(s)
}

func (p *condParser) value() (string, error) {
	t, ok := p.next()
	if !ok {
		return "", fmt.Errorf("a value is missing at the end")
	}
	if !t.quoted && strings.ContainsAny(t.s, "(),=!<>") {
		return "", fmt.Errorf("expected a value, got %q", t.s)
	}
	return t.s, nil
}

func (p *condParser) cmp() (cmpExpr, error) {
	t, ok := p.next()
	if !ok {
		return cmpExpr{}, fmt.Errorf("a comparison is missing at the end")
	}
	if t.quoted || !isIdent(t.s) {
		return cmpExpr{}, fmt.Errorf("expected a variable name, got %q", t.s)
	}
	e := cmpExpr{name: t.s}
	switch {
	case p.word("is"):
		not := p.word("not")
		switch {
		case p.word("set"):
			e.op = "set"
		case p.word("empty"):
			e.op = "empty"
		default:
			return e, fmt.Errorf("expected set or empty after %q is", e.name)
		}
		if not {
			e.op = map[string]string{"set": "empty", "empty": "set"}[e.op]
		}
		return e, nil
	case p.word("not"):
		if !p.word("in") {
			return e, fmt.Errorf("expected in after not")
		}
		e.op = "notin"
		return e, p.list(&e)
	case p.word("in"):
		e.op = "in"
		return e, p.list(&e)
	}
	op, ok := p.next()
	if !ok {
		return e, fmt.Errorf("expected an operator after %q", e.name)
	}
	switch op.s {
	case "==", "!=", "<", "<=", ">", ">=":
		if op.quoted {
			return e, fmt.Errorf("expected an operator after %q, got %q", e.name, op.s)
		}
		e.op = op.s
	case "=":
		return e, fmt.Errorf("use == to compare, not =")
	default:
		return e, fmt.Errorf("expected an operator (== != < <= > >= in is) after %q, got %q", e.name, op.s)
	}
	v, err := p.value()
	if err != nil {
		return e, err
	}
	if e.op != "==" && e.op != "!=" {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return e, fmt.Errorf("%s needs a number, got %q", e.op, v)
		}
	}
	e.vals = []string{v}
	return e, nil
}

func (p *condParser) list(e *cmpExpr) error {
	if t, ok := p.next(); !ok || t.s != "(" || t.quoted {
		return fmt.Errorf("expected ( after in")
	}
	for {
		v, err := p.value()
		if err != nil {
			return err
		}
		e.vals = append(e.vals, v)
		t, ok := p.next()
		if !ok {
			return fmt.Errorf("expected ) to close the list")
		}
		if t.s == ")" && !t.quoted {
			return nil
		}
		if t.s != "," || t.quoted {
			return fmt.Errorf("expected , or ) in the list, got %q", t.s)
		}
	}
}
