package analytics_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/internal/rediscluster"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"github.com/ussdgw/ussdgw/ussd"
)

// survey is the flow of the scripted sessions: a menu, an input, an
// adapter call with an error branch, and end screens.
const survey = `id: survey
title: Survey
codes: ["*600#"]
languages: [en]
timezone: Africa/Nairobi
nodes:
  main:
    type: menu
    text: Welcome
    options:
      - {label: Register, next: age}
      - {label: Check, next: lookup}
      - {label: Help, next: help}
  age:
    type: input
    text: Your age?
    save: age
    validate: {type: integer, min: 1, max: 120}
    next: done
  lookup:
    type: action
    call: svc
    op: get
    params: {who: "{{msisdn}}"}
    save: res
    next: result
    on_error: failed
  result:
    type: end
    text: Found
  failed:
    type: end
    text: Sorry, try later
  help:
    type: end
    text: Help text
  done:
    type: end
    text: Thanks
`

// svc answers every number but those ending in 9, for which it fails.
type svc struct{}

func (svc) Call(_ context.Context, _ string, req adapters.Request) (adapters.Result, error) {
	if strings.HasSuffix(req.Params["who"], "9") {
		return nil, errors.New("back-end down")
	}
	return map[string]any{"ok": "yes"}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func loadSurvey(t testing.TB) *flows.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "survey.yaml"), []byte(survey), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := flows.Load(dir, flows.Options{Adapters: []string{"svc"}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

type store interface {
	ussd.Store
	ussd.Counter
}

func stores(t *testing.T) map[string]func(t *testing.T) store {
	return map[string]func(t *testing.T) store{
		"memory": func(t *testing.T) store {
			s := ussd.NewMemoryStore()
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) store {
			c, prefix := redistest.Open(t)
			return ussd.NewRedisStore(c, prefix)
		},
		// On a Cluster the counters go in a pipeline after the save: their
		// keys live on other masters than the session's.
		"cluster": func(t *testing.T) store {
			c := rediscluster.Start(t, rediscluster.Options{})
			cl, err := ussd.NewRedisClient(c.URL())
			if err != nil {
				t.Fatal(err)
			}
			s := ussd.NewRedisStore(cl, "test:")
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

var nairobi, _ = time.LoadLocation("Africa/Nairobi")

// rig is a manager with analytics over a store, and a user to play.
type rig struct {
	t   *testing.T
	m   *ussd.Manager
	a   *analytics.Store
	clk *clock
}

func newRig(t *testing.T, st store, set *flows.Set) *rig {
	clk := &clock{}
	a := analytics.New(analytics.Options{Counter: st, Now: clk.Now, Location: func(id string) *time.Location {
		if f, ok := set.Flow(id); ok {
			return f.Location()
		}
		return nil
	}})
	m := ussd.NewManager(ussd.Config{Store: st, Flows: set, Adapters: svc{}, Now: clk.Now, Analytics: a})
	return &rig{t: t, m: m, a: a, clk: clk}
}

// play sends the dial (input "") or the inputs of one dialogue and checks
// the last screen starts with want.
func (r *rig) play(msisdn, sid, want string, inputs ...string) {
	r.t.Helper()
	var resp ussd.Response
	var err error
	for _, in := range inputs {
		req := ussd.Request{SessionID: sid, MSISDN: ussd.MSISDN(msisdn), Input: in}
		if in == "" {
			req = ussd.Request{SessionID: sid, MSISDN: ussd.MSISDN(msisdn), Dialled: "*600#", New: true}
		}
		resp, err = r.m.Handle(context.Background(), req)
		if err != nil {
			r.t.Fatalf("%s %s %q: %v", msisdn, sid, in, err)
		}
	}
	if !strings.HasPrefix(resp.Text, want) {
		r.t.Fatalf("%s %s: got %q, want %q...", msisdn, sid, resp.Text, want)
	}
}

type node struct {
	entered, rejected, steps int64
	choices, exits           map[string]int64
}

type m = map[string]int64

// TestScriptedSessions plays sessions with known drop-offs through the
// real manager, on both stores, and checks every count.
func TestScriptedSessions(t *testing.T) {
	set := loadSurvey(t)
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, newStore(t), set)
			ctx := context.Background()
			day := time.Date(2026, 11, 30, 10, 0, 0, 0, nairobi)
			r.clk.Set(day)
			r.play("254700000001", "a", "Thanks", "", "1", "abc", "30") // rejected once, completes
			r.play("254700000002", "b", "Help", "", "3")                // completes on help
			r.play("254700000003", "c", "Found", "", "2")               // adapter answers
			r.play("254700000009", "d", "Sorry", "", "2")               // adapter fails: error exit
			r.play("254700000005", "e", "Your age", "", "1")            // then the network cuts it
			if err := r.m.Abort(ctx, "254700000005", "e"); err != nil {
				t.Fatal(err)
			}
			if err := r.m.Abort(ctx, "254700000005", "e"); err != nil { // a repeated notice counts once
				t.Fatal(err)
			}
			r.play("254700000006", "f1", "Welcome", "")        // left on main...
			r.play("254700000006", "f2", "Help", "", "2", "3") // ...for a new one: start again, help
			r.play("254700000007", "g", "Welcome", "")         // never comes back: timeout on main
			r.play("254700000008", "h1", "Your age", "", "1")
			r.clk.Add(200 * time.Second) // h1 times out on age; h2 resumes it
			r.play("254700000008", "h2", "Thanks", "", "1", "25")
			// Begun at 23:59:30 in Nairobi, finished after midnight: the
			// day it began.
			r.clk.Set(time.Date(2026, 11, 30, 23, 59, 30, 0, nairobi))
			r.play("254700000010", "i", "Welcome", "")
			r.clk.Add(time.Minute)
			r.play("254700000010", "i", "Help", "3")
			// 01:30 on 1 December in Nairobi is still 30 November in UTC.
			r.clk.Set(time.Date(2026, 12, 1, 1, 30, 0, 0, nairobi))
			r.play("254700000011", "j", "Help", "", "3")

			got, err := r.a.Report(ctx, "survey", day, day)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, 11, 6, map[string]node{
				"main":   {entered: 10, steps: 10, choices: m{"age": 3, "help": 3, "lookup": 2}, exits: m{"elsewhere": 1, "timeout": 1}},
				"age":    {entered: 4, rejected: 1, steps: 5, choices: m{"done": 2}, exits: m{"abort": 1, "timeout": 1}},
				"lookup": {entered: 2, choices: m{"result": 1, "failed": 1}, exits: m{}},
				"result": {entered: 1, steps: 1, choices: m{}, exits: m{"end": 1}},
				"failed": {entered: 1, steps: 1, choices: m{}, exits: m{"error": 1}},
				"help":   {entered: 3, steps: 3, choices: m{}, exits: m{"end": 3}},
				"done":   {entered: 2, steps: 2, choices: m{}, exits: m{"end": 2}},
			})
			if got.From != "2026-11-30" || got.To != "2026-11-30" {
				t.Errorf("range %s..%s", got.From, got.To)
			}
			next := day.AddDate(0, 0, 1)
			got, err = r.a.Report(ctx, "survey", next, next)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, 1, 1, map[string]node{
				"main": {entered: 1, steps: 1, choices: m{"help": 1}, exits: m{}},
				"help": {entered: 1, steps: 1, choices: m{}, exits: m{"end": 1}},
			})
			got, err = r.a.Report(ctx, "survey", day, next)
			if err != nil {
				t.Fatal(err)
			}
			if got.Sessions != 12 || got.Completed != 7 || got.Nodes["help"].Entered != 4 {
				t.Errorf("two days: %d sessions, %d completed, help %+v", got.Sessions, got.Completed, got.Nodes["help"])
			}
			if got.CompletionRate != 7.0/12 {
				t.Errorf("completion rate %v", got.CompletionRate)
			}
		})
	}
}

