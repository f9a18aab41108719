package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"
)

// window is each bind's window: at most this many submits per bind are
// in flight when the SMSC drops it.
const window = 50

// pushRig is the push side against the node SMSC: the outbox on the real
// Redis, sending through a Hub whose receipts reach the queue as the
// gateway wires it: by SMSC id (Queue.ReceiptFor, the Hub keeping no
// record of one-part messages) and by ref (Queue.Receipt) for the rest.
type pushRig struct {
	smsc   *nodetest.SMSC
	hub    *bridge.Hub
	q      *outbox.Queue
	c      redis.UniversalClient
	prefix string
}

func newPushRig(t *testing.T) *pushRig { return newPushRigBy(t, true) }

// newPushRigBy is newPushRig, receipts matched by SMSC id in the queue
// (byID) or by the Hub's records only (Queue.Receipt).
func newPushRigBy(t *testing.T, byID bool) *pushRig {
	t.Helper()
	if !byID {
		return newPushRigWith(t, nil)
	}
	return newPushRigWith(t, func(next receiptFor) receiptFor { return next })
}

type receiptFor = func(ctx context.Context, smscIDs []string, delivered bool, reason string) (bool, error)

// newPushRigWith is newPushRig with Deps.ReceiptFor made of the queue's by
// wrap (nil: no ReceiptFor, receipts matched by the Hub's records).
func newPushRigWith(t *testing.T, wrap func(next receiptFor) receiptFor) *pushRig {
	t.Helper()
	smsc := nodetest.Start(t)
	smsc.Do(map[string]any{"cmd": "set", "quiet": true, "count": true, "dlr": map[string]any{"mode": "tlv"}})
	c, prefix := redistest.Open(t)
	q := outbox.New(c, prefix, outbox.Options{Workers: 32, Batch: 200, ClaimIdle: 10 * time.Second,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Log: testLogger(t)})
	cfg := bridge.Defaults()
	a, b := conn("op-a", smsc.Addr(), ""), conn("op-b", smsc.Addr(), "")
	for _, c := range []*smpp.Config{&a, &b} {
		c.Window = window
		c.Inbound.Workers, c.Inbound.Queue = 16, 1024
	}
	cfg.Connections = []smpp.Config{a, b}
	deps := bridge.Deps{KV: ussd.NewRedisStore(c, prefix), Prefix: "smpp:", Log: testLogger(t),
		OnReceipt: func(ctx context.Context, ref string, delivered bool, reason string) {
			if err := q.Receipt(ctx, ref, delivered, reason); err != nil {
				t.Errorf("receipt: %v", err)
			}
		}}
	if wrap != nil {
		deps.ReceiptFor = wrap(q.ReceiptFor)
	}
	hub, err := bridge.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(bridge.Routes{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := hub.WaitBound(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx, hub) }()
	t.Cleanup(func() {
		stop() // the queue stops before the hub closes
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Close(ctx)
	})
	return &pushRig{smsc: smsc, hub: hub, q: q, c: c, prefix: prefix}
}

// enqueue queues n alerts of group, texts "<group> <i>".
func (r *pushRig) enqueue(t *testing.T, group string, n int) {
	t.Helper()
	for i := 0; i < n; i += 1000 {
		var msgs []outbox.Message
		for j := i; j < min(n, i+1000); j++ {
			msgs = append(msgs, outbox.Message{ID: fmt.Sprintf("%s-%05d", group, j), MSISDN: fmt.Sprintf("2547%08d", j),
				Text: fmt.Sprintf("%s %d", group, j), Service: "market", Kind: "alert", Priority: outbox.Bulk, Group: group})
		}
		if _, _, err := r.q.Enqueue(t.Context(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
}

// waitDelivered waits until every message of the group has its receipt.
func (r *pushRig) waitDelivered(t *testing.T, group string, n int64, within time.Duration) outbox.GroupStats {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g, err := r.q.Group(t.Context(), group)
		if err != nil {
			t.Fatal(err)
		}
		if g.Delivered == n {
			return g
		}
		if time.Now().After(deadline) {
			st, _ := r.q.Stats(t.Context())
			t.Fatalf("within %s: group %+v, queue %+v", within, g, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutboxDeliversEachOnce: 10,000 alerts through the queue and the
// Hub, receipts on: every one delivered (its receipt reached the queue),
// each accepted by the SMSC exactly once.
func TestOutboxDeliversEachOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	r := newPushRig(t)
	const n = 10000
	start := time.Now()
	r.enqueue(t, "alert", n)
	enq := time.Since(start)
	g := r.waitDelivered(t, "alert", n, 90*time.Second)
	took := time.Since(start)
	c := r.smsc.Counts()
	t.Logf("%d messages: enqueued in %s, all delivered (receipts in) in %s: %.0f msgs/s; smsc %v", n, enq, took, n/took.Seconds(), c)
	if c.Num("total") != n || c.Num("distinct") != n || g.Sent != n || g.Failed != 0 || g.Queued != 0 {
		t.Errorf("smsc accepted %d (%d distinct), want %d each once; group %+v", c.Num("total"), c.Num("distinct"), n, g)
	}
}

// TestOutboxSurvivesSMSCFaults: the SMSC answers every 10th submit_sm
// with ESME_RTHROTTLED (0x58) and drops the connection twice mid-run.
// Nothing is lost; a text the SMSC accepted twice must have been in
// flight at a drop (the only ambiguous sends): at most a window per drop.
func TestOutboxSurvivesSMSCFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages")
	}
	r := newPushRig(t)
	r.smsc.Do(map[string]any{"cmd": "set", "fail_every": map[string]any{"n": 10, "status": 0x58}, "drop_after": 1200})
	const n = 5000
	r.enqueue(t, "faults", n)
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, _ := r.q.Group(t.Context(), "faults")
		if g.Sent >= n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("half not sent in 30s: %+v", g)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.smsc.Do(map[string]any{"cmd": "set", "drop_after": 50})
	g := r.waitDelivered(t, "faults", n, 90*time.Second)
	c := r.smsc.Counts()
	dropped := map[string]bool{}
	for _, d := range c["dropped"].([]any) {
		dropped[d.(string)] = true
	}
	dups := c["dups"].([]any)
	t.Logf("group %+v; smsc accepted %d (%d distinct), %d dropped unanswered, %d accepted twice",
		g, c.Num("total"), c.Num("distinct"), len(dropped), len(dups))
	if len(dropped) != 2 {
		t.Errorf("the SMSC dropped %d times, want 2", len(dropped))
	}
	if c.Num("distinct") != n || g.Failed != 0 {
		t.Errorf("distinct accepted %d, want %d; group %+v", c.Num("distinct"), n, g)
	}
	if len(dups) > len(dropped)*window {
		t.Errorf("%d accepted twice; at most %d were in flight at the drops", len(dups), len(dropped)*window)
	}
	for _, d := range dups {
		if n := d.(map[string]any)["n"].(float64); n > 2 {
			t.Errorf("%v accepted %v times", d, n)
		}
	}
	dead, _ := r.q.Dead(t.Context(), 10)
	if len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}
}

// TestOutboxReceiptsSequentialIDs: an SMSC whose ids are 1, 2, 3 … in
// decimal, receipts sent the moment it answers (so some arrive before
// their id is recorded): every message ends delivered. Under the old
// matching, a receipt for 38806 that came early matched 9796 (38806 in
// hex), an older message, and its own message was never delivered (the
// load run's 2% lost receipts).
func TestOutboxReceiptsSequentialIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages")
	}
	for _, byID := range []bool{true, false} {
		t.Run(fmt.Sprintf("byID=%v", byID), func(t *testing.T) {
			r := newPushRigBy(t, byID)
			r.smsc.Do(map[string]any{"cmd": "set", "next_id": 1})
			const n = 5000
			r.enqueue(t, "seq", n)
			g := r.waitDelivered(t, "seq", n, 60*time.Second)
			if g.Sent != n || g.Failed != 0 {
				t.Errorf("group %+v", g)
			}
			for _, pattern := range []string{"smpp:dlr:orphan:*", "{outbox}:o:*"} {
				keys, err := r.c.Keys(t.Context(), r.prefix+pattern).Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != 0 {
					t.Errorf("%d early receipts left behind (%s)", len(keys), pattern)
				}
			}
		})
	}
}

// TestOutboxReceiptsByRefOnly: the messages the outbox sends keep no
// delivery status record of the Hub's (the outbox's is the one), and no
// early receipt stays behind, yet every receipt reaches the outbox: with
// the receipts matched by SMSC id in the queue (the gateway's wiring) the
// Hub records nothing of them; by ref, it records their SMSC ids.
func TestOutboxReceiptsByRefOnly(t *testing.T) {
	for _, byID := range []bool{true, false} {
		t.Run(fmt.Sprintf("byID=%v", byID), func(t *testing.T) {
			r := newPushRigBy(t, byID)
			const n = 300
			r.enqueue(t, "refs", n)
			g := r.waitDelivered(t, "refs", n, 30*time.Second)
			if g.Sent != n || g.Failed != 0 {
				t.Errorf("group %+v", g)
			}
			count := func(pattern string) int {
				keys, err := r.c.Keys(t.Context(), r.prefix+pattern).Result()
				if err != nil {
					t.Fatal(err)
				}
				return len(keys)
			}
			hubIDs, queueIDs := n, 0
			if byID {
				hubIDs, queueIDs = 0, n
			}
			for _, k := range []struct {
				pattern string
				want    int
			}{
				{"smpp:dlr:msg:*", 0}, // status records of the Hub's for outbox messages
				{"smpp:dlr:id:*", hubIDs},
				{"smpp:dlr:orphan:*", 0}, // early receipts left behind
				{"{outbox}:x:*", queueIDs},
				{"{outbox}:o:*", 0},
			} {
				if got := count(k.pattern); got != k.want {
					t.Errorf("%d keys %s, want %d", got, k.pattern, k.want)
				}
			}
		})
	}
}

// TestOutboxReceiptsOfParts: messages of two parts through the queue and
// the Hub as the gateway wires them: each is delivered once the receipts
// of both its parts are in, and the queue keeps one SMSC id per part.
func TestOutboxReceiptsOfParts(t *testing.T) {
	r := newPushRig(t)
	const n = 50
	long := strings.Repeat("Maize at Eldoret rose to 3400 KES per bag. ", 5) // 215 characters: two parts
	var msgs []outbox.Message
	for i := range n {
		msgs = append(msgs, outbox.Message{ID: fmt.Sprintf("parts-%03d", i), MSISDN: fmt.Sprintf("2547%08d", i),
			Text: fmt.Sprintf("%03d %s", i, long), Service: "market", Kind: "alert", Priority: outbox.Bulk, Group: "parts"})
	}
	if _, _, err := r.q.Enqueue(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	g := r.waitDelivered(t, "parts", n, 30*time.Second)
	if g.Sent != n || g.Failed != 0 {
		t.Errorf("group %+v", g)
	}
	c := r.smsc.Counts()
	if c.Num("total") != 2*n {
		t.Errorf("the SMSC took %d submits, want %d (two parts each)", c.Num("total"), 2*n)
	}
	keys, err := r.c.Keys(t.Context(), r.prefix+"{outbox}:x:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2*n {
		t.Errorf("%d SMSC ids kept, want %d", len(keys), 2*n)
	}
}

// TestOutboxReceiptsWhileRedisFails: recording a receipt fails (Redis
// unreachable) for the first 200 receipts: each is answered
// ESME_RX_T_APPN, the SMSC sends it again, and every message still ends
// delivered, once.
func TestOutboxReceiptsWhileRedisFails(t *testing.T) {
	var failed atomic.Int64
	r := newPushRigWith(t, func(next receiptFor) receiptFor {
		return func(ctx context.Context, ids []string, delivered bool, reason string) (bool, error) {
			if failed.Add(1) <= 200 {
				return false, errors.New("redis: connection refused")
			}
			return next(ctx, ids, delivered, reason)
		}
	})
	const n = 300
	r.enqueue(t, "outage", n)
	g := r.waitDelivered(t, "outage", n, 30*time.Second)
	if g.Sent != n || g.Failed != 0 {
		t.Errorf("group %+v", g)
	}
	if f := failed.Load(); f < 200+n {
		t.Errorf("ReceiptFor called %d times, want the 200 refused and then one per message at least", f)
	}
	if c := r.smsc.Counts(); c.Num("total") != n {
		t.Errorf("the SMSC took %d submits, want %d", c.Num("total"), n)
	}
}
