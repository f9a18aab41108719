package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/limits"
	"github.com/ussdgw/ussdgw/ussd"
)

// guardSettings are the settings of the guard rails: who may call the
// callbacks, where the profiler may listen.
type guardSettings struct {
	CallbackSecret  string
	CallbackAllow   string
	CallbackProxies string
	DebugPublic     bool
	LimitDials      int
	LimitSteps      int
	MaxInput        int
	RedisTimeout    time.Duration
}

func guardDefaults() guardSettings {
	return guardSettings{LimitDials: limits.Defaults.DialsPerMinute, LimitSteps: limits.Defaults.StepsPerMinute,
		MaxInput: flows.DefaultMaxInput, RedisTimeout: ussd.DefaultRedisTimeout}
}

func (g *guardSettings) guardOptions() []option {
	return []option{
		{name: "callback-secret", usage: "shared secret the aggregator sends in the X-Gateway-Secret header or as the last path segment (/ussd/africastalking/<secret>); at least 16 characters", str: &g.CallbackSecret},
		{name: "callback-allow", usage: "addresses or CIDRs allowed to call the USSD callbacks, comma separated (empty: any)", str: &g.CallbackAllow},
		{name: "callback-trusted-proxies", usage: "addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed, comma separated", str: &g.CallbackProxies},
		{name: "debug-public", usage: "let -debug-listen use a non-loopback address (the profiler shows the command line and memory)", flag: &g.DebugPublic},
		{name: "limit-dials", usage: "new USSD/SMS sessions a number may start per minute (0: no limit)", num: &g.LimitDials},
		{name: "limit-steps", usage: "USSD/SMS messages a number may send per minute (0: no limit)", num: &g.LimitSteps},
		{name: "redis-timeout", usage: "deadline of each Redis command; past it (or while Redis is down) USSD users get the 'unavailable' screen at once", dur: &g.RedisTimeout},
		{name: "max-input", usage: "longest free-text answer in characters; a node's smaller max_length still applies (negative: only the nodes')", num: &g.MaxInput},
	}
}

// minSecret is the shortest accepted callback secret: it is all that
// stands between the Internet and "act as any phone number".
const minSecret = 16

// checkSecret refuses a callback secret too short to guard anything or
// unfit for a path segment.
func checkSecret(secret string) error {
	if len(secret) < minSecret || strings.ContainsAny(secret, "/?#% \t\r\n") {
		return fmt.Errorf("must be at least %d characters and path-safe (letters, digits, - _ . ~), e.g. the output of: openssl rand -hex 24", minSecret)
	}
	return nil
}

// guards builds the callbacks' guards and refuses an exposed, unguarded
// listener: off loopback without a secret or an allow-list anyone could
// act as any phone number.
func (s *settings) guards() (map[string]gateway.Guard, error) {
	g := gateway.Guard{Secret: s.CallbackSecret}
	if g.Secret != "" {
		if err := checkSecret(g.Secret); err != nil {
			return nil, fmt.Errorf("-callback-secret %w", err)
		}
	}
	var err error
	if g.Allow, err = gateway.ParsePrefixes(s.CallbackAllow); err != nil {
		return nil, fmt.Errorf("-callback-allow: %w", err)
	}
	if g.TrustedProxies, err = gateway.ParsePrefixes(s.CallbackProxies); err != nil {
		return nil, fmt.Errorf("-callback-trusted-proxies: %w", err)
	}
	// With an http: section each route is checked (httpRoutes).
	if g.Open() && !loopback(s.Listen) && s.http == nil {
		return nil, fmt.Errorf("listening on %s, which is not a loopback address, would let anyone who reaches it act as any phone number: "+
			"set -callback-secret (env USSDGW_CALLBACK_SECRET, config callback_secret; e.g. openssl rand -hex 24) "+
			"and/or -callback-allow with your aggregator's addresses (USSDGW_CALLBACK_ALLOW, callback_allow), "+
			"or listen on 127.0.0.1 behind a proxy that checks callers", s.Listen)
	}
	return map[string]gateway.Guard{gateway.AfricasTalking: g}, nil
}

