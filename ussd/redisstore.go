package ussd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store in Redis: a single node, a Sentinel-managed
// master, or a Cluster, through go-redis's UniversalClient.
type RedisStore struct {
	c            redis.UniversalClient
	cmd          redis.Cmdable // c, or an autopipeliner over it
	prefix       string
	br           *breaker       // nil: commands run unbounded, errors as they come
	shards       *shardBreakers // on a Cluster: a breaker per master instead of br
	countWriters                // analytics' counters on a Cluster (counters.go)
}

var _ Store = (*RedisStore)(nil)

// swapScript is the atomic compare-and-swap behind Swap: it compares the
// whole current value, so two gateway instances (or a retried request) that
// loaded the same session can never both write their next state.
// ARGV: expected ("" = must not exist), new ("" = delete), ttl in ms.
var swapScript = redis.NewScript(swapLua + "return 1\n")

// swapLua is swapScript's swap, which swapCountScript shares: it returns
// 0 when the value is not the expected one, and goes on when it swapped.
const swapLua = `
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
`

// NewRedisStore returns a store over c whose keys all start with prefix
// (e.g. "ussdgw:"), so that several deployments can share a Redis.
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, cmd: c, prefix: prefix}
}

// AutoPipeline makes the store send its commands through go-redis's
// autopipeliner: the commands of concurrent steps go to Redis together, in
// one write and one read, instead of one round trip each. Under load that
// cuts the system calls of the gateway and of Redis alike; a lone request
// waits no longer than the batch it finds. It reports an error when the
// client cannot autopipeline (the store then keeps plain round trips).
func (s *RedisStore) AutoPipeline() error {
	var ap *redis.AutoPipeliner
	var err error
	switch c := s.c.(type) {
	case *redis.Client:
		ap, err = c.AutoPipeline()
	case *redis.ClusterClient:
		ap, err = c.AutoPipeline()
	default:
		return fmt.Errorf("redis autopipeline: not available for %T", s.c)
	}
	if err != nil {
		return fmt.Errorf("redis autopipeline: %w", err)
	}
	s.cmd = ap
	return nil
}

// Protect bounds every command by a short deadline and puts a circuit
// breaker in front of Redis: while Redis is down, commands fail at once
// with ErrUnavailable instead of each waiting for its timeout, the outage
// is logged when it starts and when it ends (not per request), and a probe
// every o.Probe notices when Redis is back. Call it before serving.
func (s *RedisStore) Protect(o OutageOptions) {
	s.br = newBreaker(o)
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		s.shards = newShardBreakers(cc, o, s.br)
	}
}

// Check reports whether the store can serve, with the reason when not
// (for /readyz: no address, no raw error).
func (s *RedisStore) Check(ctx context.Context) error {
	ping := func(ctx context.Context) error { return s.c.Ping(ctx).Err() }
	if s.br == nil {
		if err := ping(ctx); err != nil {
			return errors.New("session store (redis) does not answer")
		}
		return nil
	}
	return s.br.check(ctx, ping)
}

// exec runs fn, a command on key, through the breaker when there is one.
func exec[T any](s *RedisStore, ctx context.Context, key, what string, fn func(ctx context.Context) (T, error)) (T, error) {
	if s.br == nil {
		v, err := fn(ctx)
		if err != nil {
			return v, fmt.Errorf("redis %s: %w", what, err)
		}
		return v, nil
	}
	if s.shards != nil {
		return guarded(s.shards.For(ctx, key), ctx, what, fn)
	}
	return guarded(s.br, ctx, what, fn)
}

// Client is the store's Redis client, for the gateway's other Redis users
// (the rate limiter).
func (s *RedisStore) Client() redis.UniversalClient { return s.c }

// Close closes the client, once the counter writes in flight are done.
func (s *RedisStore) Close() error { s.WaitCounts(); return s.c.Close() }

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis get: %w", err)
	}
	out := make([][]byte, len(keys))
	if len(keys) == 1 {
		v, err := exec(s, ctx, s.prefix+keys[0], "get", func(ctx context.Context) ([]byte, error) {
			v, err := s.cmd.Get(ctx, s.prefix+keys[0]).Bytes()
			if errors.Is(err, redis.Nil) {
				return nil, nil
			}
			return v, err
		})
		if err != nil {
			return nil, err
		}
		out[0] = v
		return out, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
	}
	vals, err := exec(s, ctx, full[0], "mget", func(ctx context.Context) ([]any, error) {
		return s.cmd.MGet(ctx, full...).Result()
	})
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i] = []byte(str)
		}
	}
	return out, nil
}

// Set implements Store.
func (s *RedisStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	_, err := exec(s, ctx, s.prefix+key, "set", func(ctx context.Context) (struct{}, error) {
		if val == nil {
			return struct{}{}, s.cmd.Del(ctx, s.prefix+key).Err()
		}
		return struct{}{}, s.cmd.Set(ctx, s.prefix+key, val, ttl).Err()
	})
	return err
}

// Swap implements Store.
func (s *RedisStore) Swap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redis swap: %w", err)
	}
	if len(val) == 0 && val != nil {
		return false, errors.New("redis swap: empty values cannot be stored")
	}
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	n, err := exec(s, ctx, s.prefix+key, "swap", func(ctx context.Context) (int, error) {
		return swapScript.Run(ctx, s.cmd, []string{s.prefix + key}, old, val, ms).Int()
	})
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// NewRedisClient returns a client for a Redis URL:
//
//	redis://[user:pass@]host:6379[/db][?options]        a single node
//	rediss://...                                           the same over TLS
//	redis://host:26379?master_name=mymaster&addr=h2:26379  Sentinel (master_name given)
//	redis+cluster://host:7000?addr=host2:7000              Cluster (also rediss+cluster)
//
// Options are go-redis's (dial_timeout=3s, pool_size=20, ...).
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing redis url: %w", err)
	}
	switch {
	case strings.HasSuffix(u.Scheme, "+cluster"):
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("parsing redis cluster url: %w", err)
		}
		// go-redis reloads the slot map on MOVED, but not when a master
		// dies: it keeps dialling the dead node until the map is older than
		// this (60 s by default). Measured with a master killed under load:
		// 56 s of failed steps with the default, ~4 s with 1 s.
		o.ClusterStateReloadInterval = time.Second
		return redis.NewClusterClient(o), nil
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis sentinel url: %w", err)
		}
		return redis.NewFailoverClient(o), nil
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis url: %w", err)
		}
		return redis.NewClient(o), nil
	}
}
