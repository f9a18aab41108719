package ussd

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// shardBreakers are the circuit breakers of a Redis Cluster, one per
// master: when one master dies, only the sessions whose keys live on it
// get the "unavailable" screen while its replica takes over; one breaker
// for the whole cluster would open on that master's failures and refuse
// the sessions of the healthy masters too (measured with a master killed
// under load: 97% of steps failed until the failover, with 1 of 3
// masters down). A new master after a failover has its own, closed,
// breaker.
type shardBreakers struct {
	c        *redis.ClusterClient
	o        OutageOptions
	fallback *breaker // when the slot map is not known

	mu sync.Mutex
	m  map[string]*breaker // master address -> breaker
}

func newShardBreakers(c *redis.ClusterClient, o OutageOptions, fallback *breaker) *shardBreakers {
	return &shardBreakers{c: c, o: o, fallback: fallback, m: map[string]*breaker{}}
}

// For returns the breaker of the master that serves key (the slot map is
// go-redis's cached one: no round trip).
func (s *shardBreakers) For(ctx context.Context, key string) *breaker {
	mc, err := s.c.MasterForKey(ctx, key)
	if err != nil {
		return s.fallback
	}
	addr := mc.Options().Addr
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[addr]
	if !ok {
		o := s.o
		if o.Log != nil {
			o.Log = o.Log.With("redis_node", addr)
		}
		b = newBreaker(o)
		s.m[addr] = b
	}
	return b
}
