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
		// The returned error, not cmd.Err(): go-redis may set the
		// command's error only after the hooks return.
		err := next(ctx, cmd)
		h.count(cmd, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.count(c, c.Err())
		}
		return err
	}
}

// count counts cmd if err says it failed. Command names are Redis's own
// (a bounded set); a pipeline counts each of its commands.
func (h redisHook) count(cmd redis.Cmder, err error) {
	// NOSCRIPT is how EVALSHA asks for the script; go-redis sends EVAL.
	if err == nil || errors.Is(err, redis.Nil) || redis.HasErrorPrefix(err, "NOSCRIPT") || handshake(cmd) {
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

// handshake reports a command of go-redis's connection handshake (HELLO,
// CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS): servers without them
// (before Redis 7.2, miniredis) refuse them and go-redis carries on. The
// gateway sends neither itself.
func handshake(cmd redis.Cmder) bool {
	n := cmd.Name()
	return strings.EqualFold(n, "client") || strings.EqualFold(n, "hello")
}
