package main

import (
	"syscall"
	"testing"
	"time"

	mtq "github.com/ussdgw/ussdgw/outbox"
)

// TestGatewayTerminatedMidBroadcast is TestGatewayKilledMidBroadcast with
// SIGTERM: phase 3 of the shutdown stops the outbox while the binds are
// still up, so every send under way finishes and is recorded; what was
// taken and not sent stays pending. The process exits 0, and after a
// restart the SMSC has accepted every message exactly once.
func TestGatewayTerminatedMidBroadcast(t *testing.T) {
	const n = 3000
	r := newBroadcastRig(t, n, "term", "info", 1)
	c, prefix, smsc := r.c, r.prefix, r.smsc
	group, waitGroup := r.group, r.wait

	first := r.start()
	waitGroup("a third sent", 60*time.Second, func(g mtq.GroupStats) bool { return g.Sent >= n/3 })
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := first.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM: %v\n%s", err, first.logs.String())
	}
	sentBefore := group().Sent
	left := markedSending(t, c, prefix)
	// Those left marked were taken from the stream but not yet sent: they
	// stay pending and another instance takes them over after
	// outbox_claim_idle. None was sent twice (checked below).
	t.Logf("SIGTERM with %d of %d recorded as sent, %d taken and handed back", sentBefore, n, left)
	if sentBefore >= n {
		t.Fatal("the gateway finished before SIGTERM: nothing was tested")
	}

	second := r.start()
	// Sent, not delivered: a receipt may be lost to a slow shared Redis
	// (the store's short deadline), which is not what is tested here.
	waitGroup("all sent", 120*time.Second, func(g mtq.GroupStats) bool { return g.Sent == n })
	_ = second.cmd.Process.Signal(syscall.SIGTERM)
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("the second gateway did not stop cleanly: %v", err)
	}
	counts := smsc.Counts()
	if counts.Num("distinct") != n || counts.Num("total") != n {
		t.Errorf("the smsc accepted %d messages (%d distinct), want each of %d once", counts.Num("total"), counts.Num("distinct"), n)
	}
}
