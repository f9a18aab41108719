package reminders

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
)

// TestClusterTwoInstancesClaimEachOnce: the scheduler's scripts and
// transaction run on a real Redis Cluster (their keys share the service's
// hash tag, or Redis refuses them with CROSSSLOT), and two instances
// claiming at once send each reminder once.
func TestClusterTwoInstancesClaimEachOnce(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	cl := c.Client()
	t.Cleanup(func() { cl.Close() })
	clk := &clock{t: t0}
	e := &env{rc: cl, prefix: "test:reminders:", clk: clk, consent: newConsent(), queue: newQueue(), reg: healthAdapter(t, clk.Now)}
	const users = 300
	for i := range users {
		n := fmt.Sprintf("2547%08d", i)
		e.register(t, n, "child", born)
		e.subscribe(n, "en", nil)
	}
	small := func(c *Config) { c.Batch = 25 }
	a, b := e.scheduler(t, small), e.scheduler(t, small)
	if n := mustSync(t, a); n != users*2 {
		t.Fatalf("sync added %d, want %d", n, users*2)
	}
	var wg sync.WaitGroup
	sent := make([]int, 4)
	errs := make([]error, 4)
	for i, s := range []*Scheduler{a, b, a, b} {
		wg.Go(func() { sent[i], errs[i] = s.Claim(context.Background()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if total := sent[0] + sent[1] + sent[2] + sent[3]; total != users {
		t.Errorf("sent %d in all, want %d (per claimer %v)", total, users, sent)
	}
	e.queue.mu.Lock()
	defer e.queue.mu.Unlock()
	for id, n := range e.queue.calls {
		if n != 1 {
			t.Errorf("%s enqueued %d times", id, n)
		}
	}
	if len(e.queue.msgs) != users {
		t.Errorf("%d distinct reminders queued, want %d", len(e.queue.msgs), users)
	}
}
