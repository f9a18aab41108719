package studio

import (
	"context"
	"sync"
	"time"
)

// Analytics is where the diagram's counts come from: the gateway's
// analytics store (package analytics, counted from every session), or
// Memory (counted from the simulator's sessions only).
type Analytics interface {
	Report(ctx context.Context, service string, from, to time.Time) (Report, error)
}

// Report is what happened in a service over whole days (UTC), by node.
// It has the shape of the analytics store's report.
type Report struct {
	Service   string
	From, To  string // YYYY-MM-DD
	Sessions  int64
	Completed int64
	Nodes     map[string]*NodeStats
}

// NodeStats is what happened at one node.
type NodeStats struct {
	Entered int64
	// Choices counts where people went next, by node name.
	Choices map[string]int64
	// Exits counts the sessions that ended at the node, by cause: end (an
	// end screen), timeout, abort (the network cut it: the user hung up),
	// elsewhere (the user dialled another service), error.
	Exits     map[string]int64
	LatencyMs struct{ Count, Sum int64 }
}

// Exit causes.
const (
	ExitEnd       = "end"
	ExitTimeout   = "timeout"
	ExitAbort     = "abort"
	ExitElsewhere = "elsewhere"
	ExitError     = "error"
)

// Memory counts the simulator's sessions in memory, by service and day.
// It is the workbench's Analytics when the gateway has no analytics
// store: the diagram then shows what was tried in the simulator since
// the gateway started, and nothing of real traffic.
type Memory struct {
	now func() time.Time
	mu  sync.Mutex
	// days[service][YYYY-MM-DD]
	days map[string]map[string]*Report
}

// NewMemory returns an empty Memory; now is the clock (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, days: map[string]map[string]*Report{}}
}

// day returns the counts of service today; the caller holds mu.
func (m *Memory) day(service string) *Report {
	d := m.now().UTC().Format(time.DateOnly)
	byDay := m.days[service]
	if byDay == nil {
		byDay = map[string]*Report{}
		m.days[service] = byDay
	}
	r := byDay[d]
	if r == nil {
		r = &Report{Service: service, From: d, To: d, Nodes: map[string]*NodeStats{}}
		byDay[d] = r
	}
	return r
}

func nodeOf(r *Report, name string) *NodeStats {
	n := r.Nodes[name]
	if n == nil {
		n = &NodeStats{Choices: map[string]int64{}, Exits: map[string]int64{}}
		r.Nodes[name] = n
	}
	return n
}

// Started counts a session of service that opened and went through the
// nodes of path (the start node to the first screen).
func (m *Memory) Started(service string, path []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.day(service)
	r.Sessions++
	if len(path) == 0 {
		return
	}
	nodeOf(r, path[0]).Entered++
	follow(r, path)
}

// Moved counts a step from screen from through the nodes of path (the
// last one the screen reached) after latency.
func (m *Memory) Moved(service, from string, path []string, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.day(service)
	f := nodeOf(r, from)
	f.LatencyMs.Count++
	f.LatencyMs.Sum += latency.Milliseconds()
	if len(path) == 0 || (len(path) == 1 && path[0] == from) {
		return // the same screen again: an invalid answer, another page
	}
	follow(r, append([]string{from}, path...))
}

// follow counts each hop of path as a choice and an entry.
func follow(r *Report, path []string) {
	for i := 1; i < len(path); i++ {
		nodeOf(r, path[i-1]).Choices[path[i]]++
		nodeOf(r, path[i]).Entered++
	}
}

// Left counts a session of service that ended at node for cause.
func (m *Memory) Left(service, node, cause string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.day(service)
	nodeOf(r, node).Exits[cause]++
	if cause == ExitEnd {
		r.Completed++
	}
}

// Report sums the days from from to to (UTC dates, both included).
func (m *Memory) Report(_ context.Context, service string, from, to time.Time) (Report, error) {
	first, last := from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)
	out := Report{Service: service, From: first, To: last, Nodes: map[string]*NodeStats{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	for d, r := range m.days[service] {
		if d < first || d > last {
			continue
		}
		out.Sessions += r.Sessions
		out.Completed += r.Completed
		for name, n := range r.Nodes {
			o := nodeOf(&out, name)
			o.Entered += n.Entered
			o.LatencyMs.Count += n.LatencyMs.Count
			o.LatencyMs.Sum += n.LatencyMs.Sum
			for k, v := range n.Choices {
				o.Choices[k] += v
			}
			for k, v := range n.Exits {
				o.Exits[k] += v
			}
		}
	}
	return out, nil
}
