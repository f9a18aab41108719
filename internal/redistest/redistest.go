// Package redistest gives a test the shared test Redis (REDIS_URL, else
// 127.0.0.1:6379) under a key prefix of its own, whose keys are deleted
// when the test ends: tests of several packages share that Redis, so a
// test touches nothing but its prefix and never flushes. A test helper: it
// imports nothing of ours; only tests import it.
//
// It imports go-redis and nothing of ours, so any package's tests can use
// it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL is the test Redis: REDIS_URL, else redis://127.0.0.1:6379/0.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Open returns a client of the test Redis and a fresh key prefix ending in
// ":"; the prefix's keys are deleted and the client closed at cleanup. A
// Redis that does not answer fails the test, saying how to start one.
func Open(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize = 64 // tests that run many senders at once
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("no redis at %s (%v): start one with redis-server --daemonize yes --port 6379 --save \"\" --appendonly no", URL(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		DeletePrefix(c, prefix)
		c.Close()
	})
	return c, prefix
}

// DeletePrefix deletes every key that starts with prefix.
func DeletePrefix(c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(500, len(keys))
		c.Del(ctx, keys[:n]...)
		keys = keys[n:]
	}
}
