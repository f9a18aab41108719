package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	// Imported as mtq: the package tests have a type named outbox.
	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/ussd"
)

// push is the gateway's push side: the Redis it keeps its state in and
// the outbox of MT SMS.
type push struct {
	client  redis.UniversalClient
	consent *consent.Registry // subscriptions and STOP/START
	queue   *mtq.Queue
	name    string // for the log
}

// openPush opens the push side's Redis: the -redis-url one, else an
// embedded miniredis on 127.0.0.1, which keeps the default run working
// but loses every queued SMS on a restart. It builds the outbox over it
// (not running), whose bulk messages are checked against the consent
// registry and the quiet hours of their service in the set served (set).
// close closes what it opened.
func openPush(ctx context.Context, s *settings, log *slog.Logger, now func() time.Time, set func() *flows.Set) (p *push, closeFn func(), err error) {
	if s.OutboxWorkers < 1 {
		return nil, nil, errors.New("-outbox-workers must be at least 1")
	}
	if s.OutboxClaimIdle < time.Second {
		return nil, nil, errors.New("-outbox-claim-idle must be at least 1s")
	}
	if s.SMSHourlyCap < 0 || s.BulkDailyCap < 0 {
		return nil, nil, errors.New("-sms-hourly-cap and -bulk-daily-cap must be 0 (no cap) or more")
	}
	p = &push{}
	var closers []func()
	closeFn = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if s.RedisURL != "" {
		c, err := ussd.NewRedisClient(s.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		for _, h := range s.redisHooks {
			c.AddHook(h)
		}
		closers = append(closers, func() { c.Close() })
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.Ping(pctx).Err(); err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("redis at %s does not answer: %w", redactURL(s.RedisURL), err)
		}
		p.client, p.name = c, "redis "+redactURL(s.RedisURL)
	} else {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("starting the embedded redis of the outbox: %w", err)
		}
		closers = append(closers, m.Close)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		closers = append(closers, func() { c.Close() })
		p.client, p.name = c, "embedded miniredis at "+m.Addr()
		log.Warn("the outbox keeps queued SMS in an embedded Redis: nothing survives a restart; set -redis-url to keep them")
	}
	p.consent = consent.New(p.client, s.RedisPrefix, consent.Options{Retention: s.ConsentRetention, Now: now})
	o := outboxOptions(s, log, now)
	o.Allow = p.consent.Allowed
	o.AllowBatch = p.consent.AllowedBatch
	o.Quiet = func(service string, t time.Time) (time.Time, bool) {
		if f, ok := set().Flow(service); ok {
			return f.Quiet(t)
		}
		return time.Time{}, false
	}
	o.ServiceCap = func(service string) int {
		if f, ok := set().Flow(service); ok {
			return f.DailyCap()
		}
		return 0
	}
	p.queue = mtq.New(p.client, s.RedisPrefix, o)
	return p, closeFn, nil
}

// outboxOptions are the outbox's settings; openPush adds the consent check
// (Allow) and the quiet hours (Quiet).
func outboxOptions(s *settings, log *slog.Logger, now func() time.Time) mtq.Options {
	return mtq.Options{
		Workers:   s.OutboxWorkers,
		ClaimIdle: s.OutboxClaimIdle,
		HourlyCap: s.SMSHourlyCap,
		DailyCap:  s.BulkDailyCap,
		TTL:       s.OutboxRetention,
		Temporary: smpp.IsRetryable,
		Now:       now,
		Log:       log,
	}
}

// run sends the queue through sender until the returned stop is called;
// stop waits for the sends in flight (mtq.Options.Grace) and for Run
// to record them, so call it before the sender closes.
func (p *push) run(sender mtq.Sender, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.queue.Run(ctx, sender); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("the outbox stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			log.Error("the outbox did not stop within 15s")
		}
	}
}

// health describes the queue for /healthz.
func (p *push) health(ctx context.Context) map[string]any {
	st, err := p.queue.Stats(ctx)
	if err != nil {
		return map[string]any{"error": "redis"}
	}
	return map[string]any{"high": st.High, "bulk": st.Bulk, "oldest_s": int64(st.Oldest / time.Second),
		"delayed": st.Delayed, "dead": st.Dead, "resent": st.Resent}
}
