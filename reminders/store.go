package reminders

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Three sorted sets hold every reminder, under one hash tag:
//
//	due    member -> unix time it is to be sent
//	lease  member -> unix time the claim of an instance runs out
//	done   member -> unix time after which forgetting it is safe (the
//	                 item's date is past, so sync cannot add it again)
//
// A member is in at most one of them.

// addScript adds the members that are in none of the sets.
// KEYS: due, lease, done. ARGV: score, member, score, member...
var addScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  local m = ARGV[i+1]
  if not redis.call('ZSCORE', KEYS[1], m) and not redis.call('ZSCORE', KEYS[2], m)
     and not redis.call('ZSCORE', KEYS[3], m) then
    redis.call('ZADD', KEYS[1], ARGV[i], m)
    n = n + 1
  end
end
return n
`)

// claimScript first puts back in due the members whose lease ran out,
// then moves up to limit due members to lease with a new deadline, and
// returns them with the number put back.
// KEYS: due, lease. ARGV: now, limit, deadline.
var claimScript = redis.NewScript(`
local back = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, m in ipairs(back) do
  redis.call('ZADD', KEYS[1], ARGV[1], m)
  redis.call('ZREM', KEYS[2], m)
end
local got = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(got) do
  redis.call('ZADD', KEYS[2], ARGV[3], m)
  redis.call('ZREM', KEYS[1], m)
end
return {got, #back}
`)

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// add adds the members missing from all three sets and returns how many.
func (s *Scheduler) add(ctx context.Context, ms []scored) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2*len(ms))
	for _, m := range ms {
		args = append(args, unix(m.at), m.m.String())
	}
	n, err := addScript.Run(ctx, s.c.Redis, []string{s.due, s.lease, s.done}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("adding reminders: %w", err)
	}
	return n, nil
}

type scored struct {
	m  member
	at time.Time
}

// claim takes up to n due members until now+Lease.
func (s *Scheduler) claim(ctx context.Context, now time.Time, n int) (members []string, putBack int, err error) {
	res, err := claimScript.Run(ctx, s.c.Redis, []string{s.due, s.lease}, unix(now), n, unix(now.Add(s.c.Lease))).Slice()
	if err != nil {
		return nil, 0, fmt.Errorf("claiming reminders: %w", err)
	}
	if len(res) != 2 {
		return nil, 0, fmt.Errorf("claiming reminders: unexpected reply %v", res)
	}
	got, _ := res[0].([]any)
	for _, g := range got {
		if m, ok := g.(string); ok {
			members = append(members, m)
		}
	}
	back, _ := res[1].(int64)
	return members, int(back), nil
}

// finish records the members sent (or skipped as superseded) as done
// until forget, and drops the members not to send (unsubscribed, stale),
// in one transaction.
func (s *Scheduler) finish(ctx context.Context, done []scored, drop []string) error {
	if len(done) == 0 && len(drop) == 0 {
		return nil
	}
	_, err := s.c.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rem := make([]any, 0, len(done)+len(drop))
		if len(done) > 0 {
			zs := make([]redis.Z, len(done))
			for i, d := range done {
				zs[i] = redis.Z{Score: float64(d.at.Unix()), Member: d.m.String()}
				rem = append(rem, d.m.String())
			}
			p.ZAdd(ctx, s.done, zs...)
		}
		for _, d := range drop {
			rem = append(rem, d)
		}
		p.ZRem(ctx, s.lease, rem...)
		// A lease that ran out while this instance was sending put the
		// member back in due; it is handled now.
		p.ZRem(ctx, s.due, rem...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording sent reminders: %w", err)
	}
	return nil
}

// Pending returns how many reminders are waiting (due set) and being sent
// (leased), for status pages and tests.
func (s *Scheduler) Pending(ctx context.Context) (waiting, leased int64, err error) {
	cmds, err := s.c.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZCard(ctx, s.due)
		p.ZCard(ctx, s.lease)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("counting reminders: %w", err)
	}
	return cmds[0].(*redis.IntCmd).Val(), cmds[1].(*redis.IntCmd).Val(), nil
}
