package outbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Sender that counts what it sends; fn, when set, decides
// each send (n counts calls from 1).
type recorder struct {
	mu    sync.Mutex
	calls int
	byRef map[string]int
	byTo  map[string]int
	order []string
	fn    func(ctx context.Context, n int, to, text, ref string) error
}

func newRecorder() *recorder { return &recorder{byRef: map[string]int{}, byTo: map[string]int{}} }

func (r *recorder) Deliver(ctx context.Context, to, text, ref string) error {
	r.mu.Lock()
	r.calls++
	n := r.calls
	fn := r.fn
	r.mu.Unlock()
	if fn != nil {
		if err := fn(ctx, n, to, text, ref); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.byRef[ref]++
	r.byTo[to]++
	r.order = append(r.order, ref)
	r.mu.Unlock()
	return nil
}

func (r *recorder) sent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

func (r *recorder) count(ref string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byRef[ref]
}

// start runs q with s until the test ends (or stop is called) and
// checks that Run returned.
func start(t testing.TB, q *Queue, s Sender) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, s) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return within 15s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustStatus(t testing.TB, q *Queue, id string) Status {
	t.Helper()
	st, ok, err := q.Status(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("Status(%s) = %v, %v", id, ok, err)
	}
	return st
}

// tempErr is a temporary send failure; errPerm a permanent one.
type tempErr struct{}

func (tempErr) Error() string   { return "throttled" }
func (tempErr) Retryable() bool { return true }

var errPerm = errors.New("invalid destination address")

func fastBackoff(int) time.Duration { return time.Millisecond }
