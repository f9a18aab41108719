package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/logcheck"
	"github.com/ussdgw/ussdgw/lifecycle"
)

// The phases run in order: the listener closes at once while a request in
// progress is still answered, the background workers are stopped only
// after the drain, the closers last; each phase is logged once.
func TestShutdownPhases(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	inHandler := make(chan struct{})
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		io.WriteString(w, "answered")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	var logs bytes.Buffer
	a := &app{life: newLife(logcheck.Wrap(t, slog.NewTextHandler(&logs, nil)))}
	ctx := context.Background()
	start := func(p lifecycle.Part) {
		t.Helper()
		if err := a.life.Start(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Started in the gateway's order: stores, sessions, workers, listener.
	start(closeOnly("store", func() { note("close") }))
	start(lifecycle.Part{Name: "sessions", Stop: stops{phaseDrain: func(context.Context) error { note("drain"); return nil }}})
	start(workerPart("queue", func(ctx context.Context) error {
		<-ctx.Done()
		note("worker stopped")
		return ctx.Err()
	}))
	start(lifecycle.Part{Name: "smpp", Stop: stops{phaseIntake: func(context.Context) error {
		note("intake")
		// The listener is closed now: a new connection is refused.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Error("the listener still accepts in phase 1")
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(release) // the request in progress may finish now
		return nil
	}}})
	errc := make(chan error, 1)
	start(httpPart(srv, ln, func() { note("down") }, errc))
	<-inHandler
	if err := a.shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "answered" {
		t.Errorf("the request in progress got %q", s)
	}
	want := "down intake drain worker stopped close"
	if s := strings.Join(order, " "); s != want {
		t.Errorf("order %q, want %q", s, want)
	}
	for _, p := range []string{`phase="stop taking new work"`, `phase="answer acknowledged steps"`, `phase="hand queue entries back"`, `phase=close`} {
		if n := strings.Count(logs.String(), p+" took="); n != 1 {
			t.Errorf("%s logged %d times with its duration:\n%s", p, n, logs.String())
		}
	}
}

// A phase that ignores its context cannot hold the process: the watchdog
// returns a little after the timeout.
func TestShutdownWatchdog(t *testing.T) {
	var logs bytes.Buffer
	a := &app{life: newLife(logcheck.Wrap(t, slog.NewTextHandler(&logs, nil)))}
	stuck := make(chan struct{})
	defer close(stuck)
	if err := a.life.Start(context.Background(), lifecycle.Part{Name: "stuck", Stop: stops{phaseDrain: func(context.Context) error { <-stuck; return nil }}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := a.shutdown(100 * time.Millisecond)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Errorf("shutdown with a stuck phase: %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the watchdog fired after %s", took)
	}
	if !strings.Contains(logs.String(), "shutdown watchdog") {
		t.Errorf("no watchdog line:\n%s", logs.String())
	}
}

// A phase that fails is logged with its error, and the others still run.
func TestShutdownPhaseError(t *testing.T) {
	var logs bytes.Buffer
	a := &app{life: newLife(logcheck.Wrap(t, slog.NewTextHandler(&logs, nil)))}
	closed := false
	err := a.life.Start(context.Background(),
		closeOnly("store", func() { closed = true }),
		lifecycle.Part{Name: "sessions", Stop: stops{phaseDrain: func(ctx context.Context) error { return errors.New("3 steps unanswered") }}})
	if err != nil {
		t.Fatal(err)
	}
	err = a.shutdown(time.Second)
	if err == nil || !strings.Contains(err.Error(), "sessions: 3 steps unanswered") {
		t.Errorf("err %v", err)
	}
	if !closed || !strings.Contains(logs.String(), `level=WARN msg="shutdown phase" phase="answer acknowledged steps"`) {
		t.Errorf("closed %v, logs:\n%s", closed, logs.String())
	}
}
