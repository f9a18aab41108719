package outbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/internal/redistest"
)

// TestLegacyLayout: in a rolling upgrade, what an instance of the layout
// before queued (the text only in t:<id>, the streams s:high and s:bulk,
// as its enqueue script wrote them) is sent with its text, once, and its
// text key dropped; what this one queues goes to its own streams, which an
// older instance does not read (it would send those without their text).
func TestLegacyLayout(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	now := time.Now().UnixMilli()
	legacy := []struct{ id, to, pri, stream string }{
		{"old-h", "254700000001", "h", q.k.oldHigh},
		{"old-b", "254700000002", "b", q.k.oldBulk},
	}
	_, err := c.Pipelined(bg, func(pl redis.Pipeliner) error {
		for _, m := range legacy {
			pl.HSet(bg, q.k.msg+m.id, "to", m.to, "sv", "market", "kd", "alert", "pr", m.pri, "gr", "g", "na", 0,
				"st", StateQueued, "at", 0, "up", now)
			pl.Set(bg, q.k.text+m.id, "text of "+m.id, time.Hour)
			pl.HIncrBy(bg, q.k.group+"g", "total", 1)
			pl.HIncrBy(bg, q.k.group+"g", "queued", 1)
			v := []any{"i", m.id}
			if m.pri == "b" {
				v = append(v, "t", m.to, "s", "market")
			}
			pl.XAdd(bg, &redis.XAddArgs{Stream: m.stream, Values: v})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Enqueue(bg, Message{ID: "new-b", MSISDN: "254700000003", Text: "text of new-b", Service: "market",
		Kind: "alert", Priority: Bulk, Group: "g"}); err != nil {
		t.Fatal(err)
	}
	for st, want := range map[string]int64{q.k.bulk: 1, q.k.oldBulk: 1, q.k.oldHigh: 1, q.k.high: 0} {
		if n, _ := c.XLen(bg, st).Result(); n != want {
			t.Errorf("%s holds %d entries before the run, want %d", st, n, want)
		}
	}
	var mu sync.Mutex
	texts := map[string]string{}
	r := newRecorder()
	r.fn = func(_ context.Context, _ int, _, text, ref string) error {
		mu.Lock()
		texts[ref] = text
		mu.Unlock()
		return nil
	}
	start(t, q, r)
	eventually(t, 5*time.Second, "all three sent", func() bool { g, _ := q.Group(bg, "g"); return g.Sent == 3 })
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"old-h", "old-b", "new-b"} {
		if texts[id] != "text of "+id || r.count(id) != 1 {
			t.Errorf("%s: sent %d times with text %q", id, r.count(id), texts[id])
		}
		if n, _ := c.Exists(bg, q.k.text+id).Result(); n != 0 {
			t.Errorf("%s: its text key is still there", id)
		}
	}
}
