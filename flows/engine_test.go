package flows

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
)

type fakeCaller struct {
	res   adapters.Result
	err   error
	delay time.Duration
}

func (c *fakeCaller) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.res, c.err
}

func loadDemo(t *testing.T) *Flow {
	t.Helper()
	data, err := os.ReadFile("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("testdata/demo.yaml", data, Options{Adapters: []string{"fake"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDemoTranscript(t *testing.T) {
	f := loadDemo(t)
	items := []any{map[string]any{"id": "a1", "name": "Alpha"}, map[string]any{"id": "b2", "name": "Beta"}}
	env := &Env{Adapters: &fakeCaller{res: items}, MSISDN: "254700000001", Now: time.Now()}
	st := &State{Lang: "en"}
	s, err := f.Start(context.Background(), env, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%q", s.Text)
	for _, in := range []string{"9", "1", "0", "2", "abc", "30", } {
		s, err = f.Step(context.Background(), env, st, in)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("> %s\n%s (end=%v)", in, s.Text, s.End)
	}
	st = &State{Lang: "en"}
	f.Start(context.Background(), env, st)
	for _, in := range []string{"3", "2"} {
		s, _ = f.Step(context.Background(), env, st, in)
		t.Logf("> %s\n%s (end=%v)", in, s.Text, s.End)
	}
	st = &State{Lang: "en"}
	f.Start(context.Background(), env, st)
	for _, in := range []string{"4", "2", "1", "3"} {
		s, _ = f.Step(context.Background(), env, st, in)
		t.Logf("> %s\n%s (end=%v) st=%+v", in, s.Text, s.End, st)
	}
	_ = strings.TrimSpace
}
