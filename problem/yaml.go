package problem

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The rules of YAML mistakes, found by FromYAML.
const (
	RuleSyntax   = "yaml-syntax"   // a syntax error with no more precise rule
	RuleQuote    = "yaml-quote"    // text that needs quotes: ": ", "?", "#" or a leading @ or `
	RuleTab      = "yaml-tab"      // a tab in the indentation
	RuleIndent   = "yaml-indent"   // a line that lines up with nothing above it
	RuleUnclosed = "yaml-unclosed" // a quote, { or [ that is never closed, or a } or ] that closes nothing
	RuleType     = "wrong-type"    // a value of the wrong type (a word where a number goes)
)

var (
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)
	typeLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
	cannotRE   = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// FromYAML turns an error of yaml.v3 about src (the text of file) into a
// problem in owners' words, positioned on the offending text: a syntax
// error becomes a yaml-quote, yaml-tab, yaml-indent or yaml-unclosed
// problem when the text shows one of those mistakes, else yaml-syntax; a
// *yaml.TypeError becomes its first wrong-type problem (FromYAMLAll gives
// them all). nil for a nil err.
func FromYAML(file string, src []byte, err error) *Problem {
	if ps := FromYAMLAll(file, src, err); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// FromYAMLAll is FromYAML for every problem err holds: a *yaml.TypeError
// holds one per value; *Problem values inside err are kept as they are.
func FromYAMLAll(file string, src []byte, err error) []*Problem {
	if err == nil {
		return nil
	}
	if ps := All(err); len(ps) > 0 {
		for _, p := range ps {
			if p.File == "" {
				p.File = file
			}
		}
		return ps
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var out []*Problem
		for _, m := range te.Errors {
			out = append(out, typeProblem(file, src, m))
		}
		return out
	}
	return []*Problem{syntaxProblem(file, src, err.Error())}
}

// typeProblem reads one of yaml.v3's "line N: cannot unmarshal !!str `x`
// into int" and finds the value on its line for the column.
func typeProblem(file string, src []byte, m string) *Problem {
	p := &Problem{File: file, Rule: RuleType, Msg: m}
	if sm := typeLineRE.FindStringSubmatch(m); sm != nil {
		p.Line, _ = strconv.Atoi(sm[1])
		p.Msg = sm[2]
	}
	if sm := cannotRE.FindStringSubmatch(p.Msg); sm != nil {
		p.Msg = fmt.Sprintf("%q is not %s", sm[2], goTypeWords(sm[3]))
		if p.Line > 0 {
			lines := strings.Split(string(src), "\n")
			if p.Line <= len(lines) {
				if i := strings.Index(lines[p.Line-1], sm[2]); i >= 0 && sm[2] != "" {
					p.Col = i + 1
				}
			}
		}
	}
	return p
}

func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "time.Duration":
		return "a duration like 2s or 5m"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping (key: value lines)"
	}
	return "a " + t
}

// syntaxProblem explains a yaml.v3 syntax error. yaml.v3 gives only the
// line of what it was reading when it gave up (for "did not find expected
// ..." counted from 0), never the column, so the text itself is read for
// the mistake, from that line on.
func syntaxProblem(file string, src []byte, msg string) *Problem {
	from := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		from, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if strings.HasPrefix(msg, "did not find expected") {
			from++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	found := scanText(src)
	for _, f := range found {
		if f.Line >= from-1 {
			f.File = file
			return f
		}
	}
	if len(found) > 0 {
		found[0].File = file
		return found[0]
	}
	p := &Problem{File: file, Line: from, Col: 1, Rule: RuleSyntax, Msg: "YAML syntax: " + msg}
	switch {
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		p.Rule, p.Msg = RuleQuote, "a \": \" inside text, or a wrong indent"
		p.Hint = `put text that holds ": " in quotes: text: "Price: 30"`
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		p.Rule, p.Msg = RuleQuote, "text that starts with a special character (@ ` % | >) must be in quotes"
	case strings.HasPrefix(msg, "found unexpected end of stream"):
		p.Rule, p.Msg = RuleUnclosed, "the file ends inside quoted text: a quote is not closed"
	case strings.HasPrefix(msg, "did not find expected key"), strings.HasPrefix(msg, "did not find expected '-'"):
		p.Rule, p.Msg = RuleIndent, "a line here does not line up with the lines around it"
	}
	return p
}
