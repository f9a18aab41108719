package ussd

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/flows"
)

// The manager tells an Analytics (package analytics is one) what each
// session does, as Events, and writes the counters the Analytics turns
// them into with the session's save: in the same Redis script as the
// compare-and-swap, so a step costs no extra round trip and a step that
// lost a race (and was not applied) is not counted. See docs/analytics.md.

// Exit causes: why a session left the node it was on.
const (
	ExitEnd       = "end"       // an end screen, reached without a back-end failure
	ExitError     = "error"     // an end screen reached through a back-end failure
	ExitAbort     = "abort"     // the network said the dialogue was cut (Manager.Abort)
	ExitElsewhere = "elsewhere" // a new dialogue of the same number replaced it before its timeout
	ExitTimeout   = "timeout"   // no step within the session timeout (never an Event: see analytics)
)

// Event is what one session save tells analytics: no phone number, no
// session id. All of a session's events carry its start time, so that
// they are counted under the day the session began.
type Event struct {
	Service string
	Loc     *time.Location // the service's time zone (UTC when nil)
	Started time.Time      // when the session began
	// New marks the first step of a session.
	New bool
	// From is the node the step started on ("" for a first step or a
	// resumed session); Path the nodes it arrived at, in order.
	From string
	Path []string
	// Rejected marks an input the flow refused (the screen shown again).
	Rejected bool
	// Failed marks a step that met a back-end failure on the way (an
	// adapter error or timeout): an end it reaches is ExitError.
	Failed bool
	// Node is where the step left the user; Latency how long it took. A
	// zero Latency marks an event that is not a step (abort, elsewhere).
	Node    string
	Latency time.Duration
	// Exit is the cause when the session ended ("" when it goes on), at
	// ExitNode.
	Exit, ExitNode string
}

// Count is one counter increment: N added to Field of the hash Key.
// Expire sets the key's expiry to the keep of SwapCount (a store may set
// it on every increment): counters of a key created without it would
// never expire.
type Count struct {
	Key, Field string
	N          int64
	Expire     bool
}

// Analytics turns events into counters.
type Analytics interface {
	// Counts appends the increments of ev to dst.
	Counts(dst []Count, ev *Event) []Count
	// Keep is how long a counter key lives after its last increment.
	Keep() time.Duration
	// Saved is told each event once its counts are written (in-process
	// metrics). It must not block.
	Saved(ev *Event)
}

// Counter is a Store that keeps counters beside the values: RedisStore
// and MemoryStore are ones.
type Counter interface {
	// SwapCount is Swap that, when it swaps, adds counts in the same
	// atomic operation where it can (RedisStore on a Redis Cluster adds
	// them right after: the keys live on other nodes). A key with a count
	// marked Expire expires keep after that increment.
	SwapCount(ctx context.Context, key string, old, val []byte, ttl time.Duration, counts []Count, keep time.Duration) (bool, error)
	// ReadCounts returns the counters of each key (an empty map for a
	// missing key).
	ReadCounts(ctx context.Context, keys ...string) ([]map[string]int64, error)
}

var (
	_ Counter = (*RedisStore)(nil)
	_ Counter = (*MemoryStore)(nil)
)

// trail follows a step through the flow (a flows.Tracer).
type trail struct {
	path   []string
	failed bool
	buf    [6]string
}

func (t *trail) Arrived(node string) { t.path = append(t.path, node) }
func (t *trail) Failed(string)       { t.failed = true }

// newTrail returns a trail for a step when analytics is on, else nil.
func (m *Manager) newTrail() *trail {
	if m.analytics == nil {
		return nil
	}
	t := &trail{}
	t.path = t.buf[:0]
	return t
}

// stepEvent is the event of a step of s in f, begun at start, with its
// trail (nil when analytics is off).
func stepEvent(f *flows.Flow, s *Session, t *trail, start time.Time, from string, rejected bool) *Event {
	if t == nil {
		return nil
	}
	ev := &Event{Service: f.ID, Loc: f.Location(), Started: time.Unix(s.Started, 0), From: from, Path: t.path,
		Rejected: rejected, Failed: t.failed, Node: s.Node, Latency: max(time.Since(start), time.Microsecond)}
	if s.Status == StatusOffered {
		ev.Node = "" // the resume offer is no node of the flow
	}
	return ev
}

// leftEvent is the event of session s leaving its node for cause, or nil
// when analytics is off or s never reached a node of its own (it was
// showing the resume offer).
func (m *Manager) leftEvent(s *Session, cause string) *Event {
	if m.analytics == nil || s.Status == StatusOffered || s.Node == "" {
		return nil
	}
	ev := &Event{Service: s.Service, Loc: time.UTC, Started: time.Unix(s.Started, 0), Exit: cause, ExitNode: s.Node}
	if f, ok := m.flows.Load().Flow(s.Service); ok {
		ev.Loc = f.Location()
	}
	return ev
}

// swap is Store.Swap with the counts of evs (nil ones skipped) written
// in the same operation when analytics is on.
func (m *Manager) swap(ctx context.Context, key string, old, val []byte, ttl time.Duration, evs ...*Event) (bool, error) {
	if m.analytics == nil {
		return m.cfg.Store.Swap(ctx, key, old, val, ttl)
	}
	var counts []Count
	for _, ev := range evs {
		if ev != nil {
			counts = m.analytics.Counts(counts, ev)
		}
	}
	if len(counts) == 0 {
		return m.cfg.Store.Swap(ctx, key, old, val, ttl)
	}
	ok, err := m.counter.SwapCount(ctx, key, old, val, ttl, counts, m.analytics.Keep())
	if ok && err == nil {
		for _, ev := range evs {
			if ev != nil {
				m.analytics.Saved(ev)
			}
		}
	}
	return ok, err
}
