package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
)

// TestClusterTwoInstances runs the queue on a real Redis Cluster (3
// masters, a replica each; every script's keys share the queue's hash
// tag, or Redis refuses them with CROSSSLOT): 2,000 messages enqueued
// through one instance, two instances consuming, each message sent
// exactly once; then 2,000 more while the master holding the queue hands
// over to its replica (CLUSTER FAILOVER), each sent at least once, the
// duplicates counted by the queue (Stats.Resent) and reported.
func TestClusterTwoInstances(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	cl := c.Client()
	defer cl.Close()
	b := make([]byte, 6)
	rand.Read(b)
	p := "outboxtest:" + hex.EncodeToString(b) + ":"
	q1 := New(cl, p, Options{Consumer: "one"})
	q2 := New(cl, p, Options{Consumer: "two"})
	r1, r2 := newRecorder(), newRecorder()

	enqueue := func(group string, n int) []string {
		var ids []string
		for i := 0; i < n; i += 500 {
			var msgs []Message
			for j := range 500 {
				id := fmt.Sprintf("%s-%05d", group, i+j)
				msgs = append(msgs, Message{ID: id, MSISDN: fmt.Sprint(254700000000 + i + j), Text: "price alert", Kind: "broadcast", Priority: Bulk, Group: group})
				ids = append(ids, id)
			}
			if _, _, err := q1.Enqueue(bg, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}
	const n = 2000
	ids := enqueue("first", n)
	start(t, q1, r1)
	start(t, q2, r2)
	eventually(t, 60*time.Second, "all sent", func() bool { g, _ := q1.Group(bg, "first"); return g.Sent == n })
	for _, id := range ids {
		if got := r1.count(id) + r2.count(id); got != 1 {
			t.Fatalf("%s sent %d times", id, got)
		}
	}
	one, two := r1.sent(), r2.sent()
	if one == 0 || two == 0 {
		t.Errorf("instance one sent %d, two %d: both must take part", one, two)
	}
	t.Logf("cluster: %d messages through one instance's queue, sent once each: instance one %d, two %d", n, one, two)

	// The queue's slot changes master while messages flow.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	master, err := cl.MasterForKey(ctx, p+"{outbox}")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.ReplicaOf(ctx, master.Options().Addr)
	if err != nil {
		t.Fatal(err)
	}
	// An SMSC taking 5 ms per message, so the run outlasts the failover.
	slow := func(ctx context.Context, _ int, _, _, _ string) error { time.Sleep(5 * time.Millisecond); return nil }
	r1.mu.Lock()
	r1.fn = slow
	r1.mu.Unlock()
	r2.mu.Lock()
	r2.fn = slow
	r2.mu.Unlock()
	ids = enqueue("second", n)
	eventually(t, 30*time.Second, "some sent", func() bool { g, _ := q1.Group(bg, "second"); return g.Sent > 100 })
	t0 := time.Now()
	if err := c.Failover(ctx, rep); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	g, err := q1.Group(bg, "second")
	if err != nil {
		t.Fatal(err)
	}
	if g.Sent == n {
		t.Fatal("all were sent before the failover was over: nothing was tested")
	}
	eventually(t, 60*time.Second, "all sent after the failover", func() bool { g, _ := q1.Group(bg, "second"); return g.Sent == n })
	dups := 0
	for _, id := range ids {
		got := r1.count(id) + r2.count(id)
		if got == 0 {
			t.Fatalf("%s was not sent", id)
		}
		dups += got - 1
	}
	st, err := q1.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster, failover of the queue's master (%v) mid-run, %d of %d sent after it: each sent, %d sent twice; stats %+v",
		took.Round(time.Millisecond), n-int(g.Sent), n, dups, st)
	if int64(dups) > st.Resent {
		t.Errorf("%d duplicates, but the queue counted %d possible ones", dups, st.Resent)
	}
}
