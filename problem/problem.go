// Package problem is the one way the gateway reports a problem in a file an
// operator or a service owner wrote (a flow, the gateway config, an
// adapter's data): where it is (file, line, column and a dotted path),
// which rule it breaks, and what to do, in one text format and one JSON
// shape. Every package that reads such files reports through it, so that
// `ussdgw lint` and a refused start say the same thing the same way. It
// must not import any package of this module (it is a codec: everything
// imports it).
//
// It also explains yaml.v3's syntax errors in owners' words (FromYAML),
// positioned on the offending text rather than on the node yaml.v3 was
// reading when it gave up.
//
// docs/lint.md lists the rules.
package problem

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one positioned problem. Parts that are not known are zero and
// left out of its text.
type Problem struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	// Path is where in the document: "nodes.main.options[2].next",
	// "adapters.crm.url", "smpp.connections[0].address".
	Path string `json:"path,omitempty"`
	// Rule names the check that failed ("unknown-field", "yaml-quote");
	// docs/lint.md lists them.
	Rule string `json:"rule,omitempty"`
	Msg  string `json:"msg"`
	// Hint says how to fix it, when the message alone does not.
	Hint string `json:"hint,omitempty"`
}

// Error returns "file:line:col: path: msg (rule)", leaving out the parts
// that are unknown. The hint is not part of it; WriteText prints it.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		if p.Col > 0 {
			b.WriteString(strconv.Itoa(p.Col))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Rule != "" {
		b.WriteString(" (")
		b.WriteString(p.Rule)
		b.WriteByte(')')
	}
	return b.String()
}

// New returns a problem at n (nil: no position) of file.
func New(file string, n *yaml.Node, path, rule, msg string) *Problem {
	p := &Problem{File: file, Path: path, Rule: rule, Msg: msg}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

// Errorf is New with a formatted message.
func Errorf(file string, n *yaml.Node, path, rule, format string, args ...any) *Problem {
	return New(file, n, path, rule, fmt.Sprintf(format, args...))
}

// All returns every *Problem inside err (joined with errors.Join, wrapped
// with %w, or both), sorted by position. Other errors in err are left out;
// see List.
func All(err error) []*Problem {
	var out []*Problem
	walk(err, func(p *Problem) { out = append(out, p) }, func(error) {})
	Sort(out)
	return out
}

// List is All, except that an error in err that is not a *Problem (a file
// that could not be read, say) becomes one too, with rule "error" and no
// position, so that nothing in err is lost.
func List(err error) []*Problem {
	var out []*Problem
	walk(err, func(p *Problem) { out = append(out, p) }, func(e error) {
		out = append(out, &Problem{Rule: "error", Msg: e.Error()})
	})
	Sort(out)
	return out
}

func walk(err error, found func(*Problem), other func(error)) {
	switch x := err.(type) {
	case nil:
	case *Problem:
		found(x)
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			walk(e, found, other)
		}
	default:
		if inner := errors.Unwrap(err); inner != nil {
			// A wrapper adds words ("loading flows from x:") that the
			// problems inside already say with their file; keep them
			// only when there is no problem inside.
			var ps []*Problem
			walk(inner, func(p *Problem) { ps = append(ps, p) }, func(error) {})
			if len(ps) > 0 {
				walk(inner, found, other)
				return
			}
		}
		other(err)
	}
}

// Sort sorts ps by file, line and column, keeping the order of problems at
// the same place.
func Sort(ps []*Problem) {
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// Join sorts ps by position and joins them with errors.Join; nil when ps
// is empty.
func Join(ps []*Problem) error {
	if len(ps) == 0 {
		return nil
	}
	Sort(ps)
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// WriteText writes one problem a line, each followed by its hint, if any,
// on an indented line of its own.
func WriteText(w io.Writer, ps []*Problem) error {
	for _, p := range ps {
		if _, err := fmt.Fprintln(w, p.Error()); err != nil {
			return err
		}
		if p.Hint != "" {
			if _, err := fmt.Fprintf(w, "    hint: %s\n", p.Hint); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteJSON writes ps as one JSON array (an empty one when there are
// none) of objects with the fields file, line, col, path, rule, msg and
// hint (those unknown left out, msg always there).
func WriteJSON(w io.Writer, ps []*Problem) error {
	if ps == nil {
		ps = []*Problem{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ps)
}

// Suggest returns the candidate closest to s when s is likely a typo of
// it (at most two edits away, case aside), or "".
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	for _, c := range sorted {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean returns "; did you mean %q?" for Suggest's answer, or "".
func DidYouMean(s string, candidates []string) string {
	if m := Suggest(s, candidates); m != "" && m != s {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
