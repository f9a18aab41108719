package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The gateway runs the outbox on an embedded miniredis when it has no
// Redis URL: the scripts and stream commands must work there too.
func TestOnMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	q := New(c, "gw:", Options{HourlyCap: 1, Backoff: fastBackoff})
	var msgs []Message
	for i := range 50 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("m%d", i), MSISDN: fmt.Sprint(i), Text: "x", Kind: "alert", Priority: Bulk, Group: "g"})
	}
	msgs = append(msgs, Message{ID: "f", MSISDN: "9", Text: "x", Kind: "flow"})
	if _, dups, err := q.Enqueue(bg, msgs...); err != nil || dups != 0 {
		t.Fatalf("Enqueue: %d dups, %v", dups, err)
	}
	if _, _, err := q.Enqueue(bg, Message{MSISDN: "9", Text: "x", Kind: "flow"}); !errors.Is(err, ErrCapped) {
		t.Fatalf("hourly cap: %v", err)
	}
	r := newRecorder()
	r.fn = func(ctx context.Context, n int, to, text, ref string) error {
		if n == 3 {
			return tempErr{}
		}
		return nil
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "all sent", func() bool { g, _ := q.Group(bg, "g"); return g.Sent == 50 })
	if err := q.Receipt(bg, "m1", true, ""); err != nil {
		t.Fatal(err)
	}
	if s := mustStatus(t, q, "m1"); s.State != StateDelivered {
		t.Errorf("status %+v", s)
	}
	eventually(t, 5*time.Second, "flow sms sent", func() bool { return r.count("f") == 1 })
	st, err := q.Stats(bg)
	if err != nil || st.Bulk != 0 || st.High != 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

func TestOnMiniredisTakeOver(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	a := New(c, "gw:", Options{Consumer: "a", Grace: -1, Workers: 1, Batch: 10})
	var msgs []Message
	for i := range 20 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("m%d", i), MSISDN: fmt.Sprint(i), Text: "x", Kind: "reply"})
	}
	if _, _, err := a.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	took := make(chan struct{})
	stopA := start(t, a, SenderFunc(func(ctx context.Context, _, _, _ string) error {
		close(took)
		<-ctx.Done()
		return ctx.Err()
	}))
	<-took
	stopA()
	b := New(c, "gw:", Options{Consumer: "b", ClaimIdle: 200 * time.Millisecond})
	r := newRecorder()
	start(t, b, r)
	eventually(t, 10*time.Second, "all 20 sent by b", func() bool { return r.sent() == 20 })
}
