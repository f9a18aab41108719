package outbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/redistest"
)

// idSender is an IDSender whose SMSC gives the ids parts[to] for a message
// to number to; before it answers, early (when set) may report receipts,
// as an SMSC's receipt can beat the record of the send.
type idSender struct {
	parts map[string][]string
	early func(ctx context.Context, to string, ids []string) error
	mu    sync.Mutex
	sent  map[string]int
}

func (s *idSender) Deliver(ctx context.Context, to, text, ref string) error {
	_, err := s.DeliverID(ctx, to, text, ref)
	return err
}

func (s *idSender) DeliverID(ctx context.Context, to, text, ref string) ([]string, error) {
	ids := s.parts[to]
	if s.early != nil {
		if err := s.early(ctx, to, ids); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.sent[to]++
	s.mu.Unlock()
	return ids, nil
}

// Receipts matched by SMSC id (ReceiptFor): after the send is recorded,
// before it (kept, then applied by the record), for a message of several
// parts (delivered once every part is, failed by the first that failed),
// duplicates, and an id no message has.
func TestReceiptFor(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	receipt := func(ctx context.Context, id string, delivered bool, reason string) bool {
		t.Helper()
		known, err := q.ReceiptFor(ctx, []string{id}, delivered, reason)
		if err != nil {
			t.Fatal(err)
		}
		return known
	}
	s := &idSender{sent: map[string]int{}, parts: map[string][]string{
		"after": {"101"}, "early": {"102"}, "early-failed": {"103"},
		"two": {"201", "202"}, "two-early": {"211", "212"}, "two-failed": {"221", "222"},
		"spaced": {"id 7 a", "id 7 b"}, // an SMSC id is any C string
	}}
	s.early = func(ctx context.Context, to string, ids []string) error {
		switch to {
		case "early":
			if receipt(ctx, ids[0], true, "") {
				t.Errorf("receipt of %s known before its send was recorded", to)
			}
		case "early-failed":
			receipt(ctx, ids[0], false, "UNDELIV err:001")
		case "two-early": // one part's receipt early, the other's after
			receipt(ctx, ids[1], true, "")
		}
		return nil
	}
	var msgs []Message
	for _, to := range []string{"after", "early", "early-failed", "two", "two-early", "two-failed", "spaced"} {
		msgs = append(msgs, Message{ID: "m-" + to, MSISDN: to, Text: "x", Kind: "alert", Priority: Bulk, Group: "g"})
	}
	if _, _, err := q.Enqueue(bg, msgs...); err != nil {
		t.Fatal(err)
	}
	start(t, q, s)
	eventually(t, 5*time.Second, "all sent", func() bool { g, _ := q.Group(bg, "g"); return g.Queued == 0 })

	for _, r := range []struct {
		id        string
		delivered bool
		reason    string
	}{
		{"101", true, ""},
		{"101", false, "late duplicate"}, // a final state stays
		{"201", true, ""},
		{"201", true, ""}, // the same part again: still one of two
		{"211", true, ""},
		{"221", true, ""},
		{"222", false, "REJECTD err:00b"},
		{"id 7 a", true, ""},
		{"id 7 b", true, ""},
	} {
		if !receipt(bg, r.id, r.delivered, r.reason) {
			t.Errorf("receipt of %s not known after its send was recorded", r.id)
		}
	}
	want := map[string]string{"after": StateDelivered, "early": StateDelivered, "early-failed": StateFailed,
		"two": StateSent, "two-early": StateDelivered, "two-failed": StateFailed, "spaced": StateDelivered}
	for to, st := range want {
		if got := mustStatus(t, q, "m-"+to); got.State != st {
			t.Errorf("%s: %+v, want %s", to, got, st)
		}
	}
	if got := mustStatus(t, q, "m-early-failed"); got.Reason != "UNDELIV err:001" {
		t.Errorf("early failed receipt's reason %q", got.Reason)
	}
	if receipt(bg, "202", true, ""); mustStatus(t, q, "m-two").State != StateDelivered {
		t.Errorf("two parts delivered, message %+v", mustStatus(t, q, "m-two"))
	}
	g, _ := q.Group(bg, "g")
	if g != (GroupStats{Total: 7, Sent: 7, Delivered: 5, Failed: 2}) {
		t.Errorf("group = %+v", g)
	}
	for to, n := range s.sent {
		if n != 1 {
			t.Errorf("%s sent %d times", to, n)
		}
	}

	// An id nobody sent: not known, kept for a while, then gone.
	if receipt(bg, "999", true, "") {
		t.Error("receipt of an unknown id known")
	}
	ttl, err := c.TTL(bg, q.k.early+"999").Result()
	if err != nil || ttl <= 0 || ttl > earlyReceiptTTL {
		t.Errorf("early receipt kept for %v (%v), want up to %v", ttl, err, earlyReceiptTTL)
	}
	for _, id := range []string{"102", "103", "212"} {
		if n, _ := c.Exists(bg, q.k.early+id).Result(); n != 0 {
			t.Errorf("early receipt %s left behind once applied", id)
		}
	}
	if ttl, _ := c.TTL(bg, q.k.sid+"101").Result(); ttl < 71*time.Hour {
		t.Errorf("SMSC id kept for %v, want the receipt TTL (72h)", ttl)
	}
}

// The forms of a receipt's id are tried in order; a receipt that matches
// none is kept under the first.
func TestReceiptForForms(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	s := &idSender{sent: map[string]int{}, parts: map[string][]string{"a": {"9796"}}}
	if _, _, err := q.Enqueue(bg, Message{ID: "m-a", MSISDN: "a", Text: "x", Kind: "alert", Priority: Bulk}); err != nil {
		t.Fatal(err)
	}
	start(t, q, s)
	eventually(t, 5*time.Second, "sent", func() bool { return mustStatus(t, q, "m-a").State == StateSent })
	known, err := q.ReceiptFor(bg, []string{"38806", "9796"}, true, "")
	if err != nil || !known {
		t.Fatalf("ReceiptFor(38806, 9796) = %v, %v", known, err)
	}
	if st := mustStatus(t, q, "m-a"); st.State != StateDelivered {
		t.Errorf("%+v", st)
	}
	if known, _ := q.ReceiptFor(bg, []string{"5", "6"}, true, ""); known {
		t.Error("unknown ids known")
	}
	for id, want := range map[string]int64{"5": 1, "6": 0} {
		if n, _ := c.Exists(bg, q.k.early+id).Result(); n != want {
			t.Errorf("early receipt under %s: %d, want %d", id, n, want)
		}
	}
	if _, err := q.ReceiptFor(bg, nil, true, ""); err == nil {
		t.Error("no id: no error")
	}
}
