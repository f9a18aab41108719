package outbox

import (
	"context"
	"errors"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var bg = context.Background()

func TestEnqueueIsIdempotent(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	m := Message{ID: "order-1", MSISDN: "254700000001", Text: "hello", Kind: "alert", Priority: Bulk, Group: "g"}
	ids, dups, err := q.Enqueue(bg, m)
	if err != nil || dups != 0 || len(ids) != 1 || ids[0] != "order-1" {
		t.Fatalf("first Enqueue = %v, %d, %v", ids, dups, err)
	}
	// Again alone, and again inside a batch with a new one and itself twice.
	if _, dups, err := q.Enqueue(bg, m); err != nil || dups != 1 {
		t.Fatalf("second Enqueue: dups %d, err %v; want 1, nil", dups, err)
	}
	n := m
	n.ID = "order-2"
	if _, dups, err := q.Enqueue(bg, m, n, n); err != nil || dups != 2 {
		t.Fatalf("batch Enqueue: dups %d, err %v; want 2, nil", dups, err)
	}
	st, _ := q.Stats(bg)
	if st.Bulk != 2 {
		t.Errorf("bulk stream holds %d entries, want 2", st.Bulk)
	}
	g, _ := q.Group(bg, "g")
	if g.Total != 2 || g.Queued != 2 {
		t.Errorf("group = %+v, want total 2 queued 2", g)
	}
	s := mustStatus(t, q, "order-1")
	if s.State != StateQueued || s.MSISDN != "254700000001" || s.Kind != "alert" || s.Group != "g" {
		t.Errorf("status = %+v", s)
	}
	if _, ok, _ := q.Status(bg, "nope"); ok {
		t.Error("an unknown id has a status")
	}
}

func TestEnqueueIsAllOrNothing(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{HourlyCap: 2})
	msg := func(id, to, kind string) Message {
		return Message{ID: id, MSISDN: to, Text: "x", Kind: kind, Priority: High}
	}
	tests := []struct {
		name string
		msgs []Message
		want error
	}{
		{"the third flow sms of a number passes the cap", []Message{msg("a1", "1", "flow"), msg("a2", "2", "flow"), msg("a3", "1", "late"), msg("a4", "1", "flow")}, ErrCapped},
		{"an empty text", []Message{msg("b1", "1", "reply"), {ID: "b2", MSISDN: "2"}}, nil},
		{"no number", []Message{msg("c1", "1", "reply"), {ID: "c2", Text: "x"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := q.Enqueue(bg, tt.msgs...)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Enqueue error = %v, want %v", err, tt.want)
			}
			for _, m := range tt.msgs {
				if _, ok, _ := q.Status(bg, m.ID); ok && m.ID != "" {
					t.Errorf("message %s was persisted from a failed call", m.ID)
				}
			}
			if st, _ := q.Stats(bg); st.High != 0 || st.Delayed != 0 {
				t.Errorf("stats after a failed call = %+v", st)
			}
		})
	}
	// The cap counted nothing of the failed call: two flow SMS still fit.
	if _, _, err := q.Enqueue(bg, msg("d1", "1", "flow"), msg("d2", "1", "flow")); err != nil {
		t.Fatalf("two flow sms after the failed call: %v", err)
	}
}

func TestHourlyCap(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	q := New(c, p, Options{HourlyCap: 5, Now: clk.Now})
	send := func(kind string, pri Priority) error {
		_, _, err := q.Enqueue(bg, Message{MSISDN: "254711111111", Text: "x", Kind: kind, Priority: pri})
		return err
	}
	for i := range 5 {
		if err := send("flow", High); err != nil {
			t.Fatalf("flow sms %d: %v", i+1, err)
		}
	}
	if err := send("late", High); !errors.Is(err, ErrCapped) {
		t.Fatalf("6th flow/late sms in the hour: %v, want ErrCapped", err)
	}
	if err := send("reply", High); err != nil {
		t.Errorf("a reply to an MO is not capped: %v", err)
	}
	if err := send("alert", Bulk); err != nil {
		t.Errorf("bulk is not under the hourly cap: %v", err)
	}
	if _, _, err := q.Enqueue(bg, Message{MSISDN: "254722222222", Text: "x", Kind: "flow"}); err != nil {
		t.Errorf("another number: %v", err)
	}
	clk.Add(time.Hour)
	if err := send("flow", High); err != nil {
		t.Errorf("next hour: %v", err)
	}
}

