package metrics

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook that counts failed commands by name
// (a missing key, redis.Nil, is no failure) and failed dials. Add it to a
// client before first use: client.AddHook(m.RedisHook()).
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrors.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(cmd)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.count(c)
		}
		return err
	}
}

// count counts cmd if it failed. Command names are Redis's own (a bounded
// set); a MULTI/EXEC pipeline counts its commands.
func (h redisHook) count(cmd redis.Cmder) {
	err := cmd.Err()
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	h.m.redisErrors.WithLabelValues(commandName(cmd)).Inc()
}

func commandName(cmd redis.Cmder) string {
	name := strings.ToLower(cmd.Name())
	if name == "" || len(name) > 32 || strings.ContainsAny(name, " \t\r\n") {
		return "other"
	}
	return name
}
