// Package storetest checks that a ussd.Store behaves as the interface says,
// and gives tests a Redis to run against: the real server named by
// REDIS_URL (as in CI), or an embedded miniredis on a laptop without Redis.
// A test helper of the session layer: it imports package ussd only, and
// must not import a transport.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/ussd"
)

// TestRedis is a Redis for one test.
type TestRedis struct {
	Client redis.UniversalClient
	Prefix string // unique to the test; its keys are deleted at the end
	mini   *miniredis.Miniredis
}

// Addr is the embedded server's address, or "" for the real one.
func (r *TestRedis) Addr() string {
	if r.mini != nil {
		return r.mini.Addr()
	}
	return ""
}

// Advance lets d pass for key expiry: a sleep on a real server, a fast
// forward on the embedded one (whose clock does not move by itself).
func (r *TestRedis) Advance(d time.Duration) {
	if r.mini != nil {
		r.mini.FastForward(d)
		return
	}
	time.Sleep(d)
}

// Redis returns a Redis for tests with a key prefix unique to this test,
// whose keys are deleted when the test ends. With REDIS_URL set it is the
// real server; otherwise an embedded miniredis (say so with t.Log).
func Redis(t testing.TB) *TestRedis {
	t.Helper()
	var c redis.UniversalClient
	var m *miniredis.Miniredis
	if u := os.Getenv("REDIS_URL"); u != "" {
		var err error
		c, err = ussd.NewRedisClient(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("REDIS_URL=%s does not answer: %v", u, err)
		}
	} else {
		m = miniredis.RunT(t)
		c = redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Log("REDIS_URL not set: using an embedded miniredis")
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return &TestRedis{Client: c, Prefix: prefix, mini: m}
}

// IsReal reports whether Redis(t) gives the real server.
func IsReal() bool { return os.Getenv("REDIS_URL") != "" }

// Run checks s against the Store contract. wait lets the caller pass time
// for expiry checks (a real sleep for Redis, a clock step for fakes).
func Run(t *testing.T, s ussd.Store, wait func(time.Duration)) {
	ctx := context.Background()
	t.Run("missing keys are nil", func(t *testing.T) {
		vals, err := s.Get(ctx, "a:{1}", "b:{1}")
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != 2 || vals[0] != nil || vals[1] != nil {
			t.Fatalf("Get = %q, want two nils", vals)
		}
	})
	t.Run("set get delete", func(t *testing.T) {
		if err := s.Set(ctx, "k:{2}", []byte("v1"), 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "j:{2}", []byte("w"), time.Minute); err != nil {
			t.Fatal(err)
		}
		vals, err := s.Get(ctx, "k:{2}", "x:{2}", "j:{2}")
		if err != nil {
			t.Fatal(err)
		}
		if string(vals[0]) != "v1" || vals[1] != nil || string(vals[2]) != "w" {
			t.Fatalf("Get = %q", vals)
		}
		if err := s.Set(ctx, "k:{2}", nil, 0); err != nil {
			t.Fatal(err)
		}
		vals, _ = s.Get(ctx, "k:{2}")
		if vals[0] != nil {
			t.Fatalf("deleted key = %q", vals[0])
		}
	})
	t.Run("binary values survive", func(t *testing.T) {
		v := []byte{0, 1, 0xFF, '\n', 0}
		s.Set(ctx, "bin:{3}", v, 0)
		vals, _ := s.Get(ctx, "bin:{3}")
		if !bytes.Equal(vals[0], v) {
			t.Fatalf("got % x, want % x", vals[0], v)
		}
	})
	t.Run("swap", func(t *testing.T) {
		k := "sw:{4}"
		steps := []struct {
			old, val string // "-" = nil
			want     bool
			after    string
		}{
			{"x", "a", false, "-"}, // absent but expected x
			{"-", "a", true, "a"},  // create
			{"-", "b", false, "a"}, // must not exist, but does
			{"b", "c", false, "a"}, // wrong expectation
			{"a", "b", true, "b"},  // advance
			{"a", "c", false, "b"}, // stale writer loses
			{"b", "-", true, "-"},  // delete
		}
		nilOr := func(s string) []byte {
			if s == "-" {
				return nil
			}
			return []byte(s)
		}
		for i, st := range steps {
			ok, err := s.Swap(ctx, k, nilOr(st.old), nilOr(st.val), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if ok != st.want {
				t.Fatalf("step %d: Swap(%s→%s) = %v, want %v", i, st.old, st.val, ok, st.want)
			}
			vals, _ := s.Get(ctx, k)
			if got := string(vals[0]); (vals[0] == nil) != (st.after == "-") || (vals[0] != nil && got != st.after) {
				t.Fatalf("step %d: value %q, want %s", i, vals[0], st.after)
			}
		}
	})
	t.Run("concurrent swaps from one state: exactly one wins", func(t *testing.T) {
		k := "race:{5}"
		s.Set(ctx, k, []byte("v0"), time.Minute)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.Swap(ctx, k, []byte("v0"), []byte(fmt.Sprintf("v1-%d", i)), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d swaps won, want 1", wins.Load())
		}
	})
	t.Run("ttl expires", func(t *testing.T) {
		s.Set(ctx, "ttl:{6}", []byte("x"), 150*time.Millisecond)
		s.Swap(ctx, "ttl2:{6}", nil, []byte("y"), 150*time.Millisecond)
		s.Set(ctx, "keep:{6}", []byte("z"), 0)
		wait(400 * time.Millisecond)
		vals, err := s.Get(ctx, "ttl:{6}", "ttl2:{6}", "keep:{6}")
		if err != nil {
			t.Fatal(err)
		}
		if vals[0] != nil || vals[1] != nil || string(vals[2]) != "z" {
			t.Fatalf("after expiry: %q", vals)
		}
	})
	t.Run("cancelled context fails", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Get(cctx, "a:{7}"); err == nil {
			t.Fatal("Get with a cancelled context must fail")
		}
	})
}
