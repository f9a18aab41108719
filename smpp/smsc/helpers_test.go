package smsc

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// startServer starts a Server on a random port and closes it at cleanup.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = logcheck.Wrap(t, slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clientConfig is an smpp.Config for a fake ESME with short timers.
func clientConfig(name, addr string) smpp.Config {
	c := smpp.Defaults()
	c.Name, c.Address, c.SystemID, c.Password = name, addr, "ussdgw", "secret"
	c.Sources = []smpp.Source{{Addr: "384", TON: 3, NPI: 0}}
	c.EnquireLink = 5 * time.Second
	c.Timeouts = smpp.Timeouts{Bind: 3 * time.Second, Response: 3 * time.Second, Write: 2 * time.Second}
	c.Reconnect = smpp.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.Retry = smpp.Retry{MaxAttempts: 10, Backoff: smpp.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, DedupeWindow: 2 * time.Second}
	c.Inbound.HandlerTimeout = 3 * time.Second
	return c
}

// startESME starts a phase 1 smpp.Client as the ESME, waits for its bind
// and closes it at cleanup.
func startESME(t testing.TB, cfg smpp.Config, h smpp.Handler) *smpp.Client {
	t.Helper()
	c, err := smpp.New(cfg, h, smpp.WithLogger(logcheck.Wrap(t, slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitBound(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// recv waits for a value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		var zero T
		return zero
	}
}

// rawESME is a bare TCP connection that writes and reads frames: for
// binds, bad credentials and malformed PDUs.
type rawESME struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, addr string) *rawESME {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawESME{t, nc}
}

func (r *rawESME) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawESME) read() frame {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := readFrame(r.nc, 1<<20)
	if err != nil {
		r.t.Fatalf("reading: %v", err)
	}
	return f
}

// bindBody is a bind_* body.
func bindBody(systemID, password string) []byte {
	b := cString(systemID)
	b = append(b, cString(password)...)
	b = append(b, 0)       // system_type
	b = append(b, 0x34)    // interface_version
	b = append(b, 0, 0, 0) // addr_ton, addr_npi, address_range
	return b
}
