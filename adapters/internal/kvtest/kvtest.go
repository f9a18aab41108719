// Package kvtest gives the tests of KV-backed adapters the gateway's real
// stores to run against: the in-memory store always, and Redis when
// REDIS_URL is set (e.g. redis://127.0.0.1:6379/0). Only tests import it.
package kvtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/ussd"
)

// Store is a named store, closed at the test's cleanup.
type Store struct {
	Name string
	KV   adapters.KV
}

// Stores returns the stores to run t against. Each Redis store has keys
// under a fresh prefix, deleted at cleanup.
func Stores(t testing.TB) []Store {
	t.Helper()
	mem := ussd.NewMemoryStore()
	t.Cleanup(func() { mem.Close() })
	out := []Store{{"memory", mem}}
	url := os.Getenv("REDIS_URL")
	if url == "" {
		return out
	}
	c, err := ussd.NewRedisClient(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		t.Fatalf("REDIS_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "adapterstest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return append(out, Store{"redis", ussd.NewRedisStore(c, prefix)})
}
