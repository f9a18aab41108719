package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/redistest"
)

// A dead letter sent again: it leaves the dead letters, goes once more
// (with its text), and its group counts it sent instead of failed; a
// message that is not a dead letter cannot be resent.
func TestResendDeadLetter(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	ids, _, err := q.Enqueue(bg,
		Message{ID: "ok", MSISDN: "254700000001", Text: "fine", Kind: "alert", Priority: Bulk, Group: "g"},
		Message{ID: "bad", MSISDN: "254700000002", Text: "the text of bad", Kind: "alert", Priority: Bulk, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	var refuse atomic.Bool
	refuse.Store(true)
	texts := make(chan string, 4)
	stop := start(t, q, SenderFunc(func(_ context.Context, _, text, ref string) error {
		if ref == "bad" && refuse.Load() {
			return errPerm
		}
		texts <- ref + ": " + text
		return nil
	}))
	defer stop()
	eventually(t, 5*time.Second, "bad dead-lettered", func() bool { return mustStatus(t, q, ids[1]).State == StateFailed })
	if d, _ := q.Dead(bg, 10); len(d) != 1 || d[0].ID != "bad" {
		t.Fatalf("dead letters %+v", d)
	}
	for _, id := range []string{"ok", "nope"} {
		if err := q.Resend(bg, id); !errors.Is(err, ErrNotDead) {
			t.Errorf("Resend(%s) = %v, want ErrNotDead", id, err)
		}
	}
	refuse.Store(false)
	if err := q.Resend(bg, "bad"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bad sent", func() bool { return mustStatus(t, q, "bad").State == StateSent })
	if got := <-texts + " | " + <-texts; got != "ok: fine | bad: the text of bad" && got != "bad: the text of bad | ok: fine" {
		t.Errorf("sent %s", got)
	}
	if g, _ := q.Group(bg, "g"); g.Sent != 2 || g.Failed != 0 || g.Queued != 0 {
		t.Errorf("group %+v: want 2 sent, none failed", g)
	}
	if d, _ := q.Dead(bg, 10); len(d) != 0 {
		t.Errorf("dead letters after the resend: %+v", d)
	}
	if err := q.Resend(bg, "bad"); !errors.Is(err, ErrNotDead) {
		t.Errorf("a second Resend: %v", err)
	}
}
