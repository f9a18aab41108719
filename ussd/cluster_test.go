package ussd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// TestRedisStoreOnCluster runs the Store contract on a real Redis Cluster
// (3 masters, a replica each) through the gateway's redis+cluster:// URL,
// with plain round trips and autopipelined: every multi-key command the
// store sends (MGET) must stay in one hash slot. A cross-slot MGET is
// refused, so the check can fail.
func TestRedisStoreOnCluster(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	for _, pipelined := range []bool{false, true} {
		name := "round-trips"
		if pipelined {
			name = "autopipelined"
		}
		t.Run(name, func(t *testing.T) {
			cl, err := ussd.NewRedisClient(c.URL())
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 6)
			rand.Read(b)
			s := ussd.NewRedisStore(cl, "test:"+hex.EncodeToString(b)+":")
			defer s.Close()
			if pipelined {
				if err := s.AutoPipeline(); err != nil {
					t.Fatal(err)
				}
			}
			storetest.Run(t, s, time.Sleep)
			_, err = s.Get(context.Background(), "a:{1}", "a:{2}")
			if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
				t.Errorf("a cross-slot Get: %v, want CROSSSLOT", err)
			}
		})
	}
}

// TestProtectedStoreOnClusterMasterDown: with the outage breaker on a
// Cluster (cluster-require-full-coverage no), a dead master fails only the
// keys it serves: keys of the other masters are served all along, and the
// dead master's keys come back once its replica has taken over.
func TestProtectedStoreOnClusterMasterDown(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{PartialCoverage: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := ussd.NewRedisClient(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	s := ussd.NewRedisStore(cl, "t:")
	defer s.Close()
	s.Protect(ussd.OutageOptions{Timeout: 200 * time.Millisecond, Probe: 200 * time.Millisecond, Log: logcheck.New(t)})
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dead := masters[0]
	cc := cl.(*redis.ClusterClient)
	// A key on the master to kill and one on another master.
	var onDead, onLive string
	for i := 0; onDead == "" || onLive == ""; i++ {
		k := fmt.Sprintf("s:{%d}", i)
		mc, err := cc.MasterForKey(ctx, "t:"+k)
		if err != nil {
			t.Fatal(err)
		}
		if mc.Options().Addr == dead {
			onDead = k
		} else {
			onLive = k
		}
	}
	for _, k := range []string{onDead, onLive} {
		if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Replicated before the crash, so the replica has it.
	mc, err := cc.MasterForKey(ctx, "t:"+onDead)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := mc.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	if err := c.Kill(dead); err != nil {
		t.Fatal(err)
	}
	// Until the replica takes over: the dead master's key fails, the other
	// one is served every time.
	sawDown := false
	for i := 0; ; i++ {
		vals, err := s.Get(ctx, onLive)
		if err != nil || string(vals[0]) != "v" {
			t.Fatalf("key on a live master, try %d: %q %v", i, vals, err)
		}
		// Several failures in a row: enough to open one breaker for all.
		for range 4 {
			if vals, err = s.Get(ctx, onDead); err == nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, ussd.ErrUnavailable) {
				t.Fatalf("key on the dead master: %v, want ErrUnavailable", err)
			}
			sawDown = true
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if !sawDown {
			t.Fatal("the dead master's key was never refused")
		}
		if string(vals[0]) != "v" {
			t.Errorf("after the failover: %q", vals[0])
		}
		break
	}
}
