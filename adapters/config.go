package adapters

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
	"github.com/ussdgw/ussdgw/problem"
)

// Problem is one positioned problem in a configuration or data file, the
// gateway's one problem type (package problem); its text is
// "file:line:col: path: message (rule)". Build returns every problem it
// finds, joined with errors.Join, each a *Problem.
type Problem = yamlx.Problem

// Factory makes adapters of one kind from their configuration. Use Define
// to make one.
type Factory interface {
	// NewConfig returns a pointer to a fresh config struct holding the
	// kind's defaults; Build decodes the instance's YAML into it.
	NewConfig() any
	// New checks the decoded config and builds the adapter. Problems with
	// one field are *FieldError values (joined when there are several), so
	// that Build can report them at the field's position.
	New(cfg any, in Instance) (Adapter, error)
}

// Define returns the Factory of a kind whose configuration is a C:
// defaults returns a C holding the defaults, and build checks it and
// builds the adapter.
func Define[C any](defaults func() *C, build func(cfg *C, in Instance) (Adapter, error)) Factory {
	return factory[C]{defaults, build}
}

type factory[C any] struct {
	defaults func() *C
	build    func(*C, Instance) (Adapter, error)
}

func (f factory[C]) NewConfig() any { return f.defaults() }

func (f factory[C]) New(cfg any, in Instance) (Adapter, error) {
	c, ok := cfg.(*C)
	if !ok {
		return nil, fmt.Errorf("config is a %T, want a %T", cfg, new(C))
	}
	return f.build(c, in)
}

// Kinds maps a kind name, as written after "kind:" in the configuration,
// to its factory. It is a value built where the gateway is wired (cmd/),
// holding the kinds that binary offers; nothing registers itself.
type Kinds map[string]Factory

// Deps is what adapters may need from the gateway besides their own
// configuration. The zero value works: every nil field has a default.
type Deps struct {
	// Dir is the directory relative data-file paths are resolved against
	// ("" is the working directory).
	Dir string
	// KV stores per-user data; kinds that keep some fail to build without it.
	KV KV
	// HTTPClient is used by adapters that fetch over HTTP. nil: each
	// adapter makes its own.
	HTTPClient *http.Client
	// Logger is scoped by Build to the instance ("adapter", name).
	// nil: slog.Default().
	Logger *slog.Logger
	// LookupEnv resolves ${NAME} references. nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Now is the clock. nil: time.Now.
	Now func() time.Time
}

// WithDefaults returns d with every nil field set to its default.
func (d Deps) WithDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.LookupEnv == nil {
		d.LookupEnv = os.LookupEnv
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Instance is what a factory gets besides its config: the gateway's
// dependencies (with defaults set) and the instance's own name and secrets.
type Instance struct {
	Deps
	// Name is the instance's name in the configuration ("prices", "crm").
	Name string
	// Secrets are the values that ${NAME} references expanded to. They
	// must never appear in errors or logs; see Redact.
	Secrets []string
}

// Path resolves a data-file path against Dir.
func (in Instance) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || in.Dir == "" {
		return p
	}
	return filepath.Join(in.Dir, p)
}

// Redact returns s with every secret replaced by "***".
func (in Instance) Redact(s string) string {
	return Redact(s, in.Secrets)
}

// Redact returns s with every one of secrets replaced by "***".
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// FieldError is a problem with one field of an adapter's configuration.
// Field is the dotted path below the instance ("url", "retry.attempts",
// "ops.visits.map.price"); Build reports the problem at that field's
// position, or at its nearest enclosing one when the field is absent.
type FieldError struct {
	Field string
	Err   error
}

// FieldErrorf returns a *FieldError for field with a formatted message.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// minSecret is the length below which an expanded value is not treated as
// a secret: redacting "3" or "GET" from every message would hide more than
// it protects.
const minSecret = 4

var envRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?`)

// Build decodes the adapters section of the gateway configuration (a
// mapping from instance name to a mapping with "kind" and that kind's
// keys), builds every instance with its kind's factory and returns them
// in a Registry, not yet started. file names the configuration file in
// problems. A nil or empty section gives an empty Registry.
//
// Each instance is decoded strictly (unknown keys are problems) into its
// kind's config. In any value, ${NAME} is replaced by the environment
// variable NAME, a missing one being a problem that names it, and $$ by $;
// the expanded values (of 4 characters or more) are the instance's
// secrets, kept out of every problem's text. Build reports every problem of the section at once, as
// *Problem values ("file:line:col: adapters.<name>.<field>: message")
// joined with errors.Join, and then returns a nil Registry.
func Build(kinds Kinds, file string, section *yaml.Node, deps Deps) (*Registry, error) {
	deps = deps.WithDefaults()
	reg := NewRegistry()
	if section != nil && section.Kind == yaml.DocumentNode && len(section.Content) > 0 {
		section = section.Content[0]
	}
	if section == nil || section.Kind == 0 || section.ShortTag() == "!!null" {
		return reg, nil
	}
	var problems []error
	if section.Kind != yaml.MappingNode {
		return nil, &Problem{File: file, Line: section.Line, Col: section.Column, Path: "adapters", Rule: "wrong-type",
			Msg: "want a mapping from adapter name to its settings"}
	}
	for i := 0; i+1 < len(section.Content); i += 2 {
		k, v := section.Content[i], section.Content[i+1]
		a, errs := buildOne(kinds, file, k, v, deps)
		problems = append(problems, errs...)
		if a != nil {
			if err := reg.Register(k.Value, a); err != nil {
				problems = append(problems, at(file, k, "adapters."+k.Value, "duplicate", err.Error()))
			}
		}
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b error) int {
			pa, pb := a.(*Problem), b.(*Problem)
			return cmp.Or(cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col))
		})
		return nil, errors.Join(problems...)
	}
	return reg, nil
}

func at(file string, n *yaml.Node, path, rule, msg string) *Problem {
	return problem.New(file, n, path, rule, msg)
}

func buildOne(kinds Kinds, file string, key, node *yaml.Node, deps Deps) (Adapter, []error) {
	name := key.Value
	path := "adapters." + name
	if !nameRE.MatchString(name) {
		return nil, []error{at(file, key, path, "bad-value", "adapter names are lower-case identifiers ([a-z][a-z0-9_]*)")}
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if node.Kind != yaml.MappingNode {
		return nil, []error{at(file, node, path, "wrong-type", "want a mapping with kind and its settings")}
	}
	// Split off "kind"; the rest is the kind's config.
	body := *node
	body.Content = nil
	var kindNode *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "kind" {
			kindNode = node.Content[i+1]
			continue
		}
		body.Content = append(body.Content, node.Content[i], node.Content[i+1])
	}
	if kindNode == nil {
		return nil, []error{at(file, node, path+".kind", "missing-field", "required (known kinds: "+knownKinds(kinds)+")")}
	}
	f, ok := kinds[kindNode.Value]
	if !ok {
		return nil, []error{at(file, kindNode, path+".kind", "unknown-kind",
			fmt.Sprintf("unknown kind %q%s (known kinds: %s)", kindNode.Value, problem.DidYouMean(kindNode.Value, slices.Collect(maps.Keys(kinds))), knownKinds(kinds)))}
	}

	expanded, secrets, problems := expandEnv(&body, file, path, deps.LookupEnv)
	cfg := f.NewConfig()
	ix, err := yamlx.Decode(file, path, expanded, cfg)
	problems = append(problems, flatten(err)...)
	// Build even when decoding found problems, so that every problem is
	// reported at once; but a field that did not decode keeps its default,
	// and what New says about it would only repeat the decoding problem.
	bad := map[string]bool{}
	for _, p := range problems {
		bad[p.(*Problem).Path] = true
	}
	in := Instance{Deps: deps, Name: name, Secrets: secrets}
	in.Logger = deps.Logger.With("adapter", name)
	a, err := f.New(cfg, in)
	if err == nil && a != nil {
		if v, ok := a.(Validator); ok {
			err = v.Validate()
		}
	}
	for _, fe := range fieldErrors(err, "") {
		fpath := path
		if fe.Field != "" {
			fpath = yamlx.Join(path, fe.Field)
		}
		if underBad(fpath, bad) {
			continue
		}
		p := ix.Problem(fpath, fe.Err.Error())
		p.Path = fpath
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return nil, redactAll(problems, secrets)
	}
	if a == nil {
		return nil, []error{at(file, node, path, "bad-value", "kind "+kindNode.Value+" built no adapter")}
	}
	return a, nil
}

// underBad reports whether path is, or is below, one of the bad paths.
func underBad(path string, bad map[string]bool) bool {
	for p := path; p != ""; p = yamlx.Parent(p) {
		if bad[p] {
			return true
		}
	}
	return false
}

func knownKinds(kinds Kinds) string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// flatten unwraps joined errors into their leaves.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// fieldErrors turns err into one FieldError per leaf problem, with paths
// below prefix. Errors that are not FieldErrors belong to the instance.
func fieldErrors(err error, prefix string) []*FieldError {
	var out []*FieldError
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) && fe == e {
			out = append(out, fieldErrors(fe.Err, yamlx.Join(prefix, fe.Field))...)
			continue
		}
		out = append(out, &FieldError{Field: prefix, Err: e})
	}
	return out
}

func redactAll(problems []error, secrets []string) []error {
	for _, e := range problems {
		if p, ok := e.(*Problem); ok {
			p.Msg = Redact(p.Msg, secrets)
		}
	}
	return problems
}

// expandEnv returns a deep copy of n with ${NAME} references expanded in
// every scalar value (not in keys), the expanded values, and a problem for
// every missing variable or malformed reference.
func expandEnv(n *yaml.Node, file, path string, lookup func(string) (string, bool)) (*yaml.Node, []string, []error) {
	var secrets []string
	var problems []error
	var walk func(n *yaml.Node, path string) *yaml.Node
	walk = func(n *yaml.Node, path string) *yaml.Node {
		c := *n
		switch n.Kind {
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "$") {
				return &c
			}
			c.Value = envRE.ReplaceAllStringFunc(n.Value, func(ref string) string {
				if ref == "$$" {
					return "$"
				}
				m := envRE.FindStringSubmatch(ref)
				if m[1] == "" {
					problems = append(problems, at(file, n, path, "bad-value", fmt.Sprintf("malformed reference %q: want ${NAME}", ref)))
					return ref
				}
				v, ok := lookup(m[1])
				if !ok {
					problems = append(problems, at(file, n, path, "missing-env", fmt.Sprintf("environment variable %s is not set", m[1])))
					return ""
				}
				if len(v) >= minSecret {
					secrets = append(secrets, v)
				}
				return v
			})
			// Let the expanded text resolve afresh, so that ${RETRIES} can
			// feed an integer and ${TIMEOUT} a duration.
			if c.Value != n.Value && n.Style == 0 {
				c.Tag = ""
			}
		case yaml.MappingNode:
			c.Content = make([]*yaml.Node, len(n.Content))
			for i := 0; i+1 < len(n.Content); i += 2 {
				c.Content[i] = n.Content[i]
				c.Content[i+1] = walk(n.Content[i+1], yamlx.Join(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			c.Content = make([]*yaml.Node, len(n.Content))
			for i, item := range n.Content {
				c.Content[i] = walk(item, yamlx.Item(path, i))
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				return walk(n.Alias, path)
			}
		}
		return &c
	}
	out := walk(n, path)
	// Longest first, so that redacting one secret cannot expose the rest
	// of a longer one that contains it.
	slices.SortStableFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return out, slices.Compact(secrets), problems
}
