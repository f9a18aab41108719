package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
)

type transportKey struct{}

// WithTransport marks ctx as carrying a step of the named transport
// ("http", "smpp"): the step hook labels the step with it.
func WithTransport(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, transportKey{}, name)
}

// transport names the transport of a step: the one in ctx, "sms" for an
// SMS dialogue, "other" when nothing said.
func transport(ctx context.Context, channel string) string {
	if channel != "" {
		return channel // "sms": SMS dialogues, whichever transport brought the SMS
	}
	if t, ok := ctx.Value(transportKey{}).(string); ok && t != "" {
		return t
	}
	return "other"
}

// Step is the session manager's hook (ussd.Config.Observe): it counts the
// step, times it, and keeps the active-session estimate. A step the
// per-number limits refused (outcome "limited" or "denied") counts as a
// refusal too.
func (m *Metrics) Step(ctx context.Context, s ussd.Step) {
	service := s.Service
	if service == "" {
		service = "none"
	}
	tr := transport(ctx, s.Channel)
	m.steps.WithLabelValues(service, tr, s.Outcome).Inc()
	m.stepDur.WithLabelValues(service, tr, s.Outcome).Observe(s.Duration.Seconds())
	m.sessions.step(service, tr, s)
	if s.Outcome == "limited" || s.Outcome == "denied" {
		ch := "ussd"
		if s.Channel != "" {
			ch = s.Channel
		}
		m.Refused(ch, s.Outcome)
	}
}

// HTTP marks the requests of h as the "http" transport for the step hook.
func (m *Metrics) HTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithTransport(r.Context(), "http")))
	})
}

// Sessions is what the SMPP bridge calls for USSD steps (bridge.Sessions);
// *ussd.Manager is one.
type Sessions interface {
	Handle(ctx context.Context, req ussd.Request) (ussd.Response, error)
	Abort(ctx context.Context, msisdn msisdn.MSISDN, sessionID string) error
}

// Transport wraps s so that its steps are labelled with the transport
// name (the bridge's steps: "smpp").
func Transport(s Sessions, name string) Sessions { return transported{s, name} }

type transported struct {
	Sessions
	name string
}

func (t transported) Handle(ctx context.Context, req ussd.Request) (ussd.Response, error) {
	return t.Sessions.Handle(WithTransport(ctx, t.name), req)
}

func (t transported) Abort(ctx context.Context, msisdn msisdn.MSISDN, sessionID string) error {
	return t.Sessions.Abort(WithTransport(ctx, t.name), msisdn, sessionID)
}

// Refused counts a message refused by the per-number limits; channel is
// "ussd" or "sms", verdict "limited" or "denied"; or an API request
// refused by its key's limit: channel "api", verdict "limited".
func (m *Metrics) Refused(channel, verdict string) {
	m.refusals.WithLabelValues(channel, verdict).Inc()
}

const sessionsName = "ussdgw_ussd_sessions_active"

// sessions estimates the sessions in progress on this instance: those
// whose last step continued the dialogue less than a session timeout
// ago. Across instances, sum it; a session whose steps move between
// instances counts on each for up to a timeout. It keeps an opaque key per
// session (ussd.Step.Session), never a number, and at most maxSessions.
type sessions struct {
	timeout time.Duration
	now     func() time.Time
	desc    *prometheus.Desc

	mu     sync.Mutex
	active map[string]sessionEntry
	pruned time.Time
}

type sessionEntry struct {
	service, transport string
	last               time.Time
}

// maxSessions bounds the estimate's memory (about 100 bytes a session);
// past it new sessions are not counted until old ones expire.
const maxSessions = 1 << 20

func newSessions(timeout time.Duration, now func() time.Time) *sessions {
	return &sessions{timeout: timeout, now: now, active: map[string]sessionEntry{},
		desc: prometheus.NewDesc(sessionsName, "Sessions in progress on this instance (estimate: last step continued the dialogue within the session timeout), by service and transport.",
			[]string{"service", "transport"}, nil)}
}

func (s *sessions) step(service, transport string, st ussd.Step) {
	if st.Session == "" {
		return
	}
	key := transport + "\x00" + st.Session
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Outcome != "continue" {
		delete(s.active, key)
		return
	}
	if now.Sub(s.pruned) > s.timeout/4 || len(s.active) >= maxSessions {
		s.prune(now)
	}
	if _, ok := s.active[key]; !ok && len(s.active) >= maxSessions {
		return
	}
	s.active[key] = sessionEntry{service: service, transport: transport, last: now}
}

// prune drops sessions past the timeout; s.mu is held.
func (s *sessions) prune(now time.Time) {
	for k, e := range s.active {
		if now.Sub(e.last) >= s.timeout {
			delete(s.active, k)
		}
	}
	s.pruned = now
}

func (s *sessions) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s *sessions) Collect(ch chan<- prometheus.Metric) {
	type lk struct{ service, transport string }
	counts := map[lk]int{}
	s.mu.Lock()
	s.prune(s.now())
	for _, e := range s.active {
		counts[lk{e.service, e.transport}]++
	}
	s.mu.Unlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n), k.service, k.transport)
	}
}
