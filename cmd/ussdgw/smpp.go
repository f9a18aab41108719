package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
)

// decodeSMPP decodes and validates the config file's smpp: section. Every
// problem is reported at once, each as file:line:col: smpp.<path>: what.
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

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// positioned rewrites the errors of the smpp section with the file and
// the line and column of the field they are about.
func positioned(file string, section *yaml.Node, err error) error {
	var out []string
	for _, e := range unjoin(err) {
		var ce *smpp.ConfigError
		var te *yaml.TypeError
		switch {
		case errors.As(e, &ce):
			line, col := ce.Line, ce.Column
			if line == 0 {
				line, col = nodeAt(section, ce.Path)
			}
			out = append(out, fmt.Sprintf("%s:%d:%d: smpp.%s: %s", file, line, col, ce.Path, ce.Msg))
		case errors.As(e, &te):
			for _, m := range te.Errors {
				if sm := yamlLine.FindStringSubmatch(m); sm != nil {
					out = append(out, fmt.Sprintf("%s:%s: smpp: %s", file, sm[1], sm[2]))
				} else {
					out = append(out, fmt.Sprintf("%s: smpp: %s", file, m))
				}
			}
		default:
			out = append(out, fmt.Sprintf("%s:%d:%d: smpp: %v", file, section.Line, section.Column, e))
		}
	}
	return errors.New(strings.Join(out, "\n"))
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
