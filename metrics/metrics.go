// Package metrics is the gateway's Prometheus instrumentation: it owns a
// registry of its own (not the global one, so that tests and several
// gateways in one process do not clash) with the collectors, and serves
// it as an http.Handler for a listener of its own. It sits with the
// transports, whose status it reads (smpp): nothing below the transports
// may import it, and it must not import cmd/.
//
// It observes at the seams rather than inside the packages: a hook on the
// session manager's steps (ussd.Config.Observe), a wrapper around the
// adapters (flows.Caller), a go-redis hook, and pull-style collectors over
// the totals the SMPP clients and the outbox already keep, read at scrape
// time. Labels are bounded: services, transports, adapters, binds and SMPP
// command/status names; never a phone number or a session id.
//
// It imports ussd, flows, adapters and smpp for their types only; it must
// not import the transports (gateway, smpp/bridge) or cmd, which wire it.
package metrics

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure New.
type Options struct {
	// SessionTimeout is the gateway's session timeout: a session with no
	// step for that long no longer counts as active (180 s).
	SessionTimeout time.Duration
	// Now is the clock of the active-session estimate (time.Now).
	Now func() time.Time
}

// Metrics owns the registry and the collectors. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	steps    *prometheus.CounterVec
	stepDur  *prometheus.HistogramVec
	sessions *sessions

	adapterCalls *prometheus.CounterVec
	adapterDur   *prometheus.HistogramVec

	redisErrors *prometheus.CounterVec
	refusals    *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]string // series name -> type, for Names
	// analytics series (flows.go), made by the first WatchFlows
	flowsOnce sync.Once
	flows     *flowMetrics
}

// Step latency buckets: a USSD step's budget is 4 s, and the operator
// cuts the dialogue not far above it.
var stepBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 4, 8}

// New returns the gateway's metrics with the Go runtime and process
// collectors registered.
func New(o Options) *Metrics {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 180 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), names: map[string]string{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.steps = m.counterVec("ussdgw_ussd_steps_total", "USSD and SMS-dialogue steps answered, by service, transport (http, smpp, sms) and outcome (continue, end, unknown, error).",
		"service", "transport", "outcome")
	m.stepDur = m.histogramVec("ussdgw_ussd_step_duration_seconds", "Time to answer one step, adapter calls included.", stepBuckets,
		"service", "transport", "outcome")
	m.sessions = newSessions(o.SessionTimeout, o.Now)
	m.register(m.sessions, map[string]string{sessionsName: "gauge"})

	m.adapterCalls = m.counterVec("ussdgw_adapter_calls_total", "Adapter calls by adapter, operation and outcome (ok, not_found, invalid, unavailable, timeout).",
		"adapter", "op", "outcome")
	m.adapterDur = m.histogramVec("ussdgw_adapter_call_duration_seconds", "Adapter call latency by adapter and operation.", prometheus.DefBuckets,
		"adapter", "op")

	m.redisErrors = m.counterVec("ussdgw_redis_errors_total", "Redis commands that failed (not counting a missing key), by command name; \"dial\" for failed connections.",
		"command")
	m.refusals = m.counterVec("ussdgw_refusals_total", "Messages refused before their step by the per-number limits, by channel (ussd, sms) and verdict (limited, denied); API requests refused by the per-key limit as channel api, verdict limited.",
		"channel", "verdict")
	m.redisErrors.WithLabelValues("dial")
	// Known label values start at zero so that rate() works from the
	// first refusal and dashboards show 0 rather than "no data".
	for _, ch := range []string{"ussd", "sms"} {
		for _, v := range []string{"limited", "denied"} {
			m.refusals.WithLabelValues(ch, v)
		}
	}
	m.refusals.WithLabelValues("api", "limited")
	return m
}

// Registry returns the registry, for collectors added by the caller.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 10 * time.Second})
}

// Names returns the gateway's own series (ussdgw_*) and their types
// ("counter", "gauge", "histogram"), those of collectors added later
// (binds, queue) included.
func (m *Metrics) Names() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.names))
	for k, v := range m.names {
		out[k] = v
	}
	return out
}

// AllNames returns every series the gateway can export, whether or not
// its source is wired (the binds without an smpp: section, the queue
// before the outbox): what a dashboard may use.
func AllNames() map[string]string {
	m := New(Options{})
	m.WatchSMPP(nil)
	m.WatchQueue(nil)
	m.WatchFlows(nil)
	return m.Names()
}

// SortedNames returns the keys of names in order.
func SortedNames(names map[string]string) []string {
	out := make([]string, 0, len(names))
	for k := range names {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.register(c, map[string]string{name: "counter"})
	return c
}

func (m *Metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.register(h, map[string]string{name: "histogram"})
	return h
}

func (m *Metrics) register(c prometheus.Collector, names map[string]string) {
	m.reg.MustRegister(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range names {
		m.names[k] = v
	}
}
