package flows

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is the services a gateway serves, loaded together so that codes and
// keywords can be checked across them. A Set is immutable and safe for
// concurrent use; a reload builds a new Set and swaps it in whole.
type Set struct {
	flows    map[string]*Flow
	ids      []string
	codes    map[string]*Flow // "*384*1#" → flow
	keywords map[string]*Flow
}

// Load reads every *.yaml and *.yml file in dir (not its subfolders, which
// may hold adapter data) and compiles them into a Set. The error lists
// every problem in every file.
func Load(dir string, opts Options) (*Set, error) {
	var names []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("listing flows in %s: %w", dir, err)
		}
		names = append(names, m...)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("reading flows: %w", err)
	}
	sort.Strings(names)
	files := map[string][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading flow: %w", err)
		}
		files[name] = data
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no flow files (*.yaml) in %s", dir)
	}
	return Compile(files, opts)
}

// Compile builds a Set from flow files given by name.
func Compile(files map[string][]byte, opts Options) (*Set, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	var flows []*Flow
	for _, name := range names {
		f, err := Parse(name, files[name], opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		flows = append(flows, f)
	}
	s, err := newSet(flows)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, joinErrors(Errors(errors.Join(errs...)))
	}
	return s, nil
}

func newSet(flows []*Flow) (*Set, error) {
	s := &Set{flows: map[string]*Flow{}, codes: map[string]*Flow{}, keywords: map[string]*Flow{}}
	var errs []*Error
	// Every problem here is one service clashing with another.
	at := func(f *Flow, p pos, path, format string, args ...any) {
		errs = append(errs, &Error{File: f.File, Line: p.line, Col: p.col, Path: path, Rule: "duplicate", Msg: fmt.Sprintf(format, args...)})
	}
	for _, f := range flows {
		if other, dup := s.flows[f.ID]; dup {
			at(f, f.idAt, "id", "service %q is also defined in %s", f.ID, other.File)
			continue
		}
		s.flows[f.ID] = f
		s.ids = append(s.ids, f.ID)
		for i, code := range f.Codes {
			if other, dup := s.codes[code]; dup {
				at(f, f.codeAt[i], index("codes", i), "code %s is also used by service %q (%s)", code, other.ID, other.File)
				continue
			}
			s.codes[code] = f
		}
		for i, kw := range f.Keywords {
			if other, dup := s.keywords[kw]; dup {
				at(f, f.kwAt[i], index("keywords", i), "keyword %s is also used by service %q (%s)", kw, other.ID, other.File)
				continue
			}
			s.keywords[kw] = f
		}
	}
	// A service's STOP or START word must not be a keyword that opens
	// another service: the same SMS cannot mean both.
	for _, f := range flows {
		for _, w := range append(append([]string(nil), f.StopWords...), f.StartWords...) {
			if other, clash := s.keywords[w]; clash && other != f {
				at(f, f.wordAt[w], "sms", "%s is a STOP/START word here and a keyword of service %q (%s)", w, other.ID, other.File)
			}
		}
	}
	sort.Strings(s.ids)
	return s, joinErrors(errs)
}

// Flow returns the service with id.
func (s *Set) Flow(id string) (*Flow, bool) {
	f, ok := s.flows[id]
	return f, ok
}

// Flows returns the services in id order.
func (s *Set) Flows() []*Flow {
	out := make([]*Flow, len(s.ids))
	for i, id := range s.ids {
		out[i] = s.flows[id]
	}
	return out
}

// Route finds the service for a dialled string such as *384*1*2#: the
// longest declared code that is a prefix of it (*384*1# before *384#),
// and the rest as inputs to apply as if typed (["2"]). It accepts the
// string with or without the final #, and with spaces around.
func (s *Set) Route(dialled string) (*Flow, []string, bool) {
	d := strings.TrimSpace(dialled)
	d = strings.TrimSuffix(d, "#")
	if !strings.HasPrefix(d, "*") || len(d) < 2 {
		return nil, nil, false
	}
	parts := strings.Split(d[1:], "*")
	for n := len(parts); n > 0; n-- {
		code := "*" + strings.Join(parts[:n], "*") + "#"
		if f, ok := s.codes[code]; ok {
			rest := parts[n:]
			for _, r := range rest {
				if r == "" {
					return f, nil, true // "*384**#": ignore a malformed shortcut
				}
			}
			return f, rest, true
		}
	}
	return nil, nil, false
}

// Keyword returns the service an SMS keyword opens (case-insensitive).
func (s *Set) Keyword(word string) (*Flow, bool) {
	f, ok := s.keywords[strings.ToUpper(strings.TrimSpace(word))]
	return f, ok
}
