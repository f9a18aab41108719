package flows

import (
	"strings"

	"github.com/ussdgw/ussdgw/gsm"
)

// Graph is a flow's nodes and the transitions between them, as written:
// what a tool draws (the workbench's diagram) without running the flow.
type Graph struct {
	Start string
	Nodes []GraphNode // in file order
}

// GraphNode is one node of a Graph.
type GraphNode struct {
	Name string
	Kind string // menu, input, action, router, end, sms, subscribe, unsubscribe, subscriptions
	// Text is the node's words in the language asked for, variables left
	// as written ({{crop_name}}); for an action, "call.op".
	Text  string
	Edges []GraphEdge
}

// GraphEdge is one way out of a node.
type GraphEdge struct {
	// Event is the engine's name for it: option:N, item, valid, ok,
	// empty, invalid, error, timeout, sent, route:N, default.
	Event string
	// Label says it in the flow's words: a menu option's label, a route's
	// "when", else the event.
	Label string
	// To is a node name or a built-in place: @back, @home, @language,
	// @unavailable (the "service unavailable" end screen), @late (the "we
	// will send the answer by SMS" end screen).
	To string
}

// builtinNames names the built-in targets in a Graph.
var builtinNames = map[target]string{toBack: "@back", toHome: "@home", toLanguage: "@language",
	toUnavailable: "@unavailable", toLate: "@late"}

// Graph describes the flow's nodes and transitions with texts in lang (or
// the default language). Edges that lead to the same place by several
// events of an action (empty, invalid and error all to one screen) are
// kept apart: each event is a way out an analyst may want to count.
func (f *Flow) Graph(lang string) Graph {
	li := f.lang(lang)
	g := Graph{Start: f.nodes[f.start].name, Nodes: make([]GraphNode, 0, len(f.nodes))}
	for _, n := range f.nodes {
		gn := GraphNode{Name: n.name, Kind: n.kind.String()}
		switch {
		case n.kind == kindAction:
			gn.Text = n.call + "." + n.op
		default:
			gn.Text = source(n.text, li)
		}
		for _, e := range n.edges() {
			to, ok := builtinNames[e.to]
			if e.to >= 0 {
				to, ok = f.nodes[e.to].name, true
			}
			if !ok {
				continue
			}
			gn.Edges = append(gn.Edges, GraphEdge{Event: e.event, Label: edgeLabel(n, e.event, li), To: to})
		}
		g.Nodes = append(g.Nodes, gn)
	}
	return g
}

// edgeLabel is an edge's words: the option label of a menu, the items'
// label, a route's index, else the event itself.
func edgeLabel(n *node, event string, li int) string {
	kind, num, _ := strings.Cut(event, ":")
	i := 0
	for _, c := range num {
		i = i*10 + int(c-'0')
	}
	switch {
	case kind == "option" && i >= 1 && i <= len(n.options):
		return source(n.options[i-1].label, li)
	case kind == "item" && n.items != nil:
		return "an item of " + n.items.from
	case kind == "route":
		return "route " + num
	}
	return event
}

// source is t in language li as written, "" when there is none.
func source(t text, li int) string {
	if li < len(t) && t[li] != nil {
		return t[li].src
	}
	return ""
}

// Limit returns the flow's screen limit (its screen_octets, or a USSD
// screen's 160 octets).
func (f *Flow) Limit() gsm.Limit { return f.limit }
