package smpp

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// testConfig is a Config with short timers for tests against addr.
func testConfig(addr string) Config {
	c := Defaults()
	c.Name = "test"
	c.Address = addr
	c.SystemID = "test"
	c.Password = "secret"
	c.Sources = []Source{{Addr: "384", TON: 3, NPI: 0}}
	c.EnquireLink = 5 * time.Second
	c.Timeouts = Timeouts{Bind: 3 * time.Second, Response: 5 * time.Second, Write: 2 * time.Second}
	c.Reconnect = Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.Retry = Retry{MaxAttempts: 5, Backoff: Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}, DedupeWindow: 2 * time.Second}
	c.Inbound.HandlerTimeout = 2 * time.Second
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	return logcheck.Wrap(t, slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startClient starts a Client, waits for its bind and closes it at cleanup.
func startClient(t testing.TB, cfg Config, h Handler, opts ...Option) *Client {
	t.Helper()
	c, err := New(cfg, h, append([]Option{WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitBound(ctx); err != nil {
		t.Fatalf("%v (status %+v)", err, c.Status())
	}
	return c
}

// ctxT returns a context that ends with the test or after d.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond until it holds or d passes; for state that has no
// event to wait on (a Client's counters).
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// inbox is a Handler that hands every PDU to a channel and answers status.
type inbox struct {
	ch     chan *Inbound
	status CommandStatus
}

func newInbox() *inbox { return &inbox{ch: make(chan *Inbound, 100)} }

func (b *inbox) HandleInbound(_ context.Context, in *Inbound) CommandStatus {
	b.ch <- in
	return b.status
}

func (b *inbox) next(t testing.TB, d time.Duration) *Inbound {
	t.Helper()
	select {
	case in := <-b.ch:
		return in
	case <-time.After(d):
		t.Fatalf("no inbound PDU within %s", d)
		return nil
	}
}

func asError(err error, e **Error) bool { return errors.As(err, e) }
