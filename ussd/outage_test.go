package ussd_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/ussd"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestBreaker: against a Redis that does not answer (a listener that
// accepts and never replies), a command gives up after the per-command
// deadline, the circuit opens after a few failures, and then commands fail
// at once with ErrUnavailable; the outage is logged once.
func TestBreaker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	defer c.Close()
	var logs lockedBuf
	st := ussd.NewRedisStore(c, "t:")
	st.Protect(ussd.OutageOptions{Timeout: 100 * time.Millisecond, Failures: 3, Probe: time.Hour,
		Log: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	for i := range 3 {
		start := time.Now()
		_, err := st.Get(ctx, "k")
		if d := time.Since(start); !errors.Is(err, ussd.ErrUnavailable) || d > 500*time.Millisecond {
			t.Fatalf("command %d: %v after %s", i, err, d)
		}
	}
	for range 100 {
		start := time.Now()
		if _, err := st.Swap(ctx, "k", nil, []byte("v"), time.Second); !errors.Is(err, ussd.ErrUnavailable) || time.Since(start) > 10*time.Millisecond {
			t.Fatalf("with the circuit open: %v after %s", err, time.Since(start))
		}
	}
	if err := st.Check(ctx); err == nil || !strings.Contains(err.Error(), "circuit open") || strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("check: %v", err)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "circuit open") {
		t.Fatalf("log:\n%s", logs.String())
	}
	// A caller that goes away is not Redis's fault: it does not count.
	st2 := ussd.NewRedisStore(c, "t:")
	st2.Protect(ussd.OutageOptions{Timeout: time.Second, Failures: 1, Probe: time.Hour, Log: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil))})
	for i := range 3 {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := st2.Get(cctx, "k")
		cancel()
		// Had the first counted, the circuit (1 failure) would be open.
		if err == nil || errors.Is(err, ussd.ErrUnavailable) {
			t.Fatalf("caller gone, %d: %v", i, err)
		}
	}
}
