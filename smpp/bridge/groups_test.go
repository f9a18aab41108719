package bridge_test

import (
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
)

// waitGroups polls the Hub's groups until ok, or fails after within.
func waitGroups(t *testing.T, h *bridge.Hub, within time.Duration, what string, ok func([]bridge.GroupState) bool) []bridge.GroupState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g := h.Groups()
		if ok(g) {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %s, %s: groups %+v", within, what, g)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQueuedWhileUnbound: with every bind of the SMS group down (the SMSC
// refuses the binds), the Hub's groups say so, queued MT SMS wait in the
// outbox and none is lost nor sent twice; once the SMSC takes binds again
// every one is sent and delivered, and the group is bound again.
func TestQueuedWhileUnbound(t *testing.T) {
	r := newPushRig(t)
	g := r.hub.Groups()
	if len(g) != 1 || g[0].Name != "op" || g[0].Total != 2 || g[0].Bound != 2 || !g[0].SMS || g[0].USSD {
		t.Fatalf("groups when bound: %+v", g)
	}

	// Refuse new binds, then cut both connections.
	from := r.smsc.Mark()
	r.smsc.Do(map[string]any{"cmd": "set", "password": "changed"})
	r.smsc.Do(map[string]any{"cmd": "close"})
	waitGroups(t, r.hub, 5*time.Second, "both binds down", func(g []bridge.GroupState) bool { return g[0].Bound == 0 })
	// The client tries again and is refused: the outage is real.
	r.smsc.WaitCount(from, 2, 5*time.Second, "refused binds", func(e nodetest.Event) bool {
		return e.Str("ev") == "bind" && e.Has("ok") && e["ok"] == false
	})

	const n = 200
	r.enqueue(t, "outage", n)
	// While the binds are refused nothing leaves: wait for more refused
	// binds (time passes for the queue's workers), then look.
	mark := r.smsc.Mark()
	r.smsc.WaitCount(mark, 40, 10*time.Second, "more refused binds", func(e nodetest.Event) bool {
		return e.Str("ev") == "bind" && e["ok"] == false
	})
	st, err := r.q.Group(t.Context(), "outage")
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 0 || st.Failed != 0 || st.Total != n {
		t.Fatalf("while unbound: %+v, want %d queued, none sent or failed", st, n)
	}

	// The SMSC takes binds again: everything queued goes out once.
	r.smsc.Do(map[string]any{"cmd": "set", "password": "secret"})
	waitGroups(t, r.hub, 10*time.Second, "bound again", func(g []bridge.GroupState) bool { return g[0].Bound == 2 })
	got := r.waitDelivered(t, "outage", n, 30*time.Second)
	c := r.smsc.Counts()
	if got.Failed != 0 || c.Num("total") != n || c.Num("distinct") != n {
		t.Errorf("after the binds came back: group %+v, smsc accepted %d (%d distinct), want %d once each", got, c.Num("total"), c.Num("distinct"), n)
	}
}