func TestPriorities(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{Workers: 1, Batch: 10})
	var bulkIDs []Message
	for i := range 300 {
		bulkIDs = append(bulkIDs, Message{ID: fmt.Sprintf("b%03d", i), MSISDN: "1", Text: "bulk", Kind: "broadcast", Priority: Bulk})
	}
	if _, _, err := q.Enqueue(bg, bulkIDs...); err != nil {
		t.Fatal(err)
	}
	release, handed := make(chan struct{}), make(chan struct{})
	q.handedOff = func(id string) {
		if id == "reply" {
			close(handed)
		}
	}
	r := newRecorder()
	r.fn = func(ctx context.Context, n int, to, text, ref string) error {
		if n == 20 {
			<-release // the 20th bulk send waits while a reply is queued
		}
		return nil
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "19 bulk sends", func() bool { return r.sent() >= 19 })
	if _, _, err := q.Enqueue(bg, Message{ID: "reply", MSISDN: "2", Text: "your balance", Kind: "reply"}); err != nil {
		t.Fatal(err)
	}
	// The reply is read, taken and handed to the workers by High's own
	// reader while the one worker is busy and every Bulk reader holds a
	// batch in hand.
	select {
	case <-handed:
	case <-time.After(5 * time.Second):
		t.Fatal("the reply was not handed to the workers within 5s")
	}
	close(release)
	eventually(t, 5*time.Second, "the reply sent", func() bool { return r.count("reply") == 1 })
	r.mu.Lock()
	pos := slices.Index(r.order, "reply") + 1
	r.mu.Unlock()
	// Behind it only the bulk send under way: the worker takes a High
	// message before the Bulk ones in hand (a batch per reader), never
	// the other 280 bulk messages.
	if pos != 21 {
		t.Errorf("the reply went out as send %d, behind the bulk backlog", pos)
	}
	eventually(t, 10*time.Second, "all sent", func() bool { return r.sent() == 301 })
}

func TestRetryThenSuccess(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{Backoff: fastBackoff, MaxAttempts: 5})
	r := newRecorder()
	r.fn = func(ctx context.Context, n int, to, text, ref string) error {
		if n <= 2 {
			return fmt.Errorf("submit_sm: %w", tempErr{})
		}
		return nil
	}
	ids, _, err := q.Enqueue(bg, Message{MSISDN: "1", Text: "x", Kind: "alert", Priority: Bulk, Group: "run"})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "sent after two temporary failures", func() bool { return mustStatus(t, q, ids[0]).State == StateSent })
	if s := mustStatus(t, q, ids[0]); s.Attempts != 3 || r.count(ids[0]) != 1 {
		t.Errorf("attempts %d, sent %d times; want 3, 1", s.Attempts, r.count(ids[0]))
	}
	if g, _ := q.Group(bg, "run"); g.Sent != 1 || g.Queued != 0 || g.Failed != 0 {
		t.Errorf("group = %+v", g)
	}
}

