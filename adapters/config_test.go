package adapters

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type echoConfig struct {
	URL     string            `yaml:"url"`
	Timeout time.Duration     `yaml:"timeout"`
	Retries int               `yaml:"retries"`
	Headers map[string]string `yaml:"headers"`
	Retry   struct {
		Backoff time.Duration `yaml:"backoff"`
	} `yaml:"retry"`
}

type echo struct {
	cfg echoConfig
	in  Instance
}

func (e *echo) Call(context.Context, Request) (Result, error) { return e.cfg.URL, nil }

func echoKind() Factory {
	return Define(func() *echoConfig { return &echoConfig{Timeout: 2 * time.Second} },
		func(c *echoConfig, in Instance) (Adapter, error) {
			var errs []error
			if c.URL == "" {
				errs = append(errs, FieldErrorf("url", "required"))
			} else if !strings.HasPrefix(c.URL, "https://") {
				errs = append(errs, FieldErrorf("url", "want an https URL, got %q", c.URL))
			}
			if c.Timeout <= 0 {
				errs = append(errs, FieldErrorf("timeout", "must be positive"))
			}
			if c.Retry.Backoff > time.Minute {
				errs = append(errs, FieldErrorf("retry.backoff", "at most 1m"))
			}
			if c.Headers["Bad"] != "" {
				// A data-file problem: nested positioned problems under one field.
				errs = append(errs, &FieldError{Field: "headers.Bad", Err: errors.Join(
					&Problem{File: "data.yaml", Line: 3, Col: 1, Path: "a", Msg: "one"},
					&Problem{File: "data.yaml", Line: 4, Col: 1, Path: "b", Msg: "two"})})
			}
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			return &echo{cfg: *c, in: in}, nil
		})
}

type picky struct{ echo }

func (picky) Validate() error { return errors.New("data file has no markets") }

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func testKinds() Kinds {
	return Kinds{
		"echo": echoKind(),
		"picky": Define(func() *echoConfig { return &echoConfig{} },
			func(c *echoConfig, in Instance) (Adapter, error) { return &picky{echo{cfg: *c}}, nil }),
	}
}

