// Package kvtest gives the tests of KV-backed adapters the gateway's real
// stores to run against: the in-memory store always, and Redis when
// REDIS_URL is set (e.g. redis://127.0.0.1:6379/0). Only tests import it.
// Like every adapter package it must not import flows, ussd or a transport.
package kvtest

import (
	"os"
	"testing"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

// Store is a named store, closed at the test's cleanup.
type Store struct {
	Name string
	KV   adapters.KV
}

// Stores returns the stores to run t against. A Redis store has its keys
// under a fresh prefix, deleted at cleanup (see storetest.Redis).
func Stores(t testing.TB) []Store {
	t.Helper()
	mem := ussd.NewMemoryStore()
	t.Cleanup(func() { mem.Close() })
	out := []Store{{"memory", mem}}
	if os.Getenv("REDIS_URL") == "" {
		return out
	}
	r := storetest.Redis(t)
	return append(out, Store{"redis", ussd.NewRedisStore(r.Client, r.Prefix)})
}