func TestFailuresAreDeadLettered(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		attempts int
		reason   string
	}{
		{"permanent at once", errPerm, 1, "invalid destination address"},
		{"temporary until MaxAttempts", tempErr{}, 3, "throttled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := redistest.Open(t)
			q := New(c, p, Options{Backoff: fastBackoff, MaxAttempts: 3})
			r := newRecorder()
			r.fn = func(context.Context, int, string, string, string) error { return tt.err }
			ids, _, err := q.Enqueue(bg, Message{MSISDN: "1", Text: "x", Kind: "reminder", Priority: Bulk, Group: "g"})
			if err != nil {
				t.Fatal(err)
			}
			start(t, q, r)
			eventually(t, 5*time.Second, "failed", func() bool { return mustStatus(t, q, ids[0]).State == StateFailed })
			s := mustStatus(t, q, ids[0])
			if s.Attempts != tt.attempts || s.Reason != tt.reason {
				t.Errorf("status = %+v, want %d attempts, reason %q", s, tt.attempts, tt.reason)
			}
			dead, err := q.Dead(bg, 10)
			if err != nil || len(dead) != 1 || dead[0].ID != ids[0] || dead[0].Reason != tt.reason {
				t.Errorf("Dead = %+v, %v", dead, err)
			}
			if g, _ := q.Group(bg, "g"); g.Failed != 1 || g.Queued != 0 {
				t.Errorf("group = %+v", g)
			}
			if st, _ := q.Stats(bg); st.Dead != 1 || st.Bulk != 0 || st.Delayed != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestExpired(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	q := New(c, p, Options{Now: clk.Now})
	ids, _, err := q.Enqueue(bg, Message{MSISDN: "1", Text: "x", Kind: "alert", Priority: Bulk,
		NotBefore: clk.Now().Add(time.Hour), NotAfter: clk.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	start(t, q, r)
	clk.Add(time.Hour)
	eventually(t, 5*time.Second, "expired", func() bool { return mustStatus(t, q, ids[0]).Reason == "expired" })
	if s := mustStatus(t, q, ids[0]); s.State != StateFailed || r.sent() != 0 {
		t.Errorf("status %+v, %d sent", s, r.sent())
	}
}

func TestConsentWithdrawnMidRun(t *testing.T) {
	c, p := redistest.Open(t)
	var stopped atomic.Bool
	allow := func(ctx context.Context, msisdn, service string) (bool, error) {
		return !(stopped.Load() && msisdn == "254700000500"), nil
	}
	q := New(c, p, Options{Workers: 1, Batch: 50, Allow: allow})
	var msgs []Message
	for i := range 1000 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("m%04d", i), MSISDN: "254700000500", Text: "price", Service: "market",
			Kind: "alert", Priority: Bulk, Group: "alerts"})
		msgs = append(msgs, Message{ID: fmt.Sprintf("o%04d", i), MSISDN: "254700000999", Text: "price", Service: "market",
			Kind: "alert", Priority: Bulk, Group: "alerts"})
	}
	if _, _, err := q.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	var toStopped atomic.Int64
	r.fn = func(ctx context.Context, n int, to, text, ref string) error {
		if to == "254700000500" && toStopped.Add(1) == 500 {
			stopped.Store(true) // STOP arrives while the 500th is sent
		}
		return nil
	}
	start(t, q, r)
	eventually(t, 20*time.Second, "all done", func() bool {
		g, _ := q.Group(bg, "alerts")
		return g.Queued == 0
	})
	r.mu.Lock()
	got, other := r.byTo["254700000500"], r.byTo["254700000999"]
	r.mu.Unlock()
	if got != 500 || other != 1000 {
		t.Errorf("sent %d to the number that sent STOP (want 500) and %d to the other (want 1000)", got, other)
	}
	g, _ := q.Group(bg, "alerts")
	if g.Suppressed != 500 || g.Sent != 1500 {
		t.Errorf("group = %+v, want 500 suppressed, 1500 sent", g)
	}
	if s := mustStatus(t, q, "m0999"); s.State != StateSuppressed {
		t.Errorf("last message to the stopped number: %+v", s)
	}
}

func TestQuietHoursDeferThenSend(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 21, 30, 0, 0, time.UTC))
	morning := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	quiet := func(service string, t time.Time) (time.Time, bool) {
		return morning, service == "health" && t.Before(morning)
	}
	q := New(c, p, Options{Now: clk.Now, Quiet: quiet})
	ids, _, err := q.Enqueue(bg,
		Message{MSISDN: "1", Text: "reminder", Service: "health", Kind: "reminder", Priority: Bulk},
		Message{MSISDN: "2", Text: "your reply", Service: "health", Kind: "reply", Priority: High})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	start(t, q, r)
	eventually(t, 5*time.Second, "deferred", func() bool { return mustStatus(t, q, ids[0]).State == StateDeferred })
	eventually(t, 5*time.Second, "the reply is not held by quiet hours", func() bool { return r.count(ids[1]) == 1 })
	if st, _ := q.Stats(bg); st.Delayed != 1 || r.count(ids[0]) != 0 {
		t.Fatalf("stats %+v, sent %d", st, r.count(ids[0]))
	}
	clk.Add(9*time.Hour + 31*time.Minute) // 07:01
	eventually(t, 5*time.Second, "sent in the morning", func() bool { return r.count(ids[0]) == 1 })
	if s := mustStatus(t, q, ids[0]); s.State != StateSent {
		t.Errorf("status %+v", s)
	}
}

