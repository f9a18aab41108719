package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/ussdgw/ussdgw/gateway"
)

// guardSettings are the settings of the guard rails: who may call the
// callbacks, where the profiler may listen.
type guardSettings struct {
	CallbackSecret  string
	CallbackAllow   string
	CallbackProxies string
	DebugPublic     bool
}

func guardDefaults() guardSettings { return guardSettings{} }

func (g *guardSettings) guardOptions() []option {
	return []option{
		{name: "callback-secret", usage: "shared secret the aggregator sends in the X-Gateway-Secret header or as the last path segment (/ussd/africastalking/<secret>); at least 16 characters", str: &g.CallbackSecret},
		{name: "callback-allow", usage: "addresses or CIDRs allowed to call the USSD callbacks, comma separated (empty: any)", str: &g.CallbackAllow},
		{name: "callback-trusted-proxies", usage: "addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed, comma separated", str: &g.CallbackProxies},
		{name: "debug-public", usage: "let -debug-listen use a non-loopback address (the profiler shows the command line and memory)", flag: &g.DebugPublic},
	}
}

// minSecret is the shortest accepted callback secret: it is all that
// stands between the Internet and "act as any phone number".
const minSecret = 16

// guards builds the callbacks' guards and refuses an exposed, unguarded
// listener: off loopback without a secret or an allow-list anyone could
// act as any phone number.
func (s *settings) guards() (map[string]gateway.Guard, error) {
	g := gateway.Guard{Secret: s.CallbackSecret}
	if g.Secret != "" && (len(g.Secret) < minSecret || strings.ContainsAny(g.Secret, "/?#% \t\r\n")) {
		return nil, fmt.Errorf("-callback-secret must be at least %d characters and path-safe (letters, digits, - _ . ~), e.g. the output of: openssl rand -hex 24", minSecret)
	}
	var err error
	if g.Allow, err = gateway.ParsePrefixes(s.CallbackAllow); err != nil {
		return nil, fmt.Errorf("-callback-allow: %w", err)
	}
	if g.TrustedProxies, err = gateway.ParsePrefixes(s.CallbackProxies); err != nil {
		return nil, fmt.Errorf("-callback-trusted-proxies: %w", err)
	}
	if g.Open() && !loopback(s.Listen) {
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
