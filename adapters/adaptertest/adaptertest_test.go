package adaptertest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
)

// fake is a small well-behaved adapter; its flaws are switched on by name.
type fake struct {
	flaw string
	log  *slog.Logger

	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	counter int
}

var crops = map[string]any{"maize": map[string]any{"price": "3,200", "unit": "90kg bag"}}

func (f *fake) Call(ctx context.Context, req adapters.Request) (adapters.Result, error) {
	if f.flaw != "deadline" {
		if err := ctx.Err(); err != nil {
			return nil, &adapters.Error{Kind: adapters.KindTimeout, Err: err}
		}
	}
	if f.flaw == "logs" {
		f.log.Info("call", "msisdn", req.Params["msisdn"])
	}
	switch req.Op {
	case "price":
		crop := req.Params["crop"]
		if crop == "" {
			if f.flaw == "kinds" {
				return nil, errors.New("no crop")
			}
			return nil, adapters.Errorf(adapters.KindInvalid, "missing param crop")
		}
		if f.flaw == "panics" && len(crop) > 1000 {
			panic("too long")
		}
		if f.flaw == "racy" {
			f.counter++
		}
		if f.flaw == "badkeys" {
			return map[string]any{"Price": "3,200"}, nil
		}
		p, ok := crops[crop]
		if !ok {
			return nil, adapters.Errorf(adapters.KindNotFound, "no crop %q", crop)
		}
		return p, nil
	case "login":
		if f.flaw == "secret" {
			return nil, adapters.Errorf(adapters.KindUnavailable, "token tok-SECRET refused")
		}
		return map[string]any{"ok": true}, nil
	}
	return nil, adapters.Errorf(adapters.KindInvalid, "unknown op %q", req.Op)
}

func (f *fake) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		return nil
	}
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		<-stop
	}(f.stop, f.done)
	return nil
}

func (f *fake) Stop(context.Context) error {
	if f.flaw == "leaks" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		close(f.stop)
		<-f.done
		f.stop = nil
	}
	return nil
}

func harness(flaw string) Harness {
	return Harness{
		New: func(t *testing.T, log *slog.Logger) adapters.Adapter {
			return &fake{flaw: flaw, log: log}
		},
		OK: []adapters.Request{
			{Op: "price", Params: map[string]string{"crop": "maize", "msisdn": "254700000001"}},
			{Op: "login"},
		},
		NotFound: []adapters.Request{{Op: "price", Params: map[string]string{"crop": "gold"}}},
		Invalid:  []adapters.Request{{Op: "price"}},
		Secrets:  []string{"tok-SECRET"},
		Private:  []string{"254700000001"},
	}
}

func TestRun(t *testing.T) {
	Run(t, harness(""))
}

// TestFlawed runs the kit on a flawed adapter; TestCatchesFlaws checks
// from outside that it fails, and why.
func TestFlawed(t *testing.T) {
	flaw := os.Getenv("ADAPTERTEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestCatchesFlaws")
	}
	Run(t, harness(flaw))
}

func TestCatchesFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	tests := map[string]string{
		"deadline": "with an expired deadline: kind none",
		"kinds":    "kind unavailable (err no crop",
		"badkeys":  `key "Price" is not a lower-case identifier`,
		"secret":   "a secret appears in",
		"logs":     "a private value appears in",
		"leaks":    "goroutines left after Stop",
		"panics":   "panicked: too long",
	}
	if raceEnabled {
		tests["racy"] = "DATA RACE"
	}
	for flaw, want := range tests {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawed$", "-test.v")
			cmd.Env = append(os.Environ(), "ADAPTERTEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed an adapter that %s", flaw)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		})
	}
}

func TestCheckResult(t *testing.T) {
	tests := []struct {
		res  adapters.Result
		want string
	}{
		{nil, ""},
		{map[string]any{"price": "3,200", "value": 3200, "ok": true, "rate": 1.5}, ""},
		{[]any{map[string]any{"id": "a", "name": "A"}, map[string]any{"id": 2, "name": "B", "x": nil}}, ""},
		{[]any{"a", "b"}, ""},
		{map[string]any{"Price": 1}, `result: key "Price" is not a lower-case identifier`},
		{map[string]any{"a-b": 1}, `result: key "a-b" is not a lower-case identifier`},
		{map[string]any{"n": int64(1)}, "result.n: int64 is not JSON-like"},
		{map[string]any{"l": []string{"a"}}, "result.l: []string is not JSON-like"},
		{[]any{map[string]any{"name": "A"}}, "result.1: a map in a list needs an id (string or int)"},
		{[]any{map[string]any{"id": "a"}}, "result.1: a map in a list needs a name"},
		{[]any{map[string]any{"id": "a", "name": "A"}, "b"}, "result: mixes maps and scalars"},
		{[]any{[]any{"a"}}, "result.1: a list in a list does not flatten"},
		{map[string]any{"s": strings.Repeat("x", 183)}, "result.s: 183 characters, over 182"},
		{map[string]any{"s": "a\tb"}, `result.s: control character in "a\tb"`},
		{map[string]any{"s": "\xff"}, "result.s: invalid UTF-8"},
	}
	for _, tt := range tests {
		got := ""
		if err := CheckResult(tt.res, 182); err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("CheckResult(%#v) = %q, want %q", tt.res, got, tt.want)
		}
	}
}

func TestEmpty(t *testing.T) {
	for _, r := range []adapters.Result{nil, map[string]any{}, []any{}} {
		if !Empty(r) {
			t.Errorf("Empty(%#v) = false", r)
		}
	}
	for _, r := range []adapters.Result{"", 0, false, []any{"a"}} {
		if Empty(r) {
			t.Errorf("Empty(%#v) = true", r)
		}
	}
}

func TestErrKind(t *testing.T) {
	if k := ErrKind(t, adapters.ErrNotFound); k != adapters.KindNotFound {
		t.Errorf("kind %v", k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if k := ErrKind(t, ctx.Err()); k != adapters.KindTimeout {
		t.Errorf("kind %v", k)
	}
}
