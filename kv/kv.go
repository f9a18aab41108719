// Package kv is the module's one key-value seam: small values by key with
// an expiry, and an atomic compare-and-swap. The session layer keeps its
// sessions through it, the adapters their per-user records, the SMPP side
// its delivery receipts and MO parts; package ussd has the stores
// (ussd.RedisStore, ussd.MemoryStore). It imports nothing of ours, so that
// every layer can name it.
package kv

import (
	"context"
	"time"
)

// Store keeps small values by key with an expiry: the encoded sessions and
// per-MSISDN profiles of the session layer, the adapters' per-user records,
// the SMPP side's delivery status and MO parts. It is the seam between the
// logic and where the state lives, so that any gateway instance can serve
// the next step of any session.
//
// Keys passed together to Get, and the key of a Swap, must share a Redis
// Cluster hash slot; callers ensure it with a hash tag ("s:{254700000001}").
// Implementations are safe for concurrent use.
type Store interface {
	// Get returns the values of keys in order, nil for a missing key.
	Get(ctx context.Context, keys ...string) ([][]byte, error)
	// Set stores val under key for ttl (0 means no expiry). A nil val
	// deletes the key.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Swap atomically replaces the value of key by val (nil deletes it) if
	// it currently holds old (nil: if it does not exist), and reports
	// whether it did. ttl applies to the new value.
	Swap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error)
}
