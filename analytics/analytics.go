// Package analytics counts what a service's sessions do, per service,
// node and day, so that a service owner can see where users give up:
// how many entered each screen, which choices they took, where and why
// they left (an end screen, a timeout, a network abort, a new dialogue
// that replaced it, a back-end error), the completion rate and the step
// latency. See docs/analytics.md. It reads the counts ussd writes
// with each session save and must not import a transport (gateway, smpp, api).
//
// The session manager (package ussd) reports Events; Store turns them
// into counter increments that the session store writes with the
// session's own save (one Redis script: no extra round trip), and reads
// them back as a Report. Days are the service's (its flow's timezone:),
// and a session is counted under the day it began, so that a day's
// entries and exits always add up.
//
// It imports ussd and flows for their types; it must not import the
// transports or cmd.
package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/ussd"
)

// DefaultRetention is how long a day's counters are kept after its last
// increment.
const DefaultRetention = 90 * 24 * time.Hour

// MinRetention is the shortest retention: a day's counters outlive the
// sessions of that day.
const MinRetention = 24 * time.Hour

// MaxDays bounds the days one Report reads.
const MaxDays = 400

// Causes are the exit causes, in the order reports list them.
var Causes = []string{ussd.ExitEnd, ussd.ExitTimeout, ussd.ExitAbort, ussd.ExitElsewhere, ussd.ExitError}

// NodeStats are the counts of one node over a report's days.
type NodeStats struct {
	// Entered counts arrivals at the node (a screen shown anew; an action
	// or router run). Paging through a menu and a refused input are not
	// arrivals.
	Entered int64 `json:"entered"`
	// Choices counts the moves out of the node by the node they led to.
	Choices map[string]int64 `json:"choices"`
	// Exits counts the sessions that ended on the node, by cause.
	Exits map[string]int64 `json:"exits"`
	// Rejected counts inputs the node refused (an invalid choice or entry).
	Rejected int64 `json:"rejected"`
	// LatencyMs sums the time of the steps that left users on the node.
	LatencyMs struct {
		Count int64 `json:"count"`
		Sum   int64 `json:"sum"`
	} `json:"latency_ms"`
}

// Report is a service's counts over a range of days.
type Report struct {
	Service string `json:"service"`
	From    string `json:"from"` // YYYY-MM-DD, in the service's time zone
	To      string `json:"to"`
	// Sessions begun in the range, and those that reached an end screen
	// without a back-end failure.
	Sessions  int64 `json:"sessions"`
	Completed int64 `json:"completed"`
	// CompletionRate is Completed/Sessions (0 without sessions).
	CompletionRate float64 `json:"completion_rate"`
	// Partial is set when the range ends today or later: the day is not
	// over, and Exits["timeout"] includes the sessions still in progress.
	Partial bool                  `json:"partial"`
	Nodes   map[string]*NodeStats `json:"nodes"`
}

// Options configure New.
type Options struct {
	// Counter is the session store the manager saves sessions in.
	Counter ussd.Counter
	// Retention is how long a day's counters are kept after the day's
	// first session (DefaultRetention; at least MinRetention).
	Retention time.Duration
	// Location returns a service's time zone (nil, or a nil answer: UTC).
	Location func(service string) *time.Location
	// Observe, when set, is told every event once written (Prometheus).
	Observe func(*ussd.Event)
	// Now is the clock of Report's "today" (time.Now).
	Now func() time.Time
}

// Store records sessions' events (it is the manager's ussd.Analytics) and
// reports them.
type Store struct {
	o Options
}

var _ ussd.Analytics = (*Store)(nil)

// New returns a Store over o.Counter.
func New(o Options) *Store {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	// A day key's expiry is set when a session begins (Counts): it must
	// outlive the sessions of its day.
	o.Retention = max(o.Retention, MinRetention)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{o: o}
}

// Retention is how long counters are kept.
func (s *Store) Retention() time.Duration { return s.o.Retention }

// Keys and fields. One hash per service and day, "a:<service>:<date>",
// whose fields count steps by what they did, so that a step costs one
// increment (two with its latency) in the session's save script:
//
//	t:<flags>:<from>:<path>:<node>:<exit>   steps that did exactly this
//	lu:<node>                               µs of the steps that left users on node
//	x:<node>:<cause>                        sessions that left node for cause
//	                                        without a step (abort, elsewhere)
//
// flags are n (the session began), r (the input was refused), l (a step
// with a latency); path is the nodes arrived at, comma-separated; exit
// the cause when the step ended the session on node (end, error). Report
// expands them into entries, choices and exits. Node names are
// [a-z][a-z0-9_]* or "@language", service ids [a-z][a-z0-9_-]*
// (flows/parse.go): ":" and "," cannot occur in them. The distinct
// fields are bounded by the flow's paths, not by the traffic.
func dayKey(service, day string) string { return "a:" + service + ":" + day }

const dateFormat = "2006-01-02"

// Keep implements ussd.Analytics.
func (s *Store) Keep() time.Duration { return s.o.Retention }

// Saved implements ussd.Analytics.
func (s *Store) Saved(ev *ussd.Event) {
	if s.o.Observe != nil {
		s.o.Observe(ev)
	}
}

