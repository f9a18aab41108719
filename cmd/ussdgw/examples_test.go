package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd/storetest"
	"github.com/ussdgw/ussdgw/ussd/transcript"

	"github.com/ussdgw/ussdgw/internal/logcheck"
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
				a, err := wire(context.Background(), s, logcheck.New(t), wireOptions{
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
						// @ subscribed <msisdn> <service> <topic> [k=v ...]: that
						// subscription is in the consent registry, with those params
						// (and lang=).
						"subscribed": func(arg string) error { return checkSubscribed(a.consent, arg, true) },
						// @ unsubscribed <msisdn> <service> <topic>: it is not.
						"unsubscribed": func(arg string) error { return checkSubscribed(a.consent, arg, false) },
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

// checkSubscribed checks the consent registry for "msisdn service topic
// [k=v...]" (lang=xx is the subscription's language, the others its params).
func checkSubscribed(reg *consent.Registry, arg string, want bool) error {
	f := strings.Fields(arg)
	if len(f) < 3 {
		return fmt.Errorf("want: msisdn service topic [k=v...], got %q", arg)
	}
	subs, err := reg.Subscriptions(context.Background(), f[0])
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.Service != f[1] || s.Topic != f[2] {
			continue
		}
		if !want {
			return fmt.Errorf("%s is still subscribed to %s/%s", f[0], f[1], f[2])
		}
		got := map[string]string{"lang": s.Lang}
		maps.Copy(got, s.Params)
		for _, kv := range f[3:] {
			k, v, _ := strings.Cut(kv, "=")
			if got[k] != v {
				return fmt.Errorf("subscription %s/%s of %s: %s=%q, want %q (all: %v)", f[1], f[2], f[0], k, got[k], v, got)
			}
		}
		if len(got) != len(f[3:]) {
			return fmt.Errorf("subscription %s/%s of %s has %v, the transcript names %v", f[1], f[2], f[0], got, f[3:])
		}
		return nil
	}
	if want {
		return fmt.Errorf("%s is not subscribed to %s/%s (has %+v)", f[0], f[1], f[2], subs)
	}
	return nil
}

// redisURLFor returns REDIS_URL, or the embedded server's address.
func redisURLFor(t *testing.T, r *storetest.TestRedis) string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://" + r.Addr()
}
