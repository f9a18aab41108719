package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd/storetest"
	"github.com/ussdgw/ussdgw/ussd/transcript"
)

var update = flag.Bool("update", false, "rewrite the example transcripts with what the gateway shows")

// outbox keeps the SMS the flows send.
type outbox struct {
	mu   sync.Mutex
	sent []string
}

func (o *outbox) Send(_ context.Context, msisdn, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, text)
	return nil
}

func (o *outbox) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.sent...)
}

// slowAdapters makes the adapters named by "@ slow <name> [op]" take longer
// than any step budget (all their ops, or the one named), and
// "@ fast <name> [op]" undoes it.
type slowAdapters struct {
	next flows.Caller
	mu   sync.Mutex
	slow map[string]bool
}

func (s *slowAdapters) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	s.mu.Lock()
	slow := s.slow[name] || s.slow[name+" "+req.Op]
	s.mu.Unlock()
	if slow {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return s.next.Call(ctx, name, req)
}

func (s *slowAdapters) set(name string, slow bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow[name] = slow
	return nil
}

// TestExampleTranscripts plays every transcript in flows-examples/transcripts
// through the gateway as cmd/ussdgw wires it by default (built-in adapters
// over flows-examples/data), on the in-memory store and on Redis.
func TestExampleTranscripts(t *testing.T) {
	files, _ := filepath.Glob("../../flows-examples/transcripts/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts in flows-examples/transcripts")
	}
	for _, storeName := range []string{"memory", "redis"} {
		for _, file := range files {
			t.Run(storeName+"/"+filepath.Base(file), func(t *testing.T) {
				steps, data, err := transcript.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				s := defaults()
				s.Flows = "../../flows-examples"
				s.StepBudget = 100 * time.Millisecond
				if storeName == "redis" {
					r := storetest.Redis(t)
					s.RedisURL = redisURLFor(t, r)
					s.RedisPrefix = r.Prefix
				}
				clock := transcript.NewClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
				box := &outbox{}
				slow := &slowAdapters{slow: map[string]bool{}}
				a, err := wire(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), wireOptions{
					now:  clock.Now,
					wrap: func(c flows.Caller) flows.Caller { slow.next = c; return slow },
					sms:  box,
				})
				if err != nil {
					t.Fatal(err)
				}
				defer a.close()
				p := &transcript.Player{M: a.manager, Clock: clock, Prefix: t.Name(), Outbox: box.all,
					Hooks: map[string]func(string) error{
						"slow": func(name string) error { return slow.set(name, true) },
						"fast": func(name string) error { return slow.set(name, false) },
					}}
				results, err := p.Play(context.Background(), steps)
				if err != nil {
					t.Fatal(err)
				}
				if *update && storeName == "memory" {
					if err := os.WriteFile(file, transcript.Rewrite(data, results), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				for _, r := range results {
					if r.Step.HasOut && r.Got != r.Step.Want {
						t.Errorf("%s:%d: %s %s\n got:\n%s\nwant:\n%s", filepath.Base(file), r.Step.Line, r.Step.Action, r.Step.Arg, r.Got, r.Step.Want)
					}
				}
			})
		}
	}
}

// redisURLFor returns REDIS_URL, or the embedded server's address.
func redisURLFor(t *testing.T, r *storetest.TestRedis) string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://" + r.Addr()
}
