package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestGatewayTerminatedMidBroadcast is TestGatewayKilledMidBroadcast with
// SIGTERM: phase 3 of the shutdown stops the outbox while the binds are
// still up, so every send under way finishes and is recorded; what was
// taken and not sent stays pending. The process exits 0, and after a
// restart the SMSC has accepted every message exactly once.
func TestGatewayTerminatedMidBroadcast(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and sends 3,000 SMS")
	}
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	c, err := ussd.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Skipf("no redis at %s: %v", url, err)
	}
	prefix := "test:" + randomHex(6) + ":"
	t.Cleanup(func() { deleteKeys(c, prefix); c.Close() })

	bin := filepath.Join(t.TempDir(), "ussdgw")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the gateway: %v\n%s", err, out)
	}
	smsc := nodetest.Start(t)
	smsc.Do(map[string]any{"cmd": "set", "quiet": true, "count": true, "dlr": map[string]any{"mode": "tlv"}})
	cfg := writeConfig(t, examplesConfig(t)+fmt.Sprintf(`redis_prefix: %q
outbox_claim_idle: 2s
log_level: info
smpp:
  connections:
    - name: sim-a
      group: sim
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "384", ton: 3, npi: 0}]
      reconnect: {min: 10ms, max: 100ms}
      window: 20
  sms: {source: "384"}
`, prefix, smsc.Addr()))

	q := mtq.New(c, prefix, mtq.Options{})
	const n = 3000
	for i := 0; i < n; i += 1000 {
		var msgs []mtq.Message
		for j := i; j < i+1000; j++ {
			msgs = append(msgs, mtq.Message{ID: fmt.Sprintf("t%05d", j), MSISDN: fmt.Sprintf("2547%08d", j),
				Text: fmt.Sprintf("alert %d", j), Service: "market", Kind: "alert", Priority: mtq.Bulk, Group: "term"})
		}
		if _, _, err := q.Enqueue(t.Context(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	group := func() mtq.GroupStats {
		g, err := q.Group(context.Background(), "term")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	waitGroup := func(what string, within time.Duration, ok func(mtq.GroupStats) bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok(group()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s: group %+v", what, within, group())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	first := startGateway(t, bin, cfg, url)
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

	second := startGateway(t, bin, cfg, url)
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
