package rediscluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/internal/rediscluster"
)

// TestClusterStartsAndFailsOver: the started cluster serves keys in every
// shard; a coordinated failover and a killed master both leave every key
// readable once the cluster is ok again; Close leaves no process behind.
func TestClusterStartsAndFailsOver(t *testing.T) {
	c := rediscluster.Start(t, rediscluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters %v %v", masters, err)
	}
	replicas, err := c.Replicas(ctx)
	if err != nil || len(replicas) != 3 {
		t.Fatalf("replicas %v %v", replicas, err)
	}
	cl := c.Client()
	defer cl.Close()
	const n = 300
	for i := range n {
		if err := cl.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Keys land on every master.
	var mu sync.Mutex
	per := map[string]int64{}
	err = cl.ForEachMaster(ctx, func(ctx context.Context, mc *redis.Client) error {
		k, err := mc.DBSize(ctx).Result()
		mu.Lock()
		per[mc.Options().Addr] = k
		mu.Unlock()
		return err
	})
	if err != nil || len(per) != 3 {
		t.Fatalf("keys per master %v %v", per, err)
	}
	for m, k := range per {
		if k == 0 {
			t.Errorf("master %s has no key of %d", m, n)
		}
	}
	readAll := func(when string) {
		t.Helper()
		for i := range n {
			v, err := cl.Get(ctx, fmt.Sprintf("k%d", i)).Int()
			if err != nil || v != i {
				t.Fatalf("%s: k%d = %d %v", when, i, v, err)
			}
		}
	}
	readAll("before")

	rep, err := c.ReplicaOf(ctx, masters[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Failover(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOK(ctx); err != nil {
		t.Fatal(err)
	}
	now, _ := c.Masters(ctx)
	if !contains(now, rep) || contains(now, masters[0]) {
		t.Fatalf("after failover masters %v, want %s in place of %s", now, rep, masters[0])
	}
	readAll("after a coordinated failover")

	if err := c.Kill(masters[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOK(ctx); err != nil {
		t.Fatalf("%v\n%s", err, c.Log(masters[1]))
	}
	// A fresh client: one that knew the dead master keeps asking it until
	// it reloads the slot map (go-redis's ClusterStateReloadInterval).
	cl.Close()
	cl = c.Client()
	readAll("after a master was killed")
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestSentinelFailsOver: the sentinels promote the replica when the master
// is killed, and a Sentinel client finds the new master with the data.
func TestSentinelFailsOver(t *testing.T) {
	s := rediscluster.StartSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: []string{s.Sentinels[0].Addr, s.Sentinels[1].Addr}})
	defer cl.Close()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Wait(ctx, 1, time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	old, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitNewMaster(ctx, old); err != nil {
		t.Fatal(err)
	}
	for {
		v, err := cl.Get(ctx, "k").Result()
		if err == nil {
			if v != "v" {
				t.Fatalf("k = %q after the failover", v)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no read after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, _ := s.Master(ctx); m == old {
		t.Fatalf("master still %s", m)
	}
}
