package httpjson

import (
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
)

// cache keeps results of GETs for a while. It is safe for concurrent use.
type cache struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	res adapters.Result
	exp time.Time
}

func newCache(ttl time.Duration, size int, now func() time.Time) *cache {
	return &cache{ttl: ttl, size: size, now: now, m: map[string]cached{}}
}

func (c *cache) get(k string) (adapters.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.exp) {
		delete(c.m, k)
		return nil, false
	}
	return e.res, true
}

func (c *cache) put(k string, res adapters.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.size {
		for k2, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k2)
			}
		}
	}
	for k2 := range c.m { // still full: drop entries at random
		if len(c.m) < c.size {
			break
		}
		delete(c.m, k2)
	}
	c.m[k] = cached{res, now.Add(c.ttl)}
}
