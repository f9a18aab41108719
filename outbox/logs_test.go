package outbox

import (
	"context"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// A message that fails and is dead-lettered is logged (at debug for each
// retry, at warn when it gives up) without its number, in its own field or
// inside its id (broadcast and alert ids end with the number), and without
// its text.
func TestFailuresLogNoNumberNorText(t *testing.T) {
	const (
		number = "254700000417"
		text   = "Your harvest code is 4711, valid until Friday"
	)
	c, p := redistest.Open(t)
	chk := logcheck.NewChecker(t)
	chk.Forbid(text, number)
	q := New(c, p, Options{Backoff: fastBackoff, MaxAttempts: 3, Log: chk.Logger(nil)})
	r := newRecorder()
	r.fn = func(context.Context, int, string, string, string) error { return tempErr{} }
	ids, _, err := q.Enqueue(bg, Message{ID: "harvest-1:" + number, MSISDN: number, Text: text, Kind: "broadcast", Priority: Bulk})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "failed", func() bool { return mustStatus(t, q, ids[0]).State == StateFailed })
	// Three attempts: two retries at debug and the dead letter at warn.
	eventually(t, 5*time.Second, "logged", func() bool { return chk.Lines() >= 3 })
}

// A message's status record is kept for Options.TTL (the gateway's
// -outbox-retention), not longer.
func TestStatusRecordKeptForTTL(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{TTL: 36 * time.Hour})
	ids, _, err := q.Enqueue(bg, Message{MSISDN: "254700000418", Text: "x", Kind: "reminder", Priority: Bulk})
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TTL(bg, q.k.msg+ids[0]).Result()
	if err != nil || ttl <= 35*time.Hour || ttl > 36*time.Hour {
		t.Errorf("status record TTL = %s, %v; want 36h", ttl, err)
	}
}
