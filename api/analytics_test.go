package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestAnalytics: a session played through a real manager shows in the
// report, as JSON and CSV; the dates and the service are checked.
func TestAnalytics(t *testing.T) {
	set := loadFlows(t)
	ms := ussd.NewMemoryStore()
	t.Cleanup(func() { ms.Close() })
	var an *analytics.Store
	e := newEnv(t, func(c *Config) {
		an = analytics.New(analytics.Options{Counter: ms, Now: c.Now, Location: func(id string) *time.Location {
			if f, ok := set.Flow(id); ok {
				return f.Location()
			}
			return nil
		}})
		c.Analytics = an
		c.Flows = func() *flows.Set { return set }
	})
	m := ussd.NewManager(ussd.Config{Store: ms, Flows: set, Analytics: an, Now: func() time.Time { return e.now }})
	for _, in := range []string{"", "5"} { // main menu, then the language chooser
		req := ussd.Request{SessionID: "s1", MSISDN: "254700000001", Input: in}
		if in == "" {
			req.Dialled, req.New = "*384#", true
		}
		if _, err := m.Handle(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	a := e.do("GET", "/api/v1/analytics/market?from=2026-11-29&to=2026-11-30", e.read, "", "")
	if a.code != 200 || a.body["sessions"] != 1.0 || a.body["from"] != "2026-11-29" || a.body["to"] != "2026-11-30" || a.body["partial"] != true {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	nodes := a.body["nodes"].(map[string]any)
	main := nodes["main"].(map[string]any)
	if main["entered"] != 1.0 || main["choices"].(map[string]any)["@language"] != 1.0 {
		t.Errorf("main: %v", main)
	}
	// Today by default, in the service's time zone.
	if a := e.do("GET", "/api/v1/analytics/market", e.read, "", ""); a.code != 200 || a.body["from"] != "2026-11-30" || a.body["sessions"] != 1.0 {
		t.Errorf("today: %d %s", a.code, a.raw)
	}
	for _, path := range []string{"/api/v1/analytics/market/export.csv?from=2026-11-30", "/api/v1/analytics/market?format=csv"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+e.read)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		want := "service,from,to,node,measure,detail,value\nmarket,2026-11-30,2026-11-30,,sessions,,1\n"
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), want) || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(w.Body.String(), "\nmarket,2026-11-30,2026-11-30,main,choice,@language,1\n") {
			t.Errorf("%s: %d %s\n%s", path, w.Code, w.Header(), w.Body.String())
		}
	}
	for _, tt := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/v1/analytics/nosuch", http.StatusNotFound, `no service "nosuch"`},
		{"/api/v1/analytics/market?from=30-11-2026", http.StatusBadRequest, "analytics: from: not a date (YYYY-MM-DD)"},
		{"/api/v1/analytics/market?from=2026-12-01&to=2026-11-30", http.StatusBadRequest, "analytics: to: before from"},
		{"/api/v1/analytics/market?from=2024-01-01", http.StatusBadRequest, "analytics: from: more than 400 days before to"},
		{"/api/v1/analytics/market?format=xml", http.StatusBadRequest, "analytics: format: json or csv"},
	} {
		if a := e.do("GET", tt.path, e.read, "", ""); a.code != tt.code || a.body["error"] != tt.msg {
			t.Errorf("%s: %d %s", tt.path, a.code, a.raw)
		}
	}
	if a := e.do("GET", "/api/v1/analytics/market", "", "", ""); a.code != http.StatusUnauthorized {
		t.Errorf("no key: %d", a.code)
	}
	off := newEnv(t, nil)
	if a := off.do("GET", "/api/v1/analytics/market", off.read, "", ""); a.code != http.StatusNotFound || a.body["error"] != "analytics are off on this gateway" {
		t.Errorf("off: %d %s", a.code, a.raw)
	}
}
