package ussd

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// MemoryStore is a Store in this process's memory, for a single gateway
// instance without Redis (the embedded default) and for tests. Expired
// entries are dropped when read and swept periodically.
type MemoryStore struct {
	mu      sync.Mutex
	m       map[string]memEntry
	counts  map[string]*memCounts // counters (counters.go)
	now     func() time.Time
	stop    chan struct{}
	stopped sync.Once
}

type memEntry struct {
	val []byte
	exp time.Time // zero: no expiry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore. Close stops its sweeper.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{m: map[string]memEntry{}, now: time.Now, stop: make(chan struct{})}
	go s.sweep(time.Minute)
	return s
}

func (s *MemoryStore) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.now()
			s.mu.Lock()
			for k, e := range s.m {
				if e.expired(now) {
					delete(s.m, k)
				}
			}
			for k, h := range s.counts {
				if !h.exp.IsZero() && !now.Before(h.exp) {
					delete(s.counts, k)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Close stops the background sweeper.
func (s *MemoryStore) Close() error {
	s.stopped.Do(func() { close(s.stop) })
	return nil
}

// Len returns the number of live entries.
func (s *MemoryStore) Len() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.m {
		if !e.expired(now) {
			n++
		}
	}
	return n
}

func (e memEntry) expired(now time.Time) bool {
	return !e.exp.IsZero() && !now.Before(e.exp)
}

// get returns the live value of key; the caller holds s.mu.
func (s *MemoryStore) get(key string, now time.Time) []byte {
	e, ok := s.m[key]
	if !ok {
		return nil
	}
	if e.expired(now) {
		delete(s.m, key)
		return nil
	}
	return e.val
}

// put stores a copy of val; the caller holds s.mu.
func (s *MemoryStore) put(key string, val []byte, ttl time.Duration, now time.Time) {
	if val == nil {
		delete(s.m, key)
		return
	}
	e := memEntry{val: bytes.Clone(val)}
	if ttl > 0 {
		e.exp = now.Add(ttl)
	}
	s.m[key] = e
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	out := make([][]byte, len(keys))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range keys {
		if v := s.get(k, now); v != nil {
			out[i] = bytes.Clone(v)
		}
	}
	return out, nil
}

// Set implements Store.
func (s *MemoryStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, val, ttl, now)
	return nil
}

// Swap implements Store.
func (s *MemoryStore) Swap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.swap(key, old, val, ttl, now), nil
}

// swap is Swap with s.mu held.
func (s *MemoryStore) swap(key string, old, val []byte, ttl time.Duration, now time.Time) bool {
	cur := s.get(key, now)
	if (old == nil) != (cur == nil) || !bytes.Equal(cur, old) {
		return false
	}
	s.put(key, val, ttl, now)
	return true
}
