package smpp

import (
	"context"
	"testing"
	"time"
)

// StopReceiving against node-smpp: the receiving bind ends (for a
// transceiver only once a transmitter is bound and the submits on the
// transceiver are answered), nothing can be delivered to us any more, and
// submits go on over the transmitter until Close.
func TestNodeStopReceiving(t *testing.T) {
	for _, bt := range []BindType{BindTRX, BindTXRX} {
		t.Run(string(bt), func(t *testing.T) {
			smsc := startNodeSMSC(t)
			cfg := testConfig(smsc.addr())
			cfg.Bind = bt
			c, err := New(cfg, newInbox(), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(context.Background()) })
			if err := c.WaitBound(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			binds := smsc.waitCount(0, len(c.sessions), 5*time.Second, "bind", isEv("bind"))
			rxSession := 0
			for _, b := range binds {
				if b.Str("command") != "bind_transmitter" {
					rxSession = b.Num("session")
				}
			}

			// A submit in flight when StopReceiving starts.
			smsc.do(map[string]any{"cmd": "set", "withhold": true})
			from := smsc.mark()
			held := make(chan error, 1)
			go func() {
				_, err := c.Submit(t.Context(), &ShortMessage{Dest: Addr{Addr: "254700000001"}, Body: []byte("before")})
				held <- err
			}()
			smsc.waitFor(from, 5*time.Second, "held submit_sm", isEv("submit_sm"))
			stopped := make(chan error, 1)
			go func() {
				ok, err := c.StopReceiving(ctxT(t, 10*time.Second))
				if err == nil && !ok {
					t.Error("StopReceiving kept the receiving bind")
				}
				stopped <- err
			}()
			if bt == BindTRX {
				b := smsc.waitFor(from, 5*time.Second, "transmitter bind", isEv("bind"))
				if b.Str("command") != "bind_transmitter" || !b["ok"].(bool) {
					t.Fatalf("StopReceiving bound %v, want a transmitter", b)
				}
				// The transceiver waits for its submit's response.
				smsc.sync()
				if u := smsc.filter(from, isEv("unbind")); len(u) > 0 {
					t.Fatalf("transceiver unbound with a submit in flight: %v", u)
				}
			}
			mark := smsc.mark()
			smsc.do(map[string]any{"cmd": "release"})
			if err := <-held; err != nil {
				t.Fatalf("the submit in flight: %v", err)
			}
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			u := smsc.waitFor(from, 5*time.Second, "unbind", isEv("unbind"))
			if u.Num("session") != rxSession {
				t.Errorf("unbind on session %d, want the receiving one %d", u.Num("session"), rxSession)
			}
			if bt == BindTRX && len(smsc.filter(mark, isEv("unbind"))) == 0 {
				t.Error("the transceiver unbound before its submit was answered")
			}

			// Nothing can be delivered to us now; submits still go out,
			// on a session that is not the receiving one.
			smsc.waitFor(from, 5*time.Second, "close of the receiving session", func(e event) bool {
				return e.Str("ev") == "close" && e.Num("session") == rxSession
			})
			from = smsc.mark()
			smsc.do(map[string]any{"cmd": "send", "command": "deliver_sm", "fields": map[string]any{"source_addr": "254700000002", "short_message": "hi"}})
			if e := smsc.filter(from, isEv("error")); len(e) != 1 || e[0].Str("message") != "no session" {
				t.Errorf("deliver_sm after StopReceiving: %v, want no receiving session", e)
			}
			if _, err := c.Submit(ctxT(t, 5*time.Second), &ShortMessage{Dest: Addr{Addr: "254700000001"}, Body: []byte("after")}); err != nil {
				t.Fatalf("submit after StopReceiving: %v", err)
			}
			sm := smsc.waitFor(from, 5*time.Second, "submit_sm", isEv("submit_sm"))
			if sm.Num("session") == rxSession {
				t.Errorf("submit went on the unbound session %d", rxSession)
			}
			if err := c.Close(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			smsc.waitFor(from, 5*time.Second, "unbind of the transmitter", isEv("unbind"))
		})
	}
}

// When the SMSC refuses the transmitter, the transceiver stays bound (its
// steps are answered on it) and StopReceiving says so; Close unbinds it.
func TestNodeStopReceivingWithoutTransmitter(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfg := testConfig(smsc.addr())
	c, err := New(cfg, newInbox(), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	if err := c.WaitBound(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	smsc.do(map[string]any{"cmd": "set", "password": "changed"})
	from := smsc.mark()
	ok, err := c.StopReceiving(ctxT(t, 10*time.Second))
	if ok || err == nil {
		t.Fatalf("StopReceiving with the transmitter refused: %v %v, want false and why", ok, err)
	}
	smsc.sync()
	if u := smsc.filter(from, isEv("unbind")); len(u) > 0 {
		t.Fatalf("the transceiver unbound without a transmitter: %v", u)
	}
	if c.Status().Sessions[0].State != StateBound {
		t.Errorf("transceiver state %s", c.Status().Sessions[0].State)
	}
	if _, err := c.Submit(ctxT(t, 5*time.Second), &ShortMessage{Dest: Addr{Addr: "254700000001"}, Body: []byte("still")}); err != nil {
		t.Fatalf("submit on the kept transceiver: %v", err)
	}
	if err := c.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	smsc.waitFor(from, 5*time.Second, "unbind", isEv("unbind"))
}
