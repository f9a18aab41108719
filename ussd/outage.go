package ussd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrUnavailable marks a store failure that is an outage of the store
// (Redis does not answer, or the circuit breaker is open): callers answer
// the user at once and do not log it per request; the store logs the
// outage once per state change.
var ErrUnavailable = errors.New("session store unavailable")

// OutageOptions configure RedisStore.Protect.
type OutageOptions struct {
	// Timeout bounds each Redis command (300 ms): a step waits that long
	// at most before it knows Redis is not answering.
	Timeout time.Duration
	// Failures in a row that open the circuit (3).
	Failures uint32
	// Probe is how long the circuit stays open before one request tries
	// Redis again (1 s): the time to notice that Redis is back.
	Probe time.Duration
	Log   *slog.Logger
}

// Defaults of OutageOptions.
const (
	DefaultRedisTimeout = 300 * time.Millisecond
	defaultFailures     = 3
	defaultProbe        = time.Second
)

// breaker is a circuit breaker around the store's commands, with the
// outage's story for /readyz and the log.
type breaker struct {
	cb      *gobreaker.CircuitBreaker[any]
	timeout time.Duration
	probe   time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	since   time.Time // start of the outage (zero when closed)
	lastErr error
	logged  bool // the outage's "open" line is out
}

// callerGone is an error of a command whose caller went away: not Redis's
// fault, so it does not count against it.
type callerGone struct{ err error }

func (c callerGone) Error() string { return c.err.Error() }
func (c callerGone) Unwrap() error { return c.err }

func newBreaker(o OutageOptions) *breaker {
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.Failures == 0 {
		o.Failures = defaultFailures
	}
	if o.Probe <= 0 {
		o.Probe = defaultProbe
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &breaker{timeout: o.Timeout, probe: o.Probe, log: o.Log.With("comp", "store")}
	b.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: 1, // one probe at a time while half-open
		Timeout:     o.Probe,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsExcluded: func(err error) bool {
			var g callerGone
			return errors.As(err, &g)
		},
		OnStateChange: b.changed,
	})
	return b
}

// changed logs an outage once when it starts and once when it ends; the
// probes in between (open, half-open, open again) are debug lines.
func (b *breaker) changed(_ string, from, to gobreaker.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch to {
	case gobreaker.StateOpen:
		if b.since.IsZero() {
			b.since = time.Now()
		}
		if !b.logged {
			b.logged = true
			b.log.Error("redis is not answering: circuit open, USSD users get the 'unavailable' screen at once until it is back",
				"err", b.lastErr, "probe_every", b.probe)
			return
		}
		b.log.Debug("redis probe failed; circuit open again", "err", b.lastErr)
	case gobreaker.StateHalfOpen:
		b.log.Debug("probing redis: circuit half-open")
	case gobreaker.StateClosed:
		if b.logged {
			b.log.Info("redis answers again: circuit closed", "outage", time.Since(b.since).Round(time.Millisecond))
		}
		b.since, b.lastErr, b.logged = time.Time{}, nil, false
	}
}

// guarded runs one command with the per-command deadline, through the
// breaker. The command runs on its own goroutine and the deadline is
// enforced here: go-redis's autopipeliner waits for its batch whatever the
// context says, and a caller must not wait with it. A command given up on
// finishes (or fails) in the background; its result is dropped.
func guarded[T any](b *breaker, ctx context.Context, what string, fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	out, err := b.cb.Execute(func() (any, error) {
		cctx, cancel := context.WithTimeout(ctx, b.timeout)
		defer cancel()
		done := make(chan result, 1)
		go func() {
			v, err := fn(cctx)
			done <- result{v, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-cctx.Done():
			r.err = cctx.Err()
		}
		if r.err != nil && ctx.Err() != nil {
			return nil, callerGone{r.err}
		}
		if r.err != nil {
			b.mu.Lock()
			b.lastErr = r.err
			b.mu.Unlock()
			return nil, r.err
		}
		return r.v, nil
	})
	var v T
	if err == nil {
		v = out.(T)
	}
	var gone callerGone
	switch {
	case err == nil:
		return v, nil
	case errors.As(err, &gone):
		return v, fmt.Errorf("redis %s: %w", what, gone.err)
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return v, fmt.Errorf("redis %s: %w (circuit open)", what, ErrUnavailable)
	}
	return v, fmt.Errorf("redis %s: %w: %w", what, ErrUnavailable, err)
}

// check says why the store cannot serve, in words fit for /readyz (no
// address, no raw error), or nil.
func (b *breaker) check(ctx context.Context, ping func(ctx context.Context) error) error {
	_, err := guarded(b, ctx, "ping", func(ctx context.Context) (struct{}, error) { return struct{}{}, ping(ctx) })
	if err == nil {
		return nil
	}
	b.mu.Lock()
	since := b.since
	b.mu.Unlock()
	if !since.IsZero() {
		return fmt.Errorf("session store (redis) unavailable for %s: circuit open, probing every %s", time.Since(since).Round(time.Second), b.probe)
	}
	return errors.New("session store (redis) does not answer")
}
