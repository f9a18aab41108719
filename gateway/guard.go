package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// AfricasTalking is the aggregator name of the Africa's Talking callback
// in Config.Guards.
const AfricasTalking = "africastalking"

// SecretHeader carries an aggregator's shared secret when it is not in the
// callback's path.
const SecretHeader = "X-Gateway-Secret"

// Guard says who may call one aggregator's callback: anyone who can reach
// the port otherwise, and so anyone can act as any phone number. Every
// part that is set must pass.
type Guard struct {
	// Secret, when set, must come in the X-Gateway-Secret header or as the
	// path segment after the callback's path (/ussd/africastalking/<secret>).
	Secret string
	// Allow, when set, lists the networks a caller must be in.
	Allow []netip.Prefix
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: the caller is the right-most address not among them. From
	// anyone else the header is ignored.
	TrustedProxies []netip.Prefix
}

// Open reports whether the guard lets anyone in.
func (g Guard) Open() bool { return g.Secret == "" && len(g.Allow) == 0 }

// ParsePrefixes reads a list of networks separated by commas or spaces:
// CIDRs (10.0.0.0/8) or single addresses (203.0.113.7).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a CIDR: %w", f, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the caller's address: the peer, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For hop that is not one. An
// unreadable hop makes the caller unknown (invalid address).
func (g Guard) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !contains(g.TrustedProxies, addr) {
		return addr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}
		}
		addr = a.Unmap()
		if !contains(g.TrustedProxies, addr) {
			return addr
		}
	}
	return addr
}

// check returns why the request is refused, or "".
func (g Guard) check(r *http.Request, pathSecret string) (reason string, from netip.Addr) {
	from = g.clientAddr(r)
	if len(g.Allow) > 0 && (!from.IsValid() || !contains(g.Allow, from)) {
		return "address not allowed", from
	}
	if g.Secret != "" {
		got := r.Header.Get(SecretHeader)
		if got == "" {
			got = pathSecret
		}
		if got == "" {
			return "missing secret", from
		}
		// Hashing first makes the comparison constant-time in the length
		// too.
		a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(g.Secret))
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return "wrong secret", from
		}
	}
	return "", from
}

// refusals logs refused callers once per source per minute, and at most a
// few lines a second overall: a flood of forged callbacks must not become
// a flood of log lines.
type refusals struct {
	log  *slog.Logger
	all  *rate.Limiter
	mu   sync.Mutex
	seen map[string]time.Time
}

const maxRefusalSources = 4096

func newRefusals(log *slog.Logger) *refusals {
	return &refusals{log: log, all: rate.NewLimiter(5, 10), seen: map[string]time.Time{}}
}

func (l *refusals) note(aggregator, route, reason string, from netip.Addr) {
	src := from.String()
	now := time.Now()
	l.mu.Lock()
	if t, ok := l.seen[src]; ok && now.Sub(t) < time.Minute {
		l.mu.Unlock()
		return
	}
	if len(l.seen) >= maxRefusalSources {
		clear(l.seen)
	}
	l.seen[src] = now
	l.mu.Unlock()
	if l.all.Allow() {
		// Never the secret nor the path (which may hold a guessed one).
		l.log.Warn("callback refused (further refusals from this source are not logged for a minute)",
			"aggregator", aggregator, "route", route, "from", src, "reason", reason)
	}
}

// guarded wraps a route's handler with its guard.
func (s *Server) guarded(rt Route, next echo.HandlerFunc) echo.HandlerFunc {
	g, name := rt.Guard, rt.Dialect.Name()
	return func(c echo.Context) error {
		pathSecret := c.Param("secret")
		if pathSecret != "" && g.Secret == "" {
			return echo.ErrNotFound
		}
		if reason, from := g.check(c.Request(), pathSecret); reason != "" {
			s.refused.note(name, c.Path(), reason, from)
			return rt.Dialect.Refuse(c.Response(), http.StatusForbidden, "forbidden: "+reason)
		}
		return next(c)
	}
}
