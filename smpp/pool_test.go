package smpp

import (
	"testing"
	"time"
)

// TestPool answers a deliver_sm on another bind when its own is down.
func TestPool(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfgA, cfgB := testConfig(smsc.addr()), testConfig(smsc.addr())
	cfgA.Name, cfgB.Name = "a", "b"
	a, b := startClient(t, cfgA, newInbox()), startClient(t, cfgB, newInbox())
	if _, err := NewPool(a, a); err == nil {
		t.Error("a pool with a bind twice")
	}
	p, err := NewPool(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Pick(b); c != b {
		t.Errorf("Pick(b) = %s with b bound", c.Name())
	}
	if err := b.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	from := smsc.mark()
	res, err := p.Submit(ctxT(t, 5*time.Second), b, &ShortMessage{Source: Addr{Addr: "384"}, Dest: Addr{Addr: "254700000015"}, Body: []byte("x")}, NoRetry())
	if err != nil || res.MessageID == "" {
		t.Fatalf("Submit = %+v, %v", res, err)
	}
	smsc.waitFor(from, 5*time.Second, "submit_sm", isEv("submit_sm"))
	if p.Client("a") != a || p.Client("c") != nil {
		t.Error("Client by name")
	}
}
