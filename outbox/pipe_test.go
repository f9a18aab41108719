package outbox

import (
	"context"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// countPipelines counts the pipelines a client sends.
type countPipelines struct{ n atomic.Int64 }

func (h *countPipelines) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestReceiptsBatched: receipts from many goroutines at once are each
// applied once, in fewer round trips than receipts; after Redis lost its
// scripts (a restart, SCRIPT FLUSH) they still apply.
func TestReceiptsBatched(t *testing.T) {
	for _, flush := range []bool{false, true} {
		t.Run(fmt.Sprintf("script_flush=%v", flush), func(t *testing.T) {
			m := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			defer c.Close()
			q := New(c, "gw:", Options{})
			const n = 200
			var msgs []Message
			for i := range n {
				msgs = append(msgs, Message{ID: fmt.Sprintf("m%d", i), MSISDN: fmt.Sprint(i), Text: "x", Kind: "alert", Priority: Bulk, Group: "g"})
			}
			if _, _, err := q.Enqueue(bg, msgs...); err != nil {
				t.Fatal(err)
			}
			stop := start(t, q, newRecorder())
			eventually(t, 5*time.Second, "all sent", func() bool { g, _ := q.Group(bg, "g"); return g.Sent == n })
			stop()
			if flush {
				if err := c.ScriptFlush(bg).Err(); err != nil {
					t.Fatal(err)
				}
			}
			hook := &countPipelines{}
			c.AddHook(hook)
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range n {
				for range 2 { // a receipt may come twice: counted once
					wg.Go(func() { errs <- q.Receipt(bg, fmt.Sprintf("m%d", i), i%10 != 0, "UNDELIV") })
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			g, err := q.Group(bg, "g")
			if err != nil || g.Delivered != n-n/10 || g.Failed != n/10 {
				t.Errorf("group %+v, %v", g, err)
			}
			if s := mustStatus(t, q, "m10"); s.State != StateFailed || s.Reason != "UNDELIV" {
				t.Errorf("m10: %+v", s)
			}
			if p := hook.n.Load(); p >= 2*n {
				t.Errorf("%d pipelines for %d receipts: not batched", p, 2*n)
			}
			t.Logf("%d receipts in %d pipelines", 2*n, hook.n.Load())
		})
	}
}

// TestReceiptCallerGone: a caller whose context ends gets its error at
// once, and the pipe goes on serving the others.
func TestReceiptCallerGone(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := q.Receipt(ctx, "nope", true, ""); err == nil {
		t.Error("a receipt with an ended context succeeded")
	}
	if err := q.Receipt(bg, "nope", true, ""); err != nil {
		t.Errorf("next receipt: %v", err)
	}
}
