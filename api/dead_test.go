package api

import (
	"context"
	"errors"
	"testing"

	"github.com/ussdgw/ussdgw/outbox"
)

// A dead letter listed and sent again through the API: admin scope only;
// an id that is no dead letter is 404; the resent message goes once more
// and its group counts it sent.
func TestRealDeadLetterResend(t *testing.T) {
	r := newRealEnv(t, nil, "", false, nil)
	ctx := context.Background()
	if _, _, err := r.queue.Enqueue(ctx, Message{ID: "d1", MSISDN: "254712000001", Text: "Hi", Kind: "broadcast",
		Priority: Bulk, Group: "g1"}); err != nil {
		t.Fatal(err)
	}
	// The SMSC refuses it for good: dead-lettered.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.queue.Run(runCtx, outbox.SenderFunc(func(context.Context, string, string, string) error {
			return errors.New("invalid destination address")
		}))
	}()
	eventually(t, "dead-lettered", func() bool { d, _ := r.queue.Dead(ctx, 1); return len(d) == 1 })
	stop()
	<-done

	if c := r.do("GET", "/api/v1/dead", r.send, "", ""); c.code != 403 {
		t.Fatalf("a send key lists dead letters: %d %s", c.code, c.raw)
	}
	if c := r.do("POST", "/api/v1/dead/d1/resend", r.send, "", ""); c.code != 403 {
		t.Fatalf("a send key resends: %d %s", c.code, c.raw)
	}
	l := r.do("GET", "/api/v1/dead?limit=10", r.admin, "", "")
	ms, _ := l.body["messages"].([]any)
	if l.code != 200 || len(ms) != 1 || ms[0].(map[string]any)["id"] != "d1" || ms[0].(map[string]any)["msisdn"] != "*********001" ||
		ms[0].(map[string]any)["reason"] != "invalid destination address" {
		t.Fatalf("list: %d %s", l.code, l.raw)
	}
	if c := r.do("GET", "/api/v1/dead?limit=0", r.admin, "", ""); c.code != 400 {
		t.Fatalf("limit=0: %d %s", c.code, c.raw)
	}
	if c := r.do("POST", "/api/v1/dead/nope/resend", r.admin, "", ""); c.code != 404 {
		t.Fatalf("resend of no dead letter: %d %s", c.code, c.raw)
	}
	c := r.do("POST", "/api/v1/dead/d1/resend", r.admin, "", "")
	if c.code != 202 || c.body["state"] != "queued" {
		t.Fatalf("resend: %d %s", c.code, c.raw)
	}
	if c := r.do("POST", "/api/v1/dead/d1/resend", r.admin, "", ""); c.code != 404 {
		t.Fatalf("a second resend: %d %s", c.code, c.raw)
	}
	runCtx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { defer close(done); _ = r.queue.Run(runCtx, r.phone) }()
	defer func() { stop(); <-done }()
	eventually(t, "resent and delivered", func() bool { g, _ := r.queue.Group(ctx, "g1"); return g.Delivered == 1 })
	if g, _ := r.queue.Group(ctx, "g1"); g.Failed != 0 || g.Sent != 1 {
		t.Fatalf("group after the resend: %+v", g)
	}
	if n := len(r.phone.texts("254712000001")); n != 1 {
		t.Fatalf("%d texts reached the number, want 1", n)
	}
}
