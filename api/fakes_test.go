package api

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/outbox"
)

// fakeOutbox is an in-memory outbox for the handlers' unit tests: all or
// nothing per Enqueue, duplicates by id, groups counted and cancellable.
// failAt makes the failAt-th Enqueue call fail (a Redis outage mid-way).
type fakeOutbox struct {
	mu        sync.Mutex
	msgs      map[string]Message
	order     []string
	calls     int
	failAt    int
	cancelled map[string]bool
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{msgs: map[string]Message{}, cancelled: map[string]bool{}}
}

var errDown = errors.New("dial tcp 127.0.0.1:1: connection refused")

func (o *fakeOutbox) Enqueue(_ context.Context, msgs ...Message) ([]string, int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.failAt > 0 && o.calls >= o.failAt {
		return nil, 0, errDown
	}
	ids := make([]string, len(msgs))
	dups := 0
	for i, m := range msgs {
		ids[i] = m.ID
		if _, ok := o.msgs[m.ID]; ok {
			dups++
			continue
		}
		o.msgs[m.ID] = m
		o.order = append(o.order, m.ID)
	}
	return ids, dups, nil
}

func (o *fakeOutbox) state(m Message) string {
	if o.cancelled[m.Group] {
		return "cancelled"
	}
	return "queued"
}

func (o *fakeOutbox) Status(_ context.Context, id string) (Status, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.msgs[id]
	if !ok {
		return Status{}, false, nil
	}
	return Status{ID: m.ID, MSISDN: m.MSISDN, Service: m.Service, Kind: m.Kind, Group: m.Group, State: o.state(m)}, true, nil
}

func (o *fakeOutbox) Cancel(_ context.Context, group string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cancelled[group] = true
	return nil
}

func (o *fakeOutbox) Group(_ context.Context, group string) (GroupStats, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var g GroupStats
	g.Stopped = o.cancelled[group]
	for _, m := range o.msgs {
		if m.Group != group {
			continue
		}
		g.Total++
		if g.Stopped {
			g.Cancelled++
		} else {
			g.Queued++
		}
	}
	return g, nil
}

// Dead and Resend: the fake never dead-letters.
func (o *fakeOutbox) Dead(context.Context, int) ([]Status, error) { return nil, nil }
func (o *fakeOutbox) Resend(context.Context, string) error        { return outbox.ErrNotDead }

// group returns a group's messages in enqueue order.
func (o *fakeOutbox) group(group string) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Message
	for _, id := range o.order {
		if m := o.msgs[id]; m.Group == group {
			out = append(out, m)
		}
	}
	return out
}

func (o *fakeOutbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// fakeConsent holds subscriptions in memory.
type fakeConsent struct {
	subs   map[string][]Subscription // msisdn → subscriptions
	events map[string][]Event
}

func (f *fakeConsent) numbers() []string {
	ns := make([]string, 0, len(f.subs))
	for n := range f.subs {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func (f *fakeConsent) Subscriptions(_ context.Context, msisdn string) ([]Subscription, error) {
	return f.subs[msisdn], nil
}

func (f *fakeConsent) Subscribers(_ context.Context, topic string, fn func(string, Subscription) error) error {
	for _, n := range f.numbers() {
		for _, s := range f.subs[n] {
			if s.Topic == topic {
				if err := fn(n, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (f *fakeConsent) ServiceUsers(_ context.Context, service string, fn func(string) error) error {
	for _, n := range f.numbers() {
		for _, s := range f.subs[n] {
			if s.Service == service {
				if err := fn(n); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func (f *fakeConsent) Audit(_ context.Context, msisdn string) ([]Event, error) {
	return f.events[msisdn], nil
}

// slowOutbox takes delay per Enqueue.
type slowOutbox struct {
	*fakeOutbox
	delay time.Duration
}

func (o slowOutbox) Enqueue(ctx context.Context, msgs ...Message) ([]string, int, error) {
	time.Sleep(o.delay)
	return o.fakeOutbox.Enqueue(ctx, msgs...)
}
