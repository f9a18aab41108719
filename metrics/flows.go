package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// flowMetrics are the analytics' counters (docs/analytics.md) as
// Prometheus series: per service and node, never per number. Timeouts are
// not among the exit causes: nothing observes a session that simply
// expires; entries - moves - exits is them, plus the sessions still on
// the node.
type flowMetrics struct {
	sessions, completed *prometheus.CounterVec
	entries, moves      *prometheus.CounterVec
	exits               *prometheus.CounterVec
}

// flowCauses are the exit causes observed as they happen.
var flowCauses = []string{ussd.ExitEnd, ussd.ExitAbort, ussd.ExitElsewhere, ussd.ExitError}

func (m *Metrics) flowVecs() *flowMetrics {
	m.flowsOnce.Do(func() {
		m.flows = &flowMetrics{
			sessions: m.counterVec("ussdgw_flow_sessions_total", "Sessions begun, by service (analytics).", "service"),
			completed: m.counterVec("ussdgw_flow_sessions_completed_total",
				"Sessions that reached an end screen without a back-end failure, by service (analytics).", "service"),
			entries: m.counterVec("ussdgw_flow_node_entries_total", "Arrivals at a node of a flow (a screen shown anew, an action or router run), by service and node.",
				"service", "node"),
			moves: m.counterVec("ussdgw_flow_node_moves_total", "Moves out of a node to another (a choice, an action's outcome, back), by service and node.",
				"service", "node"),
			exits: m.counterVec("ussdgw_flow_node_exits_total", "Sessions that ended on a node, by service, node and cause (end, error, abort, elsewhere; timeouts are not observed as they happen).",
				"service", "node", "cause"),
		}
	})
	return m.flows
}

// WatchFlows starts the analytics series of set's services and nodes at
// zero, so that rate() works from the first session, and returns the
// hook that counts each analytics event (analytics.Options.Observe).
// set may be nil.
func (m *Metrics) WatchFlows(set *flows.Set) func(*ussd.Event) {
	fm := m.flowVecs()
	if set != nil {
		for _, f := range set.Flows() {
			fm.sessions.WithLabelValues(f.ID)
			fm.completed.WithLabelValues(f.ID)
			for _, n := range f.NodeNames() {
				fm.entries.WithLabelValues(f.ID, n)
				fm.moves.WithLabelValues(f.ID, n)
				for _, c := range flowCauses {
					fm.exits.WithLabelValues(f.ID, n, c)
				}
			}
		}
	}
	return fm.event
}

func (fm *flowMetrics) event(ev *ussd.Event) {
	if ev.New {
		fm.sessions.WithLabelValues(ev.Service).Inc()
	}
	prev := ev.From
	for _, n := range ev.Path {
		fm.entries.WithLabelValues(ev.Service, n).Inc()
		if prev != "" {
			fm.moves.WithLabelValues(ev.Service, prev).Inc()
		}
		prev = n
	}
	if ev.Exit != "" && ev.ExitNode != "" {
		fm.exits.WithLabelValues(ev.Service, ev.ExitNode, ev.Exit).Inc()
		if ev.Exit == ussd.ExitEnd {
			fm.completed.WithLabelValues(ev.Service).Inc()
		}
	}
}
