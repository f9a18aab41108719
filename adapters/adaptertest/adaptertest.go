// Package adaptertest checks that an adapters.Adapter keeps the contract
// flows rely on, the way testing/slogtest checks a slog.Handler. It
// imports only package adapters and test helpers; it must not import flows,
// ussd or a transport.
//
// Every adapter, built-in or not, should pass Run:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Harness{
//			New:      func(t *testing.T, log *slog.Logger) adapters.Adapter { ... },
//			OK:       []adapters.Request{{Op: "latest", Params: map[string]string{"commodity": "maize", "market": "kisumu"}}},
//			NotFound: []adapters.Request{{Op: "latest", Params: map[string]string{"commodity": "gold", "market": "kisumu"}}},
//			Invalid:  []adapters.Request{{Op: "latest"}},
//		})
//	}
//
// Run checks that results are JSON-like and flatten into flow variables,
// that failures are classified, that an expired deadline is honoured at
// once (and a hanging back-end within the deadline), that concurrent calls
// are safe (run it with -race), that odd params never panic, that no
// secret or private value reaches an error or a log record, and that
// Start and Stop are idempotent and leave no goroutine behind.
//
// Run must not run in parallel with other tests of its package: it counts
// goroutines.
package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// Harness describes the adapter under test.
type Harness struct {
	// New returns a fresh adapter whose logs go to logger. Run calls it for
	// each check, then Start (if the adapter has it) and, at cleanup, Stop.
	// New may prepare per-user state (register a user) before returning;
	// shared dependencies that run goroutines (a store, a test server)
	// belong outside it, made before Run.
	New func(t *testing.T, logger *slog.Logger) adapters.Adapter

	// OK are requests that succeed with a non-empty result. Every request
	// of the harness is called many times and must give the same outcome
	// each time.
	OK []adapters.Request
	// NotFound are well-formed requests for something that does not exist:
	// each must fail with adapters.KindNotFound.
	NotFound []adapters.Request
	// Invalid are wrong requests (a param missing or malformed): each must
	// fail with adapters.KindInvalid. Run adds an unknown op.
	Invalid []adapters.Request
	// Slow, if not nil, is a request that the back-end takes long to
	// answer (a hanging test server): with a 100ms deadline it must fail
	// with adapters.KindTimeout within 600ms.
	Slow *adapters.Request

	// Secrets (tokens, keys) must appear in no error text and no log record.
	Secrets []string
	// Private values (the MSISDNs of the requests) must not either.
	Private []string

	// MaxString bounds the length in characters of a string in a result:
	// 0 means 182 (one USSD screen); -1 means no bound.
	MaxString int
}

// Run runs the conformance checks as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || len(h.OK) == 0 {
		t.Fatal("adaptertest: Harness needs New and at least one OK request")
	}
	r := &runner{h: h}
	if r.h.MaxString == 0 {
		r.h.MaxString = 182
	}
	r.h.Invalid = append(r.h.Invalid, adapters.Request{Op: "adaptertest_no_such_op", Params: r.h.OK[0].Params})
	t.Run("Results", r.results)
	t.Run("Errors", r.errors)
	t.Run("Deadline", r.deadline)
	t.Run("Concurrent", r.concurrent)
	t.Run("OddParams", r.oddParams)
	t.Run("Lifecycle", r.lifecycle)
	t.Run("NoSecrets", r.noSecrets)
}

type runner struct {
	h Harness

	mu       sync.Mutex
	logs     bytes.Buffer // every log record of every adapter made
	errTexts []string     // every error text seen
}

func (r *runner) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.Write(p)
}

func (r *runner) sawError(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	r.errTexts = append(r.errTexts, err.Error())
	r.mu.Unlock()
}

