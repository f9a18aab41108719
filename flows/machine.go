package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/looplab/fsm"
)

// machine is a flow's transition table as a looplab/fsm state machine:
// states are node names, events are the outcomes of a node (option:2,
// item, valid, ok, empty, error, timeout, route:1, default). An fsm.FSM
// holds one current state, so a step borrows one from a pool, sets it to
// the session's node, fires the event and reads where it landed; the
// machines themselves are built once at load.
type machine struct {
	pool sync.Pool
	// known lets fire reject an event the flow does not have without
	// fsm's error path, which scans every transition.
	known map[eventKey]bool
}

type eventKey struct{ src, event string }

// edge is one outgoing transition of a node.
type edge struct {
	event string
	to    target
}

// edges lists a node's outgoing transitions, built-in targets included.
func (n *node) edges() []edge {
	var out []edge
	switch n.kind {
	case kindMenu:
		for i, o := range n.options {
			out = append(out, edge{"option:" + strconv.Itoa(i+1), o.next})
		}
		if n.items != nil {
			out = append(out, edge{"item", n.items.next})
		}
	case kindInput:
		out = append(out, edge{"valid", n.next})
	case kindAction:
		out = append(out, edge{"ok", n.next}, edge{"empty", n.onEmpty}, edge{"invalid", n.onInvalid},
			edge{"error", n.onError}, edge{"timeout", n.onTimeout})
	case kindSMS:
		out = append(out, edge{"sent", n.next}, edge{"error", n.onError})
	case kindSubscribe:
		out = append(out, edge{"ok", n.next}, edge{"error", n.onError})
	case kindUnsubscribe, kindSubscriptions:
		out = append(out, edge{"ok", n.next}, edge{"empty", n.onEmpty}, edge{"error", n.onError})
	case kindRouter:
		for i, r := range n.routes {
			out = append(out, edge{"route:" + strconv.Itoa(i+1), r.next})
		}
		out = append(out, edge{"default", n.def})
	}
	return out
}

func newMachine(f *Flow) (*machine, error) {
	var events []fsm.EventDesc
	known := map[eventKey]bool{}
	for _, n := range f.nodes {
		for _, e := range n.edges() {
			if e.to < 0 {
				continue
			}
			events = append(events, fsm.EventDesc{Name: e.event, Src: []string{n.name}, Dst: f.nodes[e.to].name})
			known[eventKey{n.name, e.event}] = true
		}
	}
	start := f.nodes[f.start].name
	m := &machine{known: known}
	m.pool.New = func() any { return fsm.NewFSM(start, events, nil) }
	return m, nil
}

var errNoTransition = errors.New("flows: no such transition")

// fire returns the state that event leads to from src.
func (m *machine) fire(src, event string) (string, error) {
	if !m.known[eventKey{src, event}] {
		return "", fmt.Errorf("%w: %s from %s", errNoTransition, event, src)
	}
	f := m.pool.Get().(*fsm.FSM)
	defer m.pool.Put(f)
	f.SetState(src)
	// The transition is not I/O: it must not fail because the step's
	// deadline passed while an adapter was being called.
	err := f.Event(context.Background(), event)
	var same fsm.NoTransitionError
	if err != nil && !errors.As(err, &same) {
		return "", fmt.Errorf("firing %s from %s: %w", event, src, err)
	}
	return f.Current(), nil
}
