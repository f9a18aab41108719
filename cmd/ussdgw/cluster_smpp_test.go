package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
	"github.com/ussdgw/ussdgw/smpp/smsc"
)

// TestClusterSMPP: two gateways on a Redis Cluster, each bound to one
// simulated USSDC (smpp/smsc, the spec profile), which hands each
// deliver_sm to the binds in turn, so the steps of one session land on
// both instances: market sessions of 4 steps see the expected screens,
// before, during and after a master's failover (CLUSTER FAILOVER).
func TestClusterSMPP(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{PartialCoverage: true})
	want := referenceScreens(t)
	srv, err := smsc.Start(smsc.Config{Profile: smsc.Spec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv("USSDGW_TEST_SMPP_PW", "secret")
	cfg := writeConfig(t, examplesConfig(t)+fmt.Sprintf(`smpp:
  connections:
    - name: usssdc
      group: ussdc
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "384"}]
      reconnect: {min: 10ms, max: 100ms}
      ussd: {profile: spec}
`, srv.Addr()))
	b := make([]byte, 6)
	rand.Read(b)
	startInstances(t, 2, c.URL(), "test:"+hex.EncodeToString(b)+":", "-config", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.WaitBound(ctx, 2); err != nil {
		t.Fatal(err)
	}
	inputs := []string{"1", "1", "2"} // marketPath as replies

	const workers = 16
	var done atomic.Int64
	var failedOver atomic.Bool
	var during, after atomic.Int64 // sessions ended while it ran, and after
	var failover sync.WaitGroup
	failover.Go(func() {
		defer failedOver.Store(true)
		// After 100 sessions, the first master hands over to its replica.
		for done.Load() < 100 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		masters, err := c.Masters(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		rep, err := c.ReplicaOf(ctx, masters[0])
		if err != nil {
			t.Error(err)
			return
		}
		if err := c.Failover(ctx, rep); err != nil {
			t.Error(err)
		}
	})
	var mu sync.Mutex
	var mismatches []string
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range work {
				if err := smppSession(ctx, srv, fmt.Sprintf("2547%08d", 90000000+k), inputs, want); err != nil {
					mu.Lock()
					mismatches = append(mismatches, err.Error())
					mu.Unlock()
				}
				done.Add(1)
				switch {
				case failedOver.Load():
					after.Add(1)
				case done.Load() > 100:
					during.Add(1)
				}
			}
		})
	}
	start := time.Now()
	// Until the failover is over and 200 sessions more have ended.
	for k := 0; !failedOver.Load() || after.Load() < 200; k++ {
		if ctx.Err() != nil {
			t.Fatal("the load did not finish")
		}
		work <- k
	}
	close(work)
	wg.Wait()
	failover.Wait()
	took := time.Since(start)
	n := done.Load()
	for i, m := range mismatches {
		if i == 5 {
			break
		}
		t.Errorf("mismatch: %s", m)
	}
	if len(mismatches) > 0 {
		t.Fatalf("%d of %d sessions went wrong", len(mismatches), n)
	}
	if during.Load() == 0 {
		t.Error("no session ran during the failover")
	}
	st := srv.Stats()
	t.Logf("SMPP over 2 instances on the cluster: %d sessions x 4 steps in %v (%d ended during a CLUSTER FAILOVER, %d after), 0 mismatches (deliver_sm %d, submit_sm %d, stray %d)",
		n, took.Round(time.Millisecond), during.Load(), after.Load(), st.Delivers, st.Submits, st.Stray)
}

// smppSession dials *384# as msisdn and answers inputs, checking each
// screen against want (the HTTP screens, without "CON ").
func smppSession(ctx context.Context, srv *smsc.Server, msisdn string, inputs, want []string) error {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ss, err := srv.Dial(sctx, msisdn, "*384#")
	if err != nil {
		return err
	}
	defer ss.Close()
	for step := 0; step <= len(inputs); step++ {
		if step > 0 {
			if err := ss.Reply(inputs[step-1]); err != nil {
				return err
			}
		}
		sc, err := ss.Next(sctx)
		if err != nil {
			return fmt.Errorf("step %d: %w", step+1, err)
		}
		if w := strings.TrimPrefix(want[step], "CON "); sc.Text != w || sc.End {
			return fmt.Errorf("step %d: got end=%v %q, want %q", step+1, sc.End, sc.Text, w)
		}
	}
	return nil
}
