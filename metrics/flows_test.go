package metrics

import (
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestWatchFlows: the loaded nodes' series start at zero, and events
// count entries, moves, exits and sessions by service, node and cause.
func TestWatchFlows(t *testing.T) {
	set, err := flows.Load("../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{})
	observe := m.WatchFlows(set)
	fams := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"ussdgw_flow_sessions_total", map[string]string{"service": "jobs"}},
		{"ussdgw_flow_node_entries_total", map[string]string{"service": "market", "node": "main"}},
		{"ussdgw_flow_node_exits_total", map[string]string{"service": "market", "node": "main", "cause": "abort"}},
	} {
		if v, ok := value(fams, tt.name, tt.labels); !ok || v != 0 {
			t.Errorf("%s%v: %v %v, want a zero series", tt.name, tt.labels, v, ok)
		}
	}
	observe(&ussd.Event{Service: "market", New: true, Path: []string{"main"}})
	observe(&ussd.Event{Service: "market", From: "main", Path: []string{"load_crops", "pick_crop"}})
	observe(&ussd.Event{Service: "market", From: "pick_crop", Path: []string{"done"}, Exit: ussd.ExitEnd, ExitNode: "done"})
	observe(&ussd.Event{Service: "market", Exit: ussd.ExitAbort, ExitNode: "pick_crop"})
	fams = scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ussdgw_flow_sessions_total", map[string]string{"service": "market"}, 1},
		{"ussdgw_flow_sessions_completed_total", map[string]string{"service": "market"}, 1},
		{"ussdgw_flow_node_entries_total", map[string]string{"service": "market", "node": "main"}, 1},
		{"ussdgw_flow_node_entries_total", map[string]string{"service": "market"}, 4},
		{"ussdgw_flow_node_moves_total", map[string]string{"service": "market", "node": "main"}, 1},
		{"ussdgw_flow_node_moves_total", map[string]string{"service": "market", "node": "load_crops"}, 1},
		{"ussdgw_flow_node_moves_total", map[string]string{"service": "market"}, 3},
		{"ussdgw_flow_node_exits_total", map[string]string{"service": "market", "node": "done", "cause": "end"}, 1},
		{"ussdgw_flow_node_exits_total", map[string]string{"service": "market", "node": "pick_crop", "cause": "abort"}, 1},
		{"ussdgw_flow_node_exits_total", map[string]string{"service": "market"}, 2},
	} {
		if v, _ := value(fams, tt.name, tt.labels); v != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, v, tt.want)
		}
	}
}
