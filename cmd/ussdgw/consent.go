package main

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/ussd"
)

// openConsent opens the consent registry (subscriptions, STOP/START and
// their audit trail) on the push side's Redis: the one of -redis-url, or,
// without it, an embedded in-memory Redis, so that the default run can
// subscribe and STOP (nothing of it survives a restart).
//
// When the push side's Redis client exists (the outbox's), this becomes
// consent.New(thatClient, s.RedisPrefix, consent.Options{Retention: s.ConsentRetention}).
func openConsent(ctx context.Context, s *settings) (*consent.Registry, func(), error) {
	if s.RedisURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("starting the embedded Redis for consent: %w", err)
		}
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		return consent.New(c, s.RedisPrefix, consent.Options{Retention: s.ConsentRetention}), func() { c.Close(); m.Close() }, nil
	}
	c, err := ussd.NewRedisClient(s.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("consent: %w", err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("consent: redis at %s does not answer: %w", redactURL(s.RedisURL), err)
	}
	return consent.New(c, s.RedisPrefix, consent.Options{Retention: s.ConsentRetention}), func() { c.Close() }, nil
}