// Counts implements ussd.Analytics. The day key's expiry is set with a
// session's first step (and with the rare exits without a step): the
// key's life is counted from the day's first session.
func (s *Store) Counts(dst []ussd.Count, ev *ussd.Event) []ussd.Count {
	loc := ev.Loc
	if loc == nil {
		loc = time.UTC
	}
	key := dayKey(ev.Service, ev.Started.In(loc).Format(dateFormat))
	if ev.Latency == 0 && len(ev.Path) == 0 && !ev.New { // an exit without a step
		if ev.Exit != "" && ev.ExitNode != "" {
			dst = append(dst, ussd.Count{Key: key, Field: "x:" + ev.ExitNode + ":" + ev.Exit, N: 1, Expire: true})
		}
		return dst
	}
	var b strings.Builder
	b.Grow(32 + 12*len(ev.Path))
	b.WriteString("t:")
	if ev.New {
		b.WriteByte('n')
	}
	latency := ev.Latency > 0 && ev.Node != ""
	if ev.Node != "" {
		if ev.Rejected {
			b.WriteByte('r')
		}
		if latency {
			b.WriteByte('l')
		}
	}
	b.WriteByte(':')
	b.WriteString(ev.From)
	b.WriteByte(':')
	for i, n := range ev.Path {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	b.WriteByte(':')
	b.WriteString(ev.Node)
	b.WriteByte(':')
	if ev.Exit != "" && ev.Node != "" {
		b.WriteString(ev.Exit)
	}
	dst = append(dst, ussd.Count{Key: key, Field: b.String(), N: 1, Expire: ev.New})
	if latency {
		dst = append(dst, ussd.Count{Key: key, Field: "lu:" + ev.Node, N: ev.Latency.Microseconds()})
	}
	return dst
}

func (s *Store) location(service string) *time.Location {
	if s.o.Location != nil {
		if loc := s.o.Location(service); loc != nil {
			return loc
		}
	}
	return time.UTC
}

// Days returns the dates from..to (inclusive) in service's time zone, as
// Report reads them.
func (s *Store) Days(service string, from, to time.Time) ([]string, error) {
	loc := s.location(service)
	f, t := from.In(loc), to.In(loc)
	d0 := time.Date(f.Year(), f.Month(), f.Day(), 12, 0, 0, 0, time.UTC)
	d1 := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC)
	if d1.Before(d0) {
		return nil, fmt.Errorf("analytics: the range ends (%s) before it begins (%s)", d1.Format(dateFormat), d0.Format(dateFormat))
	}
	n := int(d1.Sub(d0)/(24*time.Hour)) + 1
	if n > MaxDays {
		return nil, fmt.Errorf("analytics: %d days asked, at most %d in one report", n, MaxDays)
	}
	days := make([]string, n)
	for i := range days {
		days[i] = d0.AddDate(0, 0, i).Format(dateFormat)
	}
	return days, nil
}

// Report sums service's counts over the days from..to (inclusive) in the
// service's time zone. Exits["timeout"] is derived: the arrivals at a
// node that neither moved on nor left by another cause. For a day not
// over yet it includes the sessions still on that node.
func (s *Store) Report(ctx context.Context, service string, from, to time.Time) (Report, error) {
	days, err := s.Days(service, from, to)
	if err != nil {
		return Report{}, err
	}
	r := Report{Service: service, From: days[0], To: days[len(days)-1], Nodes: map[string]*NodeStats{}}
	r.Partial = r.To >= s.o.Now().In(s.location(service)).Format(dateFormat)
	keys := make([]string, len(days))
	for i, d := range days {
		keys[i] = dayKey(service, d)
	}
	hs, err := s.o.Counter.ReadCounts(ctx, keys...)
	if err != nil {
		return Report{}, fmt.Errorf("reading the analytics of %s: %w", service, err)
	}
	latUs := map[string]int64{}
	for _, h := range hs {
		for f, n := range h {
			kind, rest, _ := strings.Cut(f, ":")
			switch kind {
			case "t":
				r.addSteps(rest, n)
			case "lu":
				latUs[rest] += n
			case "x":
				if node, cause, ok := strings.Cut(rest, ":"); ok {
					r.node(node).Exits[cause] += n
				}
			}
		}
	}
	for node, us := range latUs {
		r.node(node).LatencyMs.Sum = (us + 500) / 1000
	}
	for _, ns := range r.Nodes {
		left := ns.Entered
		for _, n := range ns.Choices {
			left -= n
		}
		for _, n := range ns.Exits {
			left -= n
		}
		if left > 0 {
			ns.Exits[ussd.ExitTimeout] += left
		}
	}
	if r.Sessions > 0 {
		r.CompletionRate = float64(r.Completed) / float64(r.Sessions)
	}
	return r, nil
}

// addSteps adds n steps of one kind (a "t:" field without its "t:").
func (r *Report) addSteps(f string, n int64) {
	parts := strings.SplitN(f, ":", 5)
	if len(parts) != 5 {
		return // not written by Counts
	}
	flags, from, path, node, exit := parts[0], parts[1], parts[2], parts[3], parts[4]
	if strings.IndexByte(flags, 'n') >= 0 {
		r.Sessions += n
	}
	prev := from
	for p := range strings.SplitSeq(path, ",") {
		if p == "" {
			continue
		}
		r.node(p).Entered += n
		if prev != "" {
			r.node(prev).Choices[p] += n
		}
		prev = p
	}
	if node == "" {
		return
	}
	if strings.IndexByte(flags, 'r') >= 0 {
		r.node(node).Rejected += n
	}
	if strings.IndexByte(flags, 'l') >= 0 {
		r.node(node).LatencyMs.Count += n
	}
	if exit != "" {
		r.node(node).Exits[exit] += n
		if exit == ussd.ExitEnd {
			r.Completed += n
		}
	}
}

func (r *Report) node(name string) *NodeStats {
	ns := r.Nodes[name]
	if ns == nil {
		ns = &NodeStats{Choices: map[string]int64{}, Exits: map[string]int64{}}
		r.Nodes[name] = ns
	}
	return ns
}

// NodeNames returns the report's nodes in name order.
func (r *Report) NodeNames() []string {
	out := make([]string, 0, len(r.Nodes))
	for n := range r.Nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