func check(t *testing.T, r analytics.Report, sessions, completed int64, want map[string]node) {
	t.Helper()
	if r.Sessions != sessions || r.Completed != completed {
		t.Errorf("sessions %d completed %d, want %d %d", r.Sessions, r.Completed, sessions, completed)
	}
	for name, w := range want {
		g := r.Nodes[name]
		if g == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if g.Entered != w.entered || g.Rejected != w.rejected || g.LatencyMs.Count != w.steps ||
			!reflect.DeepEqual(g.Choices, w.choices) || !reflect.DeepEqual(g.Exits, w.exits) {
			t.Errorf("%s: entered %d rejected %d steps %d choices %v exits %v\nwant entered %d rejected %d steps %d choices %v exits %v",
				name, g.Entered, g.Rejected, g.LatencyMs.Count, g.Choices, g.Exits, w.entered, w.rejected, w.steps, w.choices, w.exits)
		}
	}
	for name := range r.Nodes {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected node %s: %+v", name, r.Nodes[name])
		}
	}
}

// countHook counts the commands a client sends.
type countHook struct {
	mu sync.Mutex
	n  int
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.n++ // one round trip
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *countHook) take() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.n
	h.n = 0
	return n
}

// TestNoExtraRoundTrip: a session's steps send as many commands to Redis
// with analytics as without, and the counters expire after the
// retention.
func TestNoExtraRoundTrip(t *testing.T) {
	set := loadSurvey(t)
	c, prefix := redistest.Open(t)
	h := &countHook{}
	c.AddHook(h)
	st := ussd.NewRedisStore(c, prefix)
	a := analytics.New(analytics.Options{Counter: st, Retention: 48 * time.Hour})
	ctx := context.Background()
	run := func(cfg ussd.Config, msisdn string) int {
		m := ussd.NewManager(cfg)
		// Warm the scripts' cache so that both runs use EVALSHA only.
		for _, in := range []string{"", "1", "30"} {
			req := ussd.Request{SessionID: "w" + msisdn, MSISDN: ussd.MSISDN(msisdn + "0"), Input: in}
			if in == "" {
				req.Dialled, req.New = "*600#", true
			}
			if _, err := m.Handle(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		h.take()
		for _, in := range []string{"", "1", "30"} {
			req := ussd.Request{SessionID: "s", MSISDN: ussd.MSISDN(msisdn), Input: in}
			if in == "" {
				req.Dialled, req.New = "*600#", true
			}
			if _, err := m.Handle(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		return h.take()
	}
	without := run(ussd.Config{Store: st, Flows: set, Adapters: svc{}}, "254700000100")
	with := run(ussd.Config{Store: st, Flows: set, Adapters: svc{}, Analytics: a}, "254700000200")
	if with != without {
		t.Errorf("%d commands with analytics, %d without", with, without)
	}
	keys, err := c.Keys(ctx, prefix+"a:survey:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no counter keys: %v %v", keys, err)
	}
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil || ttl <= 47*time.Hour || ttl > 48*time.Hour {
			t.Errorf("%s: ttl %v %v", k, ttl, err)
		}
	}
}
