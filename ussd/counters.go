package ussd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// swapCountScript is swapScript followed, when it swapped, by the
// counters of a session save (analytics.go): KEYS[2..] are counter
// hashes; ARGV[4] their expiry in ms, then for each hash the number of
// its fields, whether to set its expiry ("1" or "0"), and the
// field/increment pairs. Each redis.call costs: a step's counts are a
// field or two (see analytics), and the expiry is set once per session.
var swapCountScript = redis.NewScript(swapLua + `
local a = 5
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  local expire = ARGV[a + 1] == '1'
  a = a + 2
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  if expire then
    redis.call('PEXPIRE', KEYS[k], ARGV[4])
  end
end
return 1
`)

// groupCounts returns the distinct keys of counts in order of first
// appearance, and per key the field/increment pairs.
func groupCounts(counts []Count) (keys []string, fields [][]Count) {
	for _, c := range counts {
		i := 0
		for i < len(keys) && keys[i] != c.Key {
			i++
		}
		if i == len(keys) {
			keys = append(keys, c.Key)
			fields = append(fields, nil)
		}
		fields[i] = append(fields[i], c)
	}
	return keys, fields
}

func ttlMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d > 0 && ms == 0 {
		ms = 1
	}
	return ms
}

// SwapCount implements Counter. On a single Redis (or Sentinel) the swap
// and the counters are one script: one round trip, atomic. On a Redis
// Cluster the counter keys live on other masters than the session's, so
// they are added by a pipeline sent after a successful swap, in the
// background with a short deadline: the user's answer never waits for
// another master (one that is failing over would hold it up). Counts
// whose write fails, or finds countsInFlight writes already waiting, are
// lost; the step is not.
func (s *RedisStore) SwapCount(ctx context.Context, key string, old, val []byte, ttl time.Duration, counts []Count, keep time.Duration) (bool, error) {
	if len(counts) == 0 {
		return s.Swap(ctx, key, old, val, ttl)
	}
	if _, cluster := s.c.(*redis.ClusterClient); cluster {
		ok, err := s.Swap(ctx, key, old, val, ttl)
		if ok && err == nil {
			s.addCountsLater(ctx, counts, keep)
		}
		return ok, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redis swap: %w", err)
	}
	if len(val) == 0 && val != nil {
		return false, errors.New("redis swap: empty values cannot be stored")
	}
	hkeys, fields := groupCounts(counts)
	keys := make([]string, 1, 1+len(hkeys))
	keys[0] = s.prefix + key
	args := make([]any, 0, 4+2*len(hkeys)+2*len(counts))
	args = append(args, old, val, ttlMillis(ttl), ttlMillis(keep))
	for i, k := range hkeys {
		keys = append(keys, s.prefix+k)
		expire := "0"
		for _, c := range fields[i] {
			if c.Expire {
				expire = "1"
			}
		}
		args = append(args, len(fields[i]), expire)
		for _, c := range fields[i] {
			args = append(args, c.Field, c.N)
		}
	}
	n, err := exec(s, ctx, keys[0], "swap", func(ctx context.Context) (int, error) {
		return swapCountScript.Run(ctx, s.cmd, keys, args...).Int()
	})
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// countsInFlight bounds the background counter writes of a Cluster.
const countsInFlight = 256

// addCountsLater runs addCounts in the background (Cluster only).
func (s *RedisStore) addCountsLater(ctx context.Context, counts []Count, keep time.Duration) {
	s.countsOnce.Do(func() { s.countSlots = make(chan struct{}, countsInFlight) })
	select {
	case s.countSlots <- struct{}{}:
	default:
		return // a master is not answering: drop rather than pile up
	}
	timeout := DefaultRedisTimeout
	if s.br != nil {
		timeout = s.br.timeout
	}
	s.counting.Add(1)
	go func() {
		defer func() { <-s.countSlots; s.counting.Done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		s.addCounts(ctx, counts, keep)
	}()
}

// WaitCounts waits for the counter writes in flight (on a Cluster; at
// once elsewhere): for tests, and before closing the client.
func (s *RedisStore) WaitCounts() { s.counting.Wait() }

// addCounts adds counts in one pipeline, best effort (Cluster only).
func (s *RedisStore) addCounts(ctx context.Context, counts []Count, keep time.Duration) {
	hkeys, fields := groupCounts(counts)
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range hkeys {
			expire := false
			for _, c := range fields[i] {
				p.HIncrBy(ctx, s.prefix+k, c.Field, c.N)
				expire = expire || c.Expire
			}
			if expire {
				p.PExpire(ctx, s.prefix+k, keep)
			}
		}
		return nil
	})
}

// ReadCounts implements Counter.
func (s *RedisStore) ReadCounts(ctx context.Context, keys ...string) ([]map[string]int64, error) {
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, s.prefix+k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis hgetall: %w", err)
	}
	out := make([]map[string]int64, len(keys))
	for i, c := range cmds {
		out[i] = make(map[string]int64, len(c.Val()))
		for f, v := range c.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis hgetall %s: field %s is not a counter", keys[i], f)
			}
			out[i][f] = n
		}
	}
	return out, nil
}

// countWriters are the RedisStore's background counter writes (Cluster).
type countWriters struct {
	countsOnce sync.Once
	countSlots chan struct{}
	counting   sync.WaitGroup
}

// memCounts is a counter hash of the MemoryStore.
type memCounts struct {
	fields map[string]int64
	exp    time.Time
}

// SwapCount implements Counter: the swap and the counts under one lock.
func (s *MemoryStore) SwapCount(ctx context.Context, key string, old, val []byte, ttl time.Duration, counts []Count, keep time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.swap(key, old, val, ttl, now) {
		return false, nil
	}
	if s.counts == nil {
		s.counts = map[string]*memCounts{}
	}
	for _, c := range counts {
		h := s.counts[c.Key]
		if h == nil || (!h.exp.IsZero() && !now.Before(h.exp)) {
			h = &memCounts{fields: map[string]int64{}}
			s.counts[c.Key] = h
		}
		h.fields[c.Field] += c.N
		if keep > 0 {
			h.exp = now.Add(keep)
		}
	}
	return true, nil
}

// ReadCounts implements Counter.
func (s *MemoryStore) ReadCounts(ctx context.Context, keys ...string) ([]map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]int64, len(keys))
	for i, k := range keys {
		out[i] = map[string]int64{}
		if h := s.counts[k]; h != nil && (h.exp.IsZero() || now.Before(h.exp)) {
			for f, n := range h.fields {
				out[i][f] = n
			}
		}
	}
	return out, nil
}