// checkDebug refuses a profiler listening off loopback unless told so.
func (s *settings) checkDebug(log *slog.Logger) error {
	if s.DebugListen == "" || loopback(s.DebugListen) {
		return nil
	}
	if !s.DebugPublic {
		return fmt.Errorf("-debug-listen %s is not a loopback address: the profiler shows the command line and memory to whoever reaches it; "+
			"use 127.0.0.1:PORT (and an SSH tunnel), or set -debug-public to expose it anyway", s.DebugListen)
	}
	log.Warn("the profiler listens on a non-loopback address (-debug-public): anyone who reaches it sees the command line and memory", "addr", s.DebugListen)
	return nil
}

// loopback reports whether a listen address only takes local connections:
// an explicit loopback address or "localhost". ":8080" and "0.0.0.0:8080"
// take everyone's.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// limiter is the per-number limiter: in Redis when sessions are (so that
// the limits hold across instances), else in the process.
func (s *settings) limiter(store ussd.Store) ussd.Limiter {
	r := limits.Rates{DialsPerMinute: s.LimitDials, StepsPerMinute: s.LimitSteps}
	if rs, ok := store.(*ussd.RedisStore); ok {
		l := limits.NewRedis(rs.Client(), s.RedisPrefix, r)
		l.SetTimeout(s.RedisTimeout)
		return l
	}
	return limits.NewMemory(r, nil)
}

// deny runs "ussdgw deny add|remove|list [MSISDN] [flags]": the deny-list
// in Redis, which every instance reads on each message.
func deny(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: ussdgw deny add|remove MSISDN [flags] | ussdgw deny list [flags] (flags as for the gateway: -redis-url, -redis-prefix, -config)"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	verb, rest := args[0], args[1:]
	var msisdn string
	if verb == "add" || verb == "remove" {
		if len(rest) == 0 {
			fmt.Fprintln(stderr, usage)
			return errUsage
		}
		msisdn = gatewayMSISDN(rest[0])
		if msisdn == "" {
			return fmt.Errorf("%q is not a phone number (international, 5 to 15 digits)", rest[0])
		}
		rest = rest[1:]
	} else if verb != "list" {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	s, err := parseSettings("ussdgw deny", rest, getenv, stderr)
	if err != nil {
		return err
	}
	if s.RedisURL == "" {
		return errors.New("the deny-list lives in Redis: set -redis-url (or USSDGW_REDIS_URL) as for the gateway")
	}
	c, err := ussd.NewRedisClient(s.RedisURL)
	if err != nil {
		return err
	}
	defer c.Close()
	l := limits.NewRedis(c, s.RedisPrefix, limits.Rates{})
	switch verb {
	case "add":
		if err := l.Deny(ctx, msisdn); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "denied %s\n", msisdn)
	case "remove":
		ok, err := l.Undeny(ctx, msisdn)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(stdout, "%s was not on the deny-list\n", msisdn)
			return nil
		}
		fmt.Fprintf(stdout, "removed %s\n", msisdn)
	case "list":
		list, err := l.DenyList(ctx)
		if err != nil {
			return err
		}
		for _, n := range list {
			fmt.Fprintln(stdout, n)
		}
	}
	return nil
}

// gatewayMSISDN keeps the digits of an international number (+254 700
// 000001 -> 254700000001), or returns "".
func gatewayMSISDN(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return ""
		}
	}
	if b.Len() < 5 || b.Len() > 15 {
		return ""
	}
	return b.String()
}

// protect puts the per-command deadline and the circuit breaker in front of
// a Redis store, and returns the readiness check that says why it is not
// ready; other stores keep ready as it is.
func (s *settings) protect(store ussd.Store, ready func(context.Context) error, log *slog.Logger) func(context.Context) error {
	rs, ok := store.(*ussd.RedisStore)
	if !ok {
		return ready
	}
	rs.Protect(ussd.OutageOptions{Timeout: s.RedisTimeout, Log: log})
	return rs.Check
}

// logGuards says at start how the callbacks are protected (never the
// secret itself).
func logGuards(log *slog.Logger, guards map[string]gateway.Guard) {
	for name, g := range guards {
		if g.Open() {
			log.Info("callbacks open to anyone who reaches the listener (loopback)", "aggregator", name)
			continue
		}
		log.Info("callbacks guarded", "aggregator", name, "secret", g.Secret != "", "allow", len(g.Allow), "trusted_proxies", len(g.TrustedProxies))
	}
}
