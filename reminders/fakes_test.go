package reminders

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/health"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// clock is a test clock, moved by hand.
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

// fakeConsent is an in-memory consent registry: numbers to subscriptions.
type fakeConsent struct {
	mu   sync.Mutex
	subs map[string][]subscription
	fail error
}

func newConsent() *fakeConsent { return &fakeConsent{subs: map[string][]subscription{}} }

func (f *fakeConsent) subscribe(msisdn string, s subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[msisdn] = append(f.subs[msisdn], s)
}

func (f *fakeConsent) unsubscribe(msisdn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, msisdn)
}

func (f *fakeConsent) Subscribers(ctx context.Context, topic string, fn func(string, subscription) error) error {
	f.mu.Lock()
	var nums []string
	for n := range f.subs {
		nums = append(nums, n)
	}
	f.mu.Unlock()
	sort.Strings(nums)
	for _, n := range nums {
		subs, _ := f.Subscriptions(ctx, n)
		for _, s := range subs {
			if s.Topic == topic {
				if err := fn(n, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (f *fakeConsent) Subscriptions(_ context.Context, msisdn string) ([]subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]subscription(nil), f.subs[msisdn]...), nil
}

// fakeQueue records every Enqueue call per ID (so a test sees a second
// enqueue even though, like the outbox, it keeps the first only).
type fakeQueue struct {
	mu    sync.Mutex
	calls map[string]int
	msgs  map[string]message
	order []string
	fail  error
}

func newQueue() *fakeQueue { return &fakeQueue{calls: map[string]int{}, msgs: map[string]message{}} }

func (q *fakeQueue) Enqueue(_ context.Context, msgs ...message) ([]string, int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return nil, 0, q.fail
	}
	ids, dups := make([]string, len(msgs)), 0
	for i, m := range msgs {
		if m.ID == "" {
			return nil, 0, errors.New("fake queue: reminders must carry an ID")
		}
		ids[i] = m.ID
		q.calls[m.ID]++
		if _, ok := q.msgs[m.ID]; ok {
			dups++
			continue
		}
		q.msgs[m.ID] = m
		q.order = append(q.order, m.ID)
	}
	return ids, dups, nil
}

func (q *fakeQueue) sent() []message {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]message, len(q.order))
	for i, id := range q.order {
		out[i] = q.msgs[id]
	}
	return out
}

// healthAdapter is the real health adapter over the shipped schedules and
// an in-memory store, on the test clock.
func healthAdapter(t testing.TB, now func() time.Time) *adapters.Registry {
	t.Helper()
	kv := &memKV{m: map[string][]byte{}}
	reg := adapters.NewRegistry()
	c := health.Config{TZ: "Africa/Nairobi", Keep: 24 * time.Hour}
	c.File = "../flows-examples/data/health.yaml"
	a, err := health.New(c, adapters.Instance{Deps: adapters.Deps{KV: kv, Now: now, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("health", a); err != nil {
		t.Fatal(err)
	}
	return reg
}

// memKV is an adapters.KV in memory that ignores TTLs: the registrations
// of the tests live on the test clock, not the wall clock.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *memKV) Get(_ context.Context, keys ...string) ([][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, key := range keys {
		out[i] = k.m[key]
	}
	return out, nil
}

func (k *memKV) Set(_ context.Context, key string, val []byte, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if val == nil {
		delete(k.m, key)
	} else {
		k.m[key] = val
	}
	return nil
}

func (k *memKV) Swap(_ context.Context, key string, old, val []byte, _ time.Duration) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.m[key]; ok != (old != nil) || string(cur) != string(old) {
		return false, nil
	}
	k.m[key] = val
	return true, nil
}

var quiet = logcheck.Discard()
