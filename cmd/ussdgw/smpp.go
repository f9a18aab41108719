package main

import (
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/problem"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
)

// decodeSMPP decodes and validates the config file's smpp: section. Every
// problem is reported at once, each a *problem.Problem at
// file:line:col: smpp.<path>.
func decodeSMPP(file string, n *yaml.Node) (bridge.Config, error) {
	var c bridge.Config
	if err := n.Decode(&c); err != nil {
		return c, positioned(file, n, err)
	}
	if err := c.Validate(); err != nil {
		return c, positioned(file, n, err)
	}
	return c, nil
}

// positioned gives the problems of the smpp section the file, the
// section's path prefix and the line and column of the field they are
// about (Validate knows only the path).
func positioned(file string, section *yaml.Node, err error) error {
	var out []*problem.Problem
	for _, e := range unjoin(err) {
		var ce *smpp.ConfigError
		var te *yaml.TypeError
		switch {
		case errors.As(e, &ce):
			p := *ce
			p.File, p.Path = file, "smpp."+ce.Path
			if p.Line == 0 {
				p.Line, p.Col = nodeAt(section, ce.Path)
			}
			out = append(out, &p)
		case errors.As(e, &te):
			for _, p := range problem.FromYAMLAll(file, nil, te) {
				p.Path = "smpp"
				if n := valueOnLine(section, p.Line, p.Msg); n != nil {
					p.Col = n.Column
				}
				out = append(out, p)
			}
		default:
			out = append(out, problem.New(file, section, "smpp", "bad-value", e.Error()))
		}
	}
	return problem.Join(out)
}

// valueOnLine returns the scalar under n on line whose value msg quotes:
// yaml.v3's type errors give the line only.
func valueOnLine(n *yaml.Node, line int, msg string) *yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Line == line && strings.Contains(msg, strconv.Quote(n.Value)) {
		return n
	}
	for _, c := range n.Content {
		if found := valueOnLine(c, line, msg); found != nil {
			return found
		}
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// nodeAt returns the position of the value at path ("connections[1].ussd.
// end_op") under n, or of the deepest value of the path that exists (the
// mapping a missing key belongs in).
func nodeAt(n *yaml.Node, path string) (line, col int) {
	line, col = n.Line, n.Column
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		if n.Kind != yaml.MappingNode {
			return line, col
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				line, col = next.Line, next.Column
			}
		}
		if next == nil {
			return line, col
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line, col
			}
			n = n.Content[idx]
			line, col = n.Line, n.Column
		}
	}
	return line, col
}