func TestBuild(t *testing.T) {
	const src = `
a:
  kind: echo
  url: "https://a.example/${PATH_PART}"
  retries: ${RETRIES}
  headers: {Authorization: "Bearer ${TOKEN}", Cost: "$$5"}
b: {kind: echo, url: "https://b.example", timeout: 5s}
`
	reg, err := Build(testKinds(), "gw.yaml", node(t, src), Deps{
		LookupEnv: env(map[string]string{"TOKEN": "s3cret", "PATH_PART": "x", "RETRIES": "3"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Names(), ","); got != "a,b" {
		t.Fatalf("names = %s", got)
	}
	ad, _ := reg.Lookup("a")
	a := ad.(*echo)
	if a.cfg.URL != "https://a.example/x" || a.cfg.Retries != 3 || a.cfg.Timeout != 2*time.Second ||
		a.cfg.Headers["Authorization"] != "Bearer s3cret" || a.cfg.Headers["Cost"] != "$5" {
		t.Errorf("a = %+v", a.cfg)
	}
	if a.in.Name != "a" || strings.Join(a.in.Secrets, ",") != "s3cret" {
		t.Errorf("instance = %q %q", a.in.Name, a.in.Secrets)
	}
	bd, _ := reg.Lookup("b")
	if b := bd.(*echo); b.cfg.Timeout != 5*time.Second || len(b.in.Secrets) != 0 {
		t.Errorf("b = %+v", b.cfg)
	}
}

func TestBuildEmpty(t *testing.T) {
	for _, src := range []string{"", "~", "{}"} {
		var n *yaml.Node
		if src != "" {
			n = node(t, src)
		}
		reg, err := Build(testKinds(), "gw.yaml", n, Deps{})
		if err != nil || len(reg.Names()) != 0 {
			t.Errorf("%q: %v, %v", src, reg.Names(), err)
		}
	}
}

func TestBuildProblems(t *testing.T) {
	const src = `prices:
  kind: echo
  url: "http://insecure/${TOKEN}"
  timeout: 0s
  retry: {backoff: 2m}
  extra: 1
jobs: {kind: nope}
crm: {url: "https://x"}
Bad-Name: {kind: echo}
secret:
  kind: echo
  url: "${MISSING}"
  headers: {A: "${ALSO_MISSING}-${TOKEN}", B: "${not valid}"}
files: {kind: echo, url: "https://x", headers: {Bad: "x"}}
check: {kind: picky}
list: [1, 2]
`
	reg, err := Build(testKinds(), "gw.yaml", node(t, src), Deps{
		LookupEnv: env(map[string]string{"TOKEN": "tok-123"}),
	})
	if reg != nil || err == nil {
		t.Fatal("Build must fail with a nil registry")
	}
	want := []string{
		`gw.yaml:3:8: adapters.prices.url: want an https URL, got "http://insecure/***" (bad-value)`,
		`gw.yaml:4:12: adapters.prices.timeout: must be positive (bad-value)`,
		`gw.yaml:5:20: adapters.prices.retry.backoff: at most 1m (bad-value)`,
		`gw.yaml:6:3: adapters.prices.extra: unknown key (known: headers, retries, retry, timeout, url) (unknown-field)`,
		`gw.yaml:7:14: adapters.jobs.kind: unknown kind "nope" (known kinds: echo, picky) (unknown-kind)`,
		`gw.yaml:8:6: adapters.crm.kind: required (known kinds: echo, picky) (missing-field)`,
		`gw.yaml:9:1: adapters.Bad-Name: adapter names are lower-case identifiers ([a-z][a-z0-9_]*) (bad-value)`,
		`gw.yaml:12:8: adapters.secret.url: environment variable MISSING is not set (missing-env)`,
		`gw.yaml:13:16: adapters.secret.headers.A: environment variable ALSO_MISSING is not set (missing-env)`,
		`gw.yaml:13:47: adapters.secret.headers.B: malformed reference "${not valid}": want ${NAME} (bad-value)`,
		`gw.yaml:14:54: adapters.files.headers.Bad: data.yaml:3:1: a: one (bad-value)`,
		`gw.yaml:14:54: adapters.files.headers.Bad: data.yaml:4:1: b: two (bad-value)`,
		`gw.yaml:15:8: adapters.check: data file has no markets (bad-value)`,
		`gw.yaml:16:7: adapters.list: want a mapping with kind and its settings (wrong-type)`,
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "tok-123") {
		t.Error("a secret leaked into a problem")
	}
	for _, e := range flatten(err) {
		var p *Problem
		if !errors.As(e, &p) || p.Line == 0 {
			t.Errorf("not a positioned *Problem: %v", e)
		}
	}
}

func TestBuildNotAMapping(t *testing.T) {
	_, err := Build(testKinds(), "gw.yaml", node(t, "[a]"), Deps{})
	if err == nil || err.Error() != "gw.yaml:1:1: adapters: want a mapping from adapter name to its settings (wrong-type)" {
		t.Errorf("err = %v", err)
	}
}

func TestInstancePathAndRedact(t *testing.T) {
	in := Instance{Deps: Deps{Dir: "/etc/gw"}, Secrets: []string{"abcdef", "abc"}}
	if got := in.Path("data/p.yaml"); got != "/etc/gw/data/p.yaml" {
		t.Errorf("Path = %q", got)
	}
	if got := in.Path("/abs.yaml"); got != "/abs.yaml" {
		t.Errorf("Path = %q", got)
	}
	if got := in.Redact("x abcdef abc"); got != "x *** ***" {
		t.Errorf("Redact = %q", got)
	}
}

func TestFieldErrors(t *testing.T) {
	err := errors.Join(
		&FieldError{Field: "ops", Err: &FieldError{Field: "visits.url", Err: errors.New("bad")}},
		fmt.Errorf("plain"))
	var got []string
	for _, fe := range fieldErrors(err, "") {
		got = append(got, fe.Field+"="+fe.Err.Error())
	}
	if strings.Join(got, ";") != "ops.visits.url=bad;=plain" {
		t.Errorf("fieldErrors = %v", got)
	}
}

// FuzzBuild feeds Build arbitrary sections: it never panics, and every
// problem it reports is a *Problem placed in the file.
func FuzzBuild(f *testing.F) {
	f.Add("a: {kind: echo, url: \"https://x/${T}\", timeout: 2s, retry: {backoff: 1s}}\n")
	f.Add("a: {kind: echo, headers: {X: $$${T}}, retries: ${N}}\nb: {kind: picky}\n")
	f.Add("a: &x {kind: echo}\nb: *x\n")
	f.Add("a: {kind: nope}\nB: 1\nc: [1]\n")
	f.Add("a: {kind: echo, url: ${\n")
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		reg, err := Build(testKinds(), "f.yaml", &doc, Deps{LookupEnv: env(map[string]string{"T": "secret-T", "N": "3"})})
		if err == nil {
			if reg == nil {
				t.Fatal("no registry and no error")
			}
			return
		}
		if reg != nil {
			t.Fatal("a registry with problems")
		}
		for _, e := range flatten(err) {
			var p *Problem
			if !errors.As(e, &p) || p.File != "f.yaml" {
				t.Fatalf("not a placed *Problem: %v", e)
			}
		}
		if strings.Contains(err.Error(), "secret-T") {
			t.Fatalf("a secret in %v", err)
		}
	})
}
