// Package limits admits or refuses the messages of a phone number before
// the gateway serves them: a deny-list, and per-number rates of new
// sessions (dials) and of steps, so that one number (or a script posing
// as many) cannot take the service or its SMS budget for itself. It is a
// store the session layer calls: it must not import flows, ussd or a
// transport.
//
// Redis keeps the counters (GCRA, github.com/go-redis/redis_rate, one Lua
// call) so that a limit holds across gateway instances; Memory keeps them
// in the process (golang.org/x/time/rate) for a single instance.
//
// It is a leaf: it imports the standard library, go-redis, redis_rate and
// x/time/rate, nothing of ours.
package limits

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Verdict is what to do with a message.
type Verdict int

const (
	Allowed Verdict = iota
	Limited         // over a rate: "try again later"
	Denied          // on the deny-list
)

func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allowed"
	case Limited:
		return "limited"
	case Denied:
		return "denied"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Rates are the per-number limits; zero means no limit.
type Rates struct {
	DialsPerMinute int // new sessions
	StepsPerMinute int // every message, new sessions included
}

// Defaults are generous for a person (a USSD step takes a person seconds)
// and low for a script.
var Defaults = Rates{DialsPerMinute: 10, StepsPerMinute: 60}

// Redis is a limiter whose counters and deny-list live in Redis. Numbers
// are digits only (ussd.MSISDN).
type Redis struct {
	c       redis.UniversalClient
	lim     *redis_rate.Limiter
	prefix  string
	rates   Rates
	timeout time.Duration
}

// DefaultTimeout bounds the Redis calls of one Admit: a limiter must not
// hold a step up when Redis is slow or gone.
const DefaultTimeout = 300 * time.Millisecond

// NewRedis returns a limiter over c; its keys start with prefix.
func NewRedis(c redis.UniversalClient, prefix string, r Rates) *Redis {
	return &Redis{c: c, lim: redis_rate.NewLimiter(c), prefix: prefix, rates: r, timeout: DefaultTimeout}
}

// SetTimeout changes the bound of one Admit's Redis calls.
func (l *Redis) SetTimeout(d time.Duration) {
	if d > 0 {
		l.timeout = d
	}
}

func (l *Redis) denyKey() string { return l.prefix + "deny" }

// Admit implements the check of one message from msisdn; dial marks the
// first message of a session. A refused dial does not use up a step.
func (l *Redis) Admit(ctx context.Context, msisdn string, dial bool) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	denied, err := l.IsDenied(ctx, msisdn)
	if err != nil || denied {
		return verdictOf(denied), err
	}
	if dial && l.rates.DialsPerMinute > 0 {
		res, err := l.lim.Allow(ctx, l.prefix+"lim:dial:{"+msisdn+"}", redis_rate.PerMinute(l.rates.DialsPerMinute))
		if err != nil {
			return Allowed, fmt.Errorf("limiting dials: %w", err)
		}
		if res.Allowed == 0 {
			return Limited, nil
		}
	}
	if l.rates.StepsPerMinute > 0 {
		res, err := l.lim.Allow(ctx, l.prefix+"lim:step:{"+msisdn+"}", redis_rate.PerMinute(l.rates.StepsPerMinute))
		if err != nil {
			return Allowed, fmt.Errorf("limiting steps: %w", err)
		}
		if res.Allowed == 0 {
			return Limited, nil
		}
	}
	return Allowed, nil
}

func verdictOf(denied bool) Verdict {
	if denied {
		return Denied
	}
	return Allowed
}

// IsDenied reports whether msisdn is on the deny-list.
func (l *Redis) IsDenied(ctx context.Context, msisdn string) (bool, error) {
	ok, err := l.c.SIsMember(ctx, l.denyKey(), msisdn).Result()
	if err != nil {
		return false, fmt.Errorf("reading the deny-list: %w", err)
	}
	return ok, nil
}

// Deny puts msisdn on the deny-list.
func (l *Redis) Deny(ctx context.Context, msisdn string) error {
	if err := l.c.SAdd(ctx, l.denyKey(), msisdn).Err(); err != nil {
		return fmt.Errorf("adding to the deny-list: %w", err)
	}
	return nil
}

// Undeny takes msisdn off the deny-list and reports whether it was on it.
func (l *Redis) Undeny(ctx context.Context, msisdn string) (bool, error) {
	n, err := l.c.SRem(ctx, l.denyKey(), msisdn).Result()
	if err != nil {
		return false, fmt.Errorf("removing from the deny-list: %w", err)
	}
	return n > 0, nil
}

// DenyList returns the numbers on the deny-list, sorted.
func (l *Redis) DenyList(ctx context.Context) ([]string, error) {
	var out []string
	iter := l.c.SScan(ctx, l.denyKey(), 0, "", 500).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("reading the deny-list: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// Memory is a limiter in the process: for a single instance without Redis.
type Memory struct {
	rates Rates
	now   func() time.Time

	mu      sync.Mutex
	numbers map[string]*buckets
	deny    map[string]bool
	sweep   time.Time
}

type buckets struct {
	dial, step *rate.Limiter
	last       time.Time
}

// NewMemory returns an in-process limiter; now may be nil (time.Now).
func NewMemory(r Rates, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{rates: r, now: now, numbers: map[string]*buckets{}, deny: map[string]bool{}}
}

func perMinute(n int) *rate.Limiter {
	if n <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(float64(n)/60), n)
}

// Admit is Redis.Admit in the process.
func (l *Memory) Admit(_ context.Context, msisdn string, dial bool) (Verdict, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.deny[msisdn] {
		return Denied, nil
	}
	// A number idle for a minute has its buckets full again: forget it.
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.numbers {
			if now.Sub(b.last) > time.Minute {
				delete(l.numbers, k)
			}
		}
		l.sweep = now
	}
	b := l.numbers[msisdn]
	if b == nil {
		b = &buckets{dial: perMinute(l.rates.DialsPerMinute), step: perMinute(l.rates.StepsPerMinute)}
		l.numbers[msisdn] = b
	}
	b.last = now
	if dial && !b.dial.AllowN(now, 1) {
		return Limited, nil
	}
	if !b.step.AllowN(now, 1) {
		return Limited, nil
	}
	return Allowed, nil
}

// IsDenied reports whether msisdn is on the deny-list.
func (l *Memory) IsDenied(_ context.Context, msisdn string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deny[msisdn], nil
}

// Deny puts msisdn on the deny-list.
func (l *Memory) Deny(_ context.Context, msisdn string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deny[msisdn] = true
	return nil
}
