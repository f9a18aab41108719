package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/metrics"
)

type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

var seriesName = regexp.MustCompile(`\bussdgw_[a-z0-9_]+`)

// TestGrafanaDashboard: the dashboard parses, its panels do not overlap,
// every query names only series the gateway exports (a histogram through
// its _bucket, _sum or _count), and the dashboard covers what operators
// watch: steps, latency, binds, PDUs, adapters, queue, refusals, Redis.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/ussdgw.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title         string         `json:"title"`
		UID           string         `json:"uid"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: %q %q %d, %d panels", d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	exported := metrics.AllNames()
	used := map[string]bool{}
	ids := map[int]bool{}
	var all []grafanaPanel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	for i, p := range all {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("%q has no query", p.Title)
		}
		for _, q := range all[:i] {
			a, b := p.GridPos, q.GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("%q overlaps %q", p.Title, q.Title)
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%q is wider than the dashboard", p.Title)
		}
		for _, tg := range p.Targets {
			names := seriesName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%q %s: %q uses no ussdgw series", p.Title, tg.RefID, tg.Expr)
			}
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") ||
				strings.Count(tg.Expr, "[") != strings.Count(tg.Expr, "]") {
				t.Errorf("%q %s: unbalanced brackets in %q", p.Title, tg.RefID, tg.Expr)
			}
			for _, n := range names {
				base, typ := n, exported[n]
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b := strings.TrimSuffix(n, suffix); b != n && exported[b] == "histogram" {
						base, typ = b, "histogram"
					}
				}
				switch {
				case typ == "":
					t.Errorf("%q %s: %s is not a series the gateway exports", p.Title, tg.RefID, n)
				case typ == "histogram" && base == n:
					t.Errorf("%q %s: histogram %s needs _bucket, _sum or _count", p.Title, tg.RefID, n)
				case typ == "counter" && !strings.Contains(tg.Expr, "rate("+n) && !strings.Contains(tg.Expr, "increase("+n):
					t.Errorf("%q %s: counter %s is shown without rate()", p.Title, tg.RefID, n)
				}
				used[base] = true
			}
		}
	}
	for _, n := range []string{"ussdgw_ussd_steps_total", "ussdgw_ussd_step_duration_seconds", "ussdgw_ussd_sessions_active",
		"ussdgw_smpp_bind_up", "ussdgw_smpp_pdus_total", "ussdgw_smpp_window_in_use", "ussdgw_smpp_receipts_total",
		"ussdgw_adapter_calls_total", "ussdgw_adapter_call_duration_seconds", "ussdgw_outbox_depth", "ussdgw_outbox_oldest_age_seconds",
		"ussdgw_refusals_total", "ussdgw_redis_errors_total"} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}
