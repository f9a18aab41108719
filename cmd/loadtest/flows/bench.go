// Package benchflow is the flow of the load tests (bench.yaml, embedded)
// and the screens it shows, so that the load generators and their tests
// take what they expect from the flow itself instead of copies of its
// screens. A load tool's package: it may import anything of ours (it runs
// the flow through package flows), and only commands and their tests
// import it.
package benchflow

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/ussdgw/ussdgw/flows"
)

// YAML is cmd/loadtest/flows/bench.yaml.
//
//go:embed bench.yaml
var YAML []byte

// Code is the USSD code that opens the flow.
const Code = "*777#"

var (
	parsed     *flows.Flow
	parseErr   error
	parseOnce  sync.Once
	screenMemo sync.Map // strings.Join(inputs, "*") -> flows.Screen
)

func flow() (*flows.Flow, error) {
	parseOnce.Do(func() { parsed, parseErr = flows.Parse("bench.yaml", YAML, flows.Options{}) })
	return parsed, parseErr
}

// Screen is the screen the flow shows after the dial and inputs, as the
// gateway would render it (in the flow's default language).
func Screen(inputs []string) (flows.Screen, error) {
	key := strings.Join(inputs, "*")
	if s, ok := screenMemo.Load(key); ok {
		return s.(flows.Screen), nil
	}
	f, err := flow()
	if err != nil {
		return flows.Screen{}, err
	}
	ctx := context.Background()
	env := &flows.Env{}
	st := &flows.State{Lang: f.DefaultLang}
	s, err := f.Start(ctx, env, st)
	for _, in := range inputs {
		if err != nil {
			break
		}
		s, err = f.Step(ctx, env, st, in)
	}
	if err != nil {
		return flows.Screen{}, fmt.Errorf("bench flow after %q: %w", inputs, err)
	}
	screenMemo.Store(key, s)
	return s, nil
}

// Expect returns, for a dial followed by inputs, the first line of each
// screen: what a load generator checks every screen against.
func Expect(inputs []string) ([]string, error) {
	out := make([]string, 0, len(inputs)+1)
	for i := 0; i <= len(inputs); i++ {
		s, err := Screen(inputs[:i])
		if err != nil {
			return nil, err
		}
		first, _, _ := strings.Cut(s.Text, "\n")
		out = append(out, first)
	}
	return out, nil
}

// Menu answers a dialogue as the gateway serving the flow would: the
// screen after inputs, and whether it ends the session (the Menu shape of
// package smpp/smsc's built-in ESME). An input the flow rejects shows its
// error screen, as the gateway does.
func Menu(code string, inputs []string) (string, bool) {
	s, err := Screen(inputs)
	if err != nil {
		return err.Error(), true
	}
	return s.Text, s.End
}
