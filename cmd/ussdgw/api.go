package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/ussd"
)

// apiCommand runs the API's subcommands: broadcast and apikey.
func apiCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if args[0] == "broadcast" {
		return broadcastCmd(ctx, args[1:], getenv, stdout, stderr)
	}
	return apikeyCmd(ctx, args[1:], getenv, stdout, stderr)
}

// redisClient opens and pings Redis at url.
func redisClient(ctx context.Context, url string) (redis.UniversalClient, error) {
	c, err := ussd.NewRedisClient(url)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", redactURL(url), err)
	}
	return c, nil
}