func TestDailyCap(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	q := New(c, p, Options{Now: clk.Now, DailyCap: 3, Workers: 2})
	var msgs []Message
	for i := range 5 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("d%d", i), MSISDN: "1", Text: "x", Kind: "alert", Priority: Bulk, Group: "g"})
	}
	msgs = append(msgs, Message{ID: "r", MSISDN: "1", Text: "x", Kind: "reply", Priority: High})
	if _, _, err := q.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	start(t, q, r)
	eventually(t, 5*time.Second, "all done", func() bool { g, _ := q.Group(bg, "g"); return g.Queued == 0 })
	g, _ := q.Group(bg, "g")
	if g.Sent != 3 || g.Failed != 2 {
		t.Errorf("group = %+v, want 3 sent, 2 failed", g)
	}
	dead, _ := q.Dead(bg, 10)
	if len(dead) != 2 || dead[0].Reason != "daily cap" {
		t.Errorf("dead = %+v", dead)
	}
	if r.count("r") != 1 {
		t.Error("a reply is not under the daily cap")
	}
	clk.Add(24 * time.Hour)
	ids, _, _ := q.Enqueue(bg, Message{MSISDN: "1", Text: "x", Kind: "alert", Priority: Bulk})
	eventually(t, 5*time.Second, "sent the next day", func() bool { return r.count(ids[0]) == 1 })
}

// A service's own cap holds beside the number's cap across services: two
// of market's four alerts go, and health's still go.
func TestServiceDailyCap(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	q := New(c, p, Options{Now: clk.Now, DailyCap: 5, Workers: 2,
		ServiceCap: func(sv string) int { return map[string]int{"market": 2}[sv] }})
	var msgs []Message
	for i := range 4 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("m%d", i), MSISDN: "1", Text: "x", Service: "market", Kind: "alert", Priority: Bulk, Group: "market"})
	}
	for i := range 2 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("h%d", i), MSISDN: "1", Text: "x", Service: "health", Kind: "reminder", Priority: Bulk, Group: "health"})
	}
	if _, _, err := q.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	start(t, q, newRecorder())
	done := func(g string) GroupStats { st, _ := q.Group(bg, g); return st }
	eventually(t, 5*time.Second, "all done", func() bool { return done("market").Queued == 0 && done("health").Queued == 0 })
	if m, h := done("market"), done("health"); m.Sent != 2 || m.Failed != 2 || h.Sent != 2 {
		t.Errorf("market %+v, health %+v: want market 2 sent 2 failed, health 2 sent", m, h)
	}
}