// adapter makes, starts and (at cleanup) stops an adapter.
func (r *runner) adapter(t *testing.T) adapters.Adapter {
	t.Helper()
	log := logcheck.Wrap(t, slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := r.h.New(t, log)
	if a == nil {
		t.Fatal("New returned nil")
	}
	if s, ok := a.(adapters.Starter); ok {
		if err := s.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if s, ok := a.(adapters.Stopper); ok {
		t.Cleanup(func() {
			if err := s.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	return a
}

func (r *runner) call(ctx context.Context, a adapters.Adapter, req adapters.Request) (res adapters.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("adaptertest: %s panicked: %v", describe(req), p)
		}
		r.sawError(err)
	}()
	return a.Call(ctx, req)
}

func describe(req adapters.Request) string {
	return fmt.Sprintf("op %q %v", req.Op, req.Params)
}

func (r *runner) results(t *testing.T) {
	a := r.adapter(t)
	for _, req := range r.h.OK {
		res, err := r.call(context.Background(), a, req)
		if err != nil {
			t.Errorf("%s: %v", describe(req), err)
			continue
		}
		if Empty(res) {
			t.Errorf("%s: empty result %#v", describe(req), res)
		}
		if err := CheckResult(res, r.h.MaxString); err != nil {
			t.Errorf("%s: %v", describe(req), err)
		}
		again, err := r.call(context.Background(), a, req)
		if err != nil || !reflect.DeepEqual(res, again) {
			t.Errorf("%s: a second call gave %#v, %v; the first %#v", describe(req), again, err, res)
		}
	}
}

func (r *runner) errors(t *testing.T) {
	a := r.adapter(t)
	check := func(reqs []adapters.Request, want adapters.Kind) {
		for _, req := range reqs {
			res, err := r.call(context.Background(), a, req)
			if got := adapters.KindOf(err); got != want {
				t.Errorf("%s: kind %v (err %v, result %#v), want %v", describe(req), got, err, res, want)
				continue
			}
			if err.Error() == "" {
				t.Errorf("%s: empty error text", describe(req))
			}
		}
	}
	check(r.h.NotFound, adapters.KindNotFound)
	check(r.h.Invalid, adapters.KindInvalid)
}

func (r *runner) all() []adapters.Request {
	var all []adapters.Request
	all = append(all, r.h.OK...)
	all = append(all, r.h.NotFound...)
	return append(all, r.h.Invalid...)
}

func (r *runner) deadline(t *testing.T) {
	a := r.adapter(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, req := range r.all() {
		start := time.Now()
		_, err := r.call(ctx, a, req)
		if el := time.Since(start); el > 100*time.Millisecond {
			t.Errorf("%s: took %v past its deadline", describe(req), el)
		}
		if got := adapters.KindOf(err); got != adapters.KindTimeout {
			t.Errorf("%s with an expired deadline: kind %v (%v), want timeout", describe(req), got, err)
		}
	}
	if r.h.Slow == nil {
		return
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.call(ctx, a, *r.h.Slow)
	if el := time.Since(start); el > 600*time.Millisecond {
		t.Errorf("slow %s: took %v with a 100ms deadline", describe(*r.h.Slow), el)
	}
	if got := adapters.KindOf(err); got != adapters.KindTimeout {
		t.Errorf("slow %s: kind %v (%v), want timeout", describe(*r.h.Slow), got, err)
	}
}

func (r *runner) concurrent(t *testing.T) {
	a := r.adapter(t)
	type outcome struct {
		kind adapters.Kind
		res  adapters.Result
	}
	reqs := r.all()
	want := make([]outcome, len(reqs))
	for i, req := range reqs {
		res, err := r.call(context.Background(), a, req)
		want[i] = outcome{adapters.KindOf(err), res}
	}
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan string, workers*len(reqs))
	for w := range workers {
		wg.Go(func() {
			for n := range rounds {
				i := (w + n) % len(reqs)
				res, err := r.call(context.Background(), a, reqs[i])
				if k := adapters.KindOf(err); k != want[i].kind || !reflect.DeepEqual(res, want[i].res) {
					select {
					case errs <- fmt.Sprintf("%s: concurrently got %v %#v, alone %v %#v",
						describe(reqs[i]), k, res, want[i].kind, want[i].res):
					default:
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

var oddValues = []string{
	"", " ", "0", "-1", "99999999999999999999", "1e309", "NaN", "../../etc/passwd", "{{msisdn}}",
	"%00%ff", "a\x00b", "\xff\xfe", "ዋጋ ምንድን ነው", "'; DROP TABLE x; --", strings.Repeat("x", 10000),
}

func (r *runner) oddParams(t *testing.T) {
	a := r.adapter(t)
	for _, base := range append(r.h.OK, adapters.Request{Op: r.h.OK[0].Op}) {
		reqs := []adapters.Request{{Op: base.Op}}
		for k := range base.Params {
			for _, v := range oddValues {
				p := make(map[string]string, len(base.Params))
				for k2, v2 := range base.Params {
					p[k2] = v2
				}
				p[k] = v
				reqs = append(reqs, adapters.Request{Op: base.Op, Params: p})
			}
		}
		for _, req := range reqs {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := r.call(ctx, a, req)
			cancel()
			if err != nil && strings.HasPrefix(err.Error(), "adaptertest:") {
				t.Error(err)
				continue
			}
			if err == nil {
				if cerr := CheckResult(res, r.h.MaxString); cerr != nil {
					t.Errorf("op %q with odd params: %v", req.Op, cerr)
				}
			}
		}
	}
}

func (r *runner) lifecycle(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	log := logcheck.Wrap(t, slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := r.h.New(t, log)
	ctx := context.Background()
	starter, canStart := a.(adapters.Starter)
	stopper, canStop := a.(adapters.Stopper)
	if canStart {
		for i := range 2 {
			if err := starter.Start(ctx); err != nil {
				t.Fatalf("Start #%d: %v", i+1, err)
			}
		}
	}
	if _, err := r.call(ctx, a, r.h.OK[0]); err != nil {
		t.Errorf("after Start: %s: %v", describe(r.h.OK[0]), err)
	}
	if canStop {
		for i := range 2 {
			if err := stopper.Stop(ctx); err != nil {
				t.Errorf("Stop #%d: %v", i+1, err)
			}
		}
	}
	if canStart && !canStop {
		t.Error("the adapter has Start but no Stop")
	}
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Stop: %v", err)
	}
}

func (r *runner) noSecrets(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	texts := append([]string{r.logs.String()}, r.errTexts...)
	for _, s := range texts {
		for _, sec := range r.h.Secrets {
			if sec != "" && strings.Contains(s, sec) {
				t.Errorf("a secret appears in %q", clip(s, sec))
			}
		}
		for _, p := range r.h.Private {
			if p != "" && strings.Contains(s, p) {
				t.Errorf("a private value appears in %q", clip(s, p))
			}
		}
	}
}

// clip shows the part of s around what was found, with it masked.
func clip(s, found string) string {
	i := strings.Index(s, found)
	lo, hi := max(0, i-60), min(len(s), i+len(found)+60)
	return strings.Replace(s[lo:hi], found, "<HERE>", 1)
}

// Empty reports whether res is an "empty" outcome for a flow: nil, an
// empty map or an empty list.
func Empty(res adapters.Result) bool {
	switch v := res.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// CheckResult reports the first way res breaks the Result rules: only
// map[string]any, []any, string, bool, int, float64 and nil; keys that are
// lower-case identifiers; lists of scalars or of maps with "id" and
// "name"; strings of at most maxString characters (maxString < 0: any)
// and free of control characters other than newline; at most 5 levels.
func CheckResult(res adapters.Result, maxString int) error {
	return check(res, "result", maxString, 0)
}

func check(v any, path string, maxString, depth int) error {
	if depth > 5 {
		return fmt.Errorf("%s: nested deeper than 5 levels", path)
	}
	switch v := v.(type) {
	case nil, bool, int:
		return nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: %v is not a JSON number", path, v)
		}
		return nil
	case string:
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s: invalid UTF-8", path)
		}
		if maxString >= 0 && utf8.RuneCountInString(v) > maxString {
			return fmt.Errorf("%s: %d characters, over %d", path, utf8.RuneCountInString(v), maxString)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }) {
			return fmt.Errorf("%s: control character in %q", path, v)
		}
		return nil
	case map[string]any:
		for k, e := range v {
			if !keyRE.MatchString(k) {
				return fmt.Errorf("%s: key %q is not a lower-case identifier", path, k)
			}
			if err := check(e, path+"."+k, maxString, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []any:
		maps := 0
		for i, e := range v {
			p := fmt.Sprintf("%s.%d", path, i+1)
			if m, ok := e.(map[string]any); ok {
				maps++
				if id, ok := m["id"]; !ok || id == "" || (reflect.TypeOf(id).Kind() != reflect.String && reflect.TypeOf(id).Kind() != reflect.Int) {
					return fmt.Errorf("%s: a map in a list needs an id (string or int)", p)
				}
				if name, ok := m["name"].(string); !ok || name == "" {
					return fmt.Errorf("%s: a map in a list needs a name", p)
				}
			} else if _, ok := e.([]any); ok {
				return fmt.Errorf("%s: a list in a list does not flatten", p)
			}
			if err := check(e, p, maxString, depth+1); err != nil {
				return err
			}
		}
		if maps != 0 && maps != len(v) {
			return fmt.Errorf("%s: mixes maps and scalars", path)
		}
		return nil
	}
	return fmt.Errorf("%s: %T is not JSON-like (want map[string]any, []any, string, bool, int, float64)", path, v)
}

// ErrKind is a helper for table tests: it returns the kind of err and
// fails t if err is not classified the way an adapter's errors must be
// (an *adapters.Error in the chain, or a context error).
func ErrKind(t testing.TB, err error) adapters.Kind {
	t.Helper()
	if err == nil {
		return adapters.KindNone
	}
	var e *adapters.Error
	if !errors.As(err, &e) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unclassified error %v (%T)", err, err)
	}
	return adapters.KindOf(err)
}
