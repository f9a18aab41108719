package reminders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/outbox"
)

// With the real consent registry and outbox on one Redis: two instances
// schedule and claim, the outbox sends each reminder once as a Bulk
// message of service health, a STOPped number's reminder is suppressed at
// send time, and an unsubscribed number gets nothing.
func TestWithConsentAndOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := consent.New(e.rc, e.prefix+"consent:", consent.Options{Now: e.clk.Now})
	q := outbox.New(e.rc, e.prefix, outbox.Options{Allow: reg.Allowed, Now: e.clk.Now, Log: quiet})
	const users = 300
	nums := make([]string, users)
	for i := range nums {
		nums[i] = fmt.Sprintf("2547990%05d", i)
		e.register(t, nums[i], "child", born)
		lang := []string{"en", "fr", "sw"}[i%3]
		if err := reg.Subscribe(ctx, nums[i], consent.Subscription{
			Service: "health", Topic: "health:reminders", Label: "Reminders", Lang: lang, Channel: "ussd", At: e.clk.Now(),
		}); err != nil {
			t.Fatal(err)
		}
	}
	stopped, gone := nums[0], nums[1]
	if err := reg.OptOut(ctx, stopped, "health", "sms"); err != nil {
		t.Fatal(err)
	}
	cfg := func(c *Config) { c.Consent = reg; c.Queue = q; c.Batch = 20 }
	a, b := e.scheduler(t, cfg), e.scheduler(t, cfg)
	if n := mustSync(t, a); n != users*2 {
		t.Fatalf("sync added %d, want %d", n, users*2)
	}
	if _, err := reg.Unsubscribe(ctx, gone, "health", "health:reminders", "sms"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	got := map[string]int{} // msisdn -> sends
	texts := map[string]string{}
	sender := outbox.SenderFunc(func(_ context.Context, msisdn, text, ref string) error {
		mu.Lock()
		defer mu.Unlock()
		got[msisdn]++
		texts[msisdn] = text
		return nil
	})
	rctx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- q.Run(rctx, sender) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Scheduler{a, b} {
		wg.Go(func() { _, errs[i] = s.Claim(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := users - 2
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stoppedID := member{stopped, "child", "w6", "2026-12-03", 2}.id()
	for {
		st, ok, err := q.Status(ctx, stoppedID)
		if err != nil {
			t.Fatal(err)
		}
		if ok && st.State == outbox.StateSuppressed {
			if st.Kind != "reminder" || st.Service != "health" {
				t.Errorf("status %+v: want a reminder of service health", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the STOPped number's reminder: %+v %v, want suppressed", st, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != want {
		t.Errorf("%d numbers got a reminder, want %d", len(got), want)
	}
	for n, c := range got {
		if c != 1 {
			t.Errorf("%s got %d reminders", mask(n), c)
		}
	}
	if got[stopped] != 0 || got[gone] != 0 {
		t.Errorf("STOPped got %d, unsubscribed got %d; want none", got[stopped], got[gone])
	}
	if txt := texts[nums[2]]; !strings.Contains(txt, "Kumbusho") || !strings.Contains(txt, "2026-12-03") {
		t.Errorf("Swahili reminder %q", txt)
	}
	st, ok, err := q.Status(ctx, member{nums[3], "child", "w6", "2026-12-03", 2}.id())
	if err != nil || !ok || st.Kind != "reminder" || st.Service != "health" || st.State != outbox.StateSent {
		t.Errorf("status of a reminder: %+v %v %v; want a sent reminder of service health", st, ok, err)
	}
}