func TestCancel(t *testing.T) {
	c, p := redistest.Open(t)
	clk := newClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	q := New(c, p, Options{Now: clk.Now})
	var msgs []Message
	for i := range 100 {
		msgs = append(msgs, Message{MSISDN: fmt.Sprint(i), Text: "x", Kind: "broadcast", Priority: Bulk, Group: "b1"})
	}
	msgs = append(msgs, Message{MSISDN: "7", Text: "later", Kind: "broadcast", Priority: Bulk, Group: "b1", NotBefore: clk.Now().Add(time.Hour)})
	msgs = append(msgs, Message{MSISDN: "8", Text: "other", Kind: "broadcast", Priority: Bulk, Group: "b2"})
	if _, _, err := q.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := q.Cancel(bg, "b1"); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	start(t, q, r)
	eventually(t, 5*time.Second, "100 cancelled", func() bool { g, _ := q.Group(bg, "b1"); return g.Cancelled == 100 })
	clk.Add(time.Hour)
	eventually(t, 5*time.Second, "the deferred one cancelled too", func() bool { g, _ := q.Group(bg, "b1"); return g.Cancelled == 101 })
	eventually(t, 5*time.Second, "the other group sent", func() bool { g, _ := q.Group(bg, "b2"); return g.Sent == 1 })
	g, _ := q.Group(bg, "b1")
	if !g.Stopped || g.Total != 101 || g.Queued != 0 || g.Sent != 0 || r.sent() != 1 {
		t.Errorf("group %+v, %d sent", g, r.sent())
	}
}

