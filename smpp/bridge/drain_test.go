package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp/nodetest"
)

// TestDrainAnswersAcknowledgedSteps: a step acknowledged before the
// shutdown is answered, on a transmitter bound for the purpose, after the
// transceivers unbound; nothing is refused, and nothing can be delivered
// to the draining gateway any more (the SMSC sends new dialogues to the
// other instances of the group).
func TestDrainAnswersAcknowledgedSteps(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254700000031"
	r.step(msisdn, dm{op: 1, text: "*500#", its: "4100"})
	r.adapters.delay.Store(int64(300 * time.Millisecond))
	from, tag := r.ussdFrom(msisdn, dm{op: 0x12, text: "2", its: "4100"}) // the price: an adapter call
	if resp := r.smsc.Response(from, tag, 5*time.Second); resp.Num("status") != 0 {
		t.Fatalf("deliver_sm answered %#x", resp.Num("status"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.hub.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n := r.hub.Steps(); n != 0 {
		t.Errorf("%d steps in flight after Drain", n)
	}
	s := r.screen(from, msisdn)
	if s.Str("text") != "Price of the day: 120 a kilo." {
		t.Errorf("screen %q", s.Str("text"))
	}
	tx := map[int]bool{}
	for _, b := range r.smsc.Filter(from, nodetest.IsEv("bind")) {
		if b.Str("command") == "bind_transmitter" {
			tx[b.Num("session")] = true
		}
	}
	if len(tx) != 2 {
		t.Errorf("%d transmitters bound for the drain, want one per connection", len(tx))
	}
	unbound := map[int]bool{}
	for _, u := range r.smsc.Filter(from, nodetest.IsEv("unbind")) {
		unbound[u.Num("session")] = true
	}
	for _, id := range r.sessions {
		if !unbound[id] {
			t.Errorf("transceiver session %d did not unbind", id)
		}
	}
	if !tx[s.Num("session")] && unbound[s.Num("session")] {
		t.Errorf("the screen left on session %d, an unbound transceiver", s.Num("session"))
	}
	for _, id := range r.sessions {
		r.smsc.WaitFor(from, 5*time.Second, "close", func(e nodetest.Event) bool { return e.Str("ev") == "close" && e.Num("session") == id })
	}
	mark := r.smsc.Mark()
	r.ussdFrom("254700000032", dm{op: 1, text: "*500#", its: "4200"})
	if e := r.smsc.Filter(mark, nodetest.IsEv("error")); len(e) != 1 || e[0].Str("message") != "no session" {
		t.Errorf("a new dialogue after Drain: %v, want no receiving bind", e)
	}
}
