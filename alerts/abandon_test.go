package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/internal/logcheck"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"github.com/ussdgw/ussdgw/outbox"
)

// failingConsent fails its scan after failAfter subscribers (0: never),
// as a scan that times out or loses Redis half way does.
type failingConsent struct {
	*memConsent
	failAfter atomic.Int64
}

var errScan = errors.New("consent scan: i/o timeout")

func (f *failingConsent) Subscribers(ctx context.Context, topic string, fn func(string, Subscription) error) error {
	n := int64(0)
	return f.memConsent.Subscribers(ctx, topic, func(msisdn string, s Subscription) error {
		n++
		if after := f.failAfter.Load(); after > 0 && n > after {
			return errScan
		}
		return fn(msisdn, s)
	})
}

// An alert whose intake fails half way (two batches of 1,000 queued, then
// the subscriber scan fails) is all or nothing, as a broadcast: Price
// fails, what it queued is cancelled and never sent, and the previous
// price is back, so that the same price sent again alerts everyone once.
func TestAlertIntakeFailsAllOrNothing(t *testing.T) {
	rdb, prefix := redistest.Open(t)
	q := outbox.New(rdb, prefix, outbox.Options{Log: logcheck.New(t)})
	set, err := flows.Load("../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &failingConsent{memConsent: &memConsent{}}
	const n = 2500
	for i := range n {
		c.add(fmt.Sprintf("2547%08d", i), Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "en"})
	}
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	a := New(Config{Redis: rdb, Prefix: prefix, Consent: c, Outbox: q, Flows: func() *flows.Set { return set },
		Now: func() time.Time { return now }, Log: logcheck.New(t)})
	ctx := context.Background()
	price := func(v float64) (Run, error) {
		return a.Price(ctx, Price{Commodity: "maize", Market: "eldoret", Price: v, Currency: "KES", Unit: "bag", Date: "2026-11-30"})
	}
	if _, err := price(3000); err != nil { // the baseline
		t.Fatal(err)
	}

	c.failAfter.Store(2100)
	failed, err := price(3400)
	if !errors.Is(err, errScan) {
		t.Fatalf("Price with a failing scan: %v, want the scan's error", err)
	}
	g, err := q.Group(ctx, failed.ID)
	if err != nil || g.Total != 2000 || !g.Stopped {
		t.Fatalf("the failed alert's group: %+v, %v; want its 2,000 queued messages stopped", g, err)
	}

	var sent atomic.Int64
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = q.Run(runCtx, outbox.SenderFunc(func(context.Context, string, string, string) error {
			sent.Add(1)
			return nil
		}))
	}()
	defer func() { stop(); <-done }()
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 30s: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eventually("the failed alert's messages cancelled", func() bool {
		g, _ := q.Group(ctx, failed.ID)
		return g.Cancelled == 2000
	})
	if s := sent.Load(); s != 0 {
		t.Fatalf("%d messages of the failed alert were sent", s)
	}

	c.failAfter.Store(0)
	again, err := price(3400)
	if err != nil {
		t.Fatal(err)
	}
	if again.Previous == nil || *again.Previous != 3000 || again.Queued != n {
		t.Fatalf("the same price again: %+v; want a change from 3000 queued to all %d", again, n)
	}
	eventually("the second alert sent", func() bool {
		g, _ := q.Group(ctx, again.ID)
		return g.Sent == n
	})
	if s := sent.Load(); s != n {
		t.Fatalf("%d sends in all, want %d (each subscriber once)", s, n)
	}
}