func TestReceipts(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	var early atomic.Value
	r := newRecorder()
	r.fn = func(ctx context.Context, n int, to, text, ref string) error {
		if to == "early" {
			// The receipt can beat the worker's record of the send.
			if err := q.Receipt(ctx, ref, true, ""); err != nil {
				return err
			}
			early.Store(ref)
		}
		return nil
	}
	ids, _, err := q.Enqueue(bg,
		Message{MSISDN: "ok", Text: "x", Kind: "alert", Priority: Bulk, Group: "g"},
		Message{MSISDN: "bad", Text: "x", Kind: "alert", Priority: Bulk, Group: "g"},
		Message{MSISDN: "early", Text: "x", Kind: "alert", Priority: Bulk, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "sent", func() bool { g, _ := q.Group(bg, "g"); return g.Queued == 0 })
	if err := q.Receipt(bg, ids[0], true, ""); err != nil {
		t.Fatal(err)
	}
	if err := q.Receipt(bg, ids[1], false, "UNDELIV"); err != nil {
		t.Fatal(err)
	}
	_ = q.Receipt(bg, ids[0], false, "late duplicate") // a final state stays
	_ = q.Receipt(bg, "unknown", true, "")
	for i, want := range []string{StateDelivered, StateFailed, StateDelivered} {
		if s := mustStatus(t, q, ids[i]); s.State != want {
			t.Errorf("message %d: %+v, want %s", i, s, want)
		}
	}
	if s := mustStatus(t, q, ids[1]); s.Reason != "UNDELIV" {
		t.Errorf("failed reason %q", s.Reason)
	}
	g, _ := q.Group(bg, "g")
	if g != (GroupStats{Total: 3, Sent: 3, Delivered: 2, Failed: 1}) {
		t.Errorf("group = %+v", g)
	}
}

// A consumer that took entries and died without acknowledging them: a
// second instance takes them over after ClaimIdle and sends them; only
// those the dead one had really sent go out twice, and the queue counts
// them among the possibly resent.
func TestCrashedConsumerIsTakenOver(t *testing.T) {
	c, p := redistest.Open(t)
	var msgs []Message
	for i := range 200 {
		msgs = append(msgs, Message{ID: fmt.Sprintf("c%03d", i), MSISDN: fmt.Sprint(i), Text: "x", Kind: "alert", Priority: Bulk})
	}
	a := New(c, p, Options{Consumer: "a", Workers: 3, Batch: 50, Grace: -1})
	if _, _, err := a.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	smsc := newRecorder() // what reached the SMSC, from both instances
	var inflight sync.WaitGroup
	inflight.Add(3)
	dying := SenderFunc(func(ctx context.Context, to, text, ref string) error {
		_ = smsc.Deliver(ctx, to, text, ref) // the SMSC got it...
		inflight.Done()
		<-ctx.Done() // ...and the process died before it heard back
		return ctx.Err()
	})
	stopA := start(t, a, dying)
	inflight.Wait()
	stopA()
	if n := smsc.sent(); n != 3 {
		t.Fatalf("the dying instance sent %d, want 3", n)
	}
	b := New(c, p, Options{Consumer: "b", ClaimIdle: 300 * time.Millisecond})
	start(t, b, smsc)
	eventually(t, 10*time.Second, "all 200 sent", func() bool {
		for _, m := range msgs {
			if s := mustStatus(t, b, m.ID); s.State != StateSent {
				return false
			}
		}
		return true
	})
	dups := 0
	for _, m := range msgs {
		switch n := smsc.count(m.ID); {
		case n == 0:
			t.Errorf("%s never sent", m.ID)
		case n > 1:
			dups += n - 1
		}
	}
	st, _ := b.Stats(bg)
	t.Logf("duplicates %d; taken over while marked sending %d", dups, st.Resent)
	if dups != 3 || st.Resent < int64(dups) || st.Resent > int64(a.o.Readers*50) {
		t.Errorf("duplicates %d (want 3, the sends in flight), resent %d (want between them and a batch per reader)", dups, st.Resent)
	}
	if st.Bulk != 0 {
		t.Errorf("%d entries left in the stream", st.Bulk)
	}
}

func TestTwoInstancesShareTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	c, p := redistest.Open(t)
	const n = 10000
	q1 := New(c, p, Options{Consumer: "one"})
	q2 := New(c, p, Options{Consumer: "two"})
	var all []string
	for i := 0; i < n; i += 1000 {
		var msgs []Message
		for j := range 1000 {
			msgs = append(msgs, Message{ID: fmt.Sprintf("s%05d", i+j), MSISDN: fmt.Sprint(i + j), Text: "x", Kind: "broadcast", Priority: Bulk, Group: "big"})
			all = append(all, fmt.Sprintf("s%05d", i+j))
		}
		if _, _, err := q1.Enqueue(bg, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2 := newRecorder(), newRecorder()
	start(t, q1, r1)
	start(t, q2, r2)
	eventually(t, 60*time.Second, "all sent", func() bool { g, _ := q1.Group(bg, "big"); return g.Sent == n })
	for _, id := range all {
		if got := r1.count(id) + r2.count(id); got != 1 {
			t.Fatalf("%s sent %d times", id, got)
		}
	}
	st, _ := q1.Stats(bg)
	t.Logf("instance one sent %d, two %d; stats %+v", r1.sent(), r2.sent(), st)
	if r1.sent() == 0 || r2.sent() == 0 || st.Resent != 0 || st.Bulk != 0 {
		t.Errorf("one sent %d, two %d; stats %+v", r1.sent(), r2.sent(), st)
	}
}

func TestMessenger(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{HourlyCap: 1})
	m := q.Messenger("flow")
	if err := m.Send(bg, "254700000001", "your code is 1234"); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(bg, "254700000001", "again"); !errors.Is(err, ErrCapped) {
		t.Errorf("second flow sms in the hour: %v", err)
	}
	if st, _ := q.Stats(bg); st.High != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPanickingSenderIsAFailure(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	ids, _, _ := q.Enqueue(bg, Message{MSISDN: "1", Text: "x", Kind: "reply"})
	start(t, q, SenderFunc(func(context.Context, string, string, string) error { panic("boom") }))
	eventually(t, 5*time.Second, "failed", func() bool { return mustStatus(t, q, ids[0]).State == StateFailed })
	if s := mustStatus(t, q, ids[0]); !strings.Contains(s.Reason, "panicked") {
		t.Errorf("reason %q", s.Reason)
	}
}

// A live instance whose sends are slow keeps its entries: another one,
// taking over idle entries eagerly, does not send them a second time.
func TestSlowInstanceKeepsItsMessages(t *testing.T) {
	c, p := redistest.Open(t)
	const n = 10
	// ClaimIdle is long enough that a loaded machine's scheduling delays
	// do not stall the lease renewal (every ClaimIdle/3) past it, and the
	// sends together take well over it.
	a := New(c, p, Options{Consumer: "a", Workers: 1, Batch: n, ClaimIdle: time.Second})
	var msgs []Message
	for i := range n {
		msgs = append(msgs, Message{ID: fmt.Sprintf("s%d", i), MSISDN: fmt.Sprint(i), Text: "x", Kind: "reply"})
	}
	if _, _, err := a.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	smsc := newRecorder()
	first := make(chan struct{})
	var once sync.Once
	start(t, a, SenderFunc(func(ctx context.Context, to, text, ref string) error {
		once.Do(func() { close(first) })
		time.Sleep(250 * time.Millisecond) // n sends: far longer than ClaimIdle
		return smsc.Deliver(ctx, to, text, ref)
	}))
	<-first // a holds every entry now
	b := New(c, p, Options{Consumer: "b", ClaimIdle: time.Second})
	start(t, b, smsc)
	eventually(t, 10*time.Second, "all sent", func() bool { return smsc.sent() >= n })
	for _, m := range msgs {
		if got := smsc.count(m.ID); got != 1 {
			t.Errorf("%s sent %d times", m.ID, got)
		}
	}
	if st, _ := a.Stats(bg); st.Resent != 0 {
		t.Errorf("%d taken over from a live instance", st.Resent)
	}
}

// AllowBatch answers for a read's Bulk messages at once; when it fails,
// Allow is asked one by one, and with no Allow the messages wait.
func TestAllowBatch(t *testing.T) {
	optedOut := func(msisdn string) bool { return msisdn == "254700000500" }
	tests := []struct {
		name      string
		batchErr  bool
		withAllow bool
		wantSent  int64 // of the 100 allowed ones
		wantSupp  int64 // of the 100 opted out
	}{
		{"batch answers", false, false, 100, 100},
		{"batch fails, Allow asked", true, true, 100, 100},
		{"batch fails, no Allow: they wait", true, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := redistest.Open(t)
			var batchCalls, batchQuestions, allowCalls atomic.Int64
			o := Options{Workers: 4, Batch: 50, Backoff: func(int) time.Duration { return time.Hour }}
			o.AllowBatch = func(ctx context.Context, msisdns, services []string) ([]bool, error) {
				batchCalls.Add(1)
				batchQuestions.Add(int64(len(msisdns)))
				if tt.batchErr {
					return nil, errors.New("redis down")
				}
				out := make([]bool, len(msisdns))
				for i, m := range msisdns {
					out[i] = !optedOut(m) && services[i] == "market"
				}
				return out, nil
			}
			if tt.withAllow {
				o.Allow = func(ctx context.Context, msisdn, service string) (bool, error) {
					allowCalls.Add(1)
					return !optedOut(msisdn), nil
				}
			}
			q := New(c, p, o)
			var msgs []Message
			for i := range 100 {
				msgs = append(msgs,
					Message{ID: fmt.Sprintf("m%03d", i), MSISDN: "254700000500", Text: "x", Service: "market", Kind: "alert", Priority: Bulk, Group: "g"},
					Message{ID: fmt.Sprintf("o%03d", i), MSISDN: "254700000999", Text: "x", Service: "market", Kind: "alert", Priority: Bulk, Group: "g"})
			}
			msgs = append(msgs, Message{ID: "r", MSISDN: "254700000500", Text: "x", Kind: "reply", Priority: High})
			if _, _, err := q.Enqueue(bg, msgs...); err != nil {
				t.Fatal(err)
			}
			r := newRecorder()
			start(t, q, r)
			g := func() GroupStats { g, _ := q.Group(bg, "g"); return g }
			if tt.wantSent == 0 {
				eventually(t, 5*time.Second, "all asked", func() bool { return batchQuestions.Load() >= 200 })
				eventually(t, 5*time.Second, "all back in the queue", func() bool { st, _ := q.Stats(bg); return st.Delayed == 200 })
			} else {
				eventually(t, 5*time.Second, "all done", func() bool { return g().Queued == 0 })
			}
			if got := g(); got.Sent != tt.wantSent || got.Suppressed != tt.wantSupp {
				t.Errorf("group %+v, want %d sent, %d suppressed", got, tt.wantSent, tt.wantSupp)
			}
			if r.count("r") != 1 {
				t.Error("a High message was held by the consent check")
			}
			if n := batchQuestions.Load(); n != 200 {
				t.Errorf("AllowBatch asked about %d messages, want the 200 Bulk ones", n)
			}
			if n := batchCalls.Load(); n > 200/25 {
				t.Errorf("AllowBatch called %d times for 200 messages in reads of 50", n)
			}
			if want := map[bool]int64{true: 200, false: 0}[tt.withAllow]; allowCalls.Load() != want {
				t.Errorf("Allow called %d times, want %d", allowCalls.Load(), want)
			}
		})
	}
}

// The take counts the daily cap only of the messages that are to go: an
// opted-out or quiet-hours message takes nothing of the cap, and a message
// sent again after a failed try counts once.
func TestDailyCapCountedAtTake(t *testing.T) {
	const num = "254700000500"
	tests := []struct {
		name                 string
		msgs                 []Message
		failFirst            bool // the first send fails for a while
		sent, supp, failed   int64
		deferred, wantCounts string
	}{
		{"opted out and quiet ones take nothing", []Message{
			{ID: "o1", Service: "opt"}, {ID: "o2", Service: "opt"}, {ID: "o3", Service: "opt"},
			{ID: "n1", Service: "night"}, {ID: "n2", Service: "night"},
			{ID: "k1", Service: "ok"}, {ID: "k2", Service: "ok"}, {ID: "k3", Service: "ok"},
		}, false, 2, 3, 1, "n1,n2", "2"},
		{"a retried message counts once", []Message{{ID: "k1", Service: "ok"}}, true, 1, 0, 0, "", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := redistest.Open(t)
			clk := newClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
			q := New(c, p, Options{Now: clk.Now, DailyCap: 2, Workers: 2, Batch: 50, Backoff: fastBackoff,
				AllowBatch: func(ctx context.Context, msisdns, services []string) ([]bool, error) {
					out := make([]bool, len(msisdns))
					for i := range out {
						out[i] = services[i] != "opt"
					}
					return out, nil
				},
				Quiet: func(sv string, now time.Time) (time.Time, bool) {
					return now.Add(12 * time.Hour), sv == "night"
				}})
			msgs := make([]Message, len(tt.msgs))
			for i, m := range tt.msgs {
				m.MSISDN, m.Text, m.Kind, m.Priority, m.Group = num, "x", "alert", Bulk, "g"
				msgs[i] = m
			}
			if _, _, err := q.Enqueue(bg, msgs...); err != nil {
				t.Fatal(err)
			}
			r := newRecorder()
			var failed atomic.Bool
			if tt.failFirst {
				r.fn = func(ctx context.Context, n int, to, text, ref string) error {
					if !failed.Swap(true) {
						return tempErr{}
					}
					return nil
				}
			}
			start(t, q, r)
			g := func() GroupStats { g, _ := q.Group(bg, "g"); return g }
			want := int64(len(tt.msgs)) - int64(len(strings.Split(tt.deferred, ","))*min(len(tt.deferred), 1))
			eventually(t, 5*time.Second, "all done", func() bool {
				clk.Add(time.Second) // retries come due
				g := g()
				return g.Sent+g.Suppressed+g.Failed == want
			})
			if got := g(); got.Sent != tt.sent || got.Suppressed != tt.supp || got.Failed != tt.failed {
				t.Errorf("group %+v, want %d sent, %d suppressed, %d failed", got, tt.sent, tt.supp, tt.failed)
			}
			for _, id := range strings.Split(tt.deferred, ",") {
				if id != "" {
					if s := mustStatus(t, q, id); s.State != StateDeferred {
						t.Errorf("%s: %+v, want deferred", id, s)
					}
				}
			}
			n, err := c.HGet(bg, p+"{outbox}:cap:d:20261130", num).Result()
			if err != nil || n != tt.wantCounts {
				t.Errorf("the number's count for the day = %q (%v), want %s", n, err, tt.wantCounts)
			}
		})
	}
}
