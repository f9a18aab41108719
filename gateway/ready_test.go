package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestReadySMSC: an SMSC group down shows on /readyz without failing it
// (HTTP USSD needs no SMPP); ?smsc=1 and ?group= fail on it; the details
// give bound/total per group.
func TestReadySMSC(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	groups := []gateway.BindGroup{
		{Name: "ussd", Bound: 2, Total: 2, USSD: true},
		{Name: "bulk", Bound: 1, Total: 2, SMS: true},
		{Name: "mo", Bound: 0, Total: 1}, // needed by neither: never makes it unready
	}
	set2 := func(name string, bound int) {
		mu.Lock()
		defer mu.Unlock()
		for i := range groups {
			if groups[i].Name == name {
				groups[i].Bound = bound
			}
		}
	}
	h := gateway.New(gateway.Config{
		Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set}),
		BindGroups: func() []gateway.BindGroup {
			mu.Lock()
			defer mu.Unlock()
			return append([]gateway.BindGroup(nil), groups...)
		},
	})
	get := func(path string) (int, map[string]any) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %q", path, w.Body)
		}
		return w.Code, body
	}
	tests := []struct {
		name       string
		ussd, bulk int
		path       string
		code       int
		smsc       string // body's "smsc"
		reason     string // in the body's reason or smsc_reason
	}{
		{"all up", 2, 1, "/readyz", 200, "ready", ""},
		{"all up, smsc asked", 2, 1, "/readyz?smsc=1", 200, "ready", ""},
		{"ussd down: readyz still 200", 0, 1, "/readyz", 200, "unavailable", `group "ussd" (USSD) has no bound connection (0 of 2)`},
		{"ussd down, smsc asked", 0, 1, "/readyz?smsc=1", 503, "unavailable", `"ussd" (USSD)`},
		{"sms group down, smsc asked", 2, 0, "/readyz?smsc=1", 503, "unavailable", `"bulk" (SMS) has no bound connection (0 of 2)`},
		{"both down", 0, 0, "/readyz?smsc=true", 503, "unavailable", `"ussd" (USSD) has no bound connection (0 of 2); SMPP bind group "bulk"`},
		{"smsc=0 is the default", 0, 0, "/readyz?smsc=0", 200, "unavailable", `"bulk"`},
		{"group up", 2, 1, "/readyz?group=bulk", 200, "", ""},
		{"group down", 2, 0, "/readyz?group=bulk", 503, "", `"bulk" (SMS) has no bound connection`},
		{"other group down", 0, 1, "/readyz?group=bulk", 200, "", ""},
		{"unneeded group down", 2, 1, "/readyz?group=mo", 503, "", `"mo" has no bound connection (0 of 1)`},
		{"unknown group", 2, 1, "/readyz?group=nope", 404, "", `no SMPP bind group "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set2("ussd", tt.ussd)
			set2("bulk", tt.bulk)
			code, body := get(tt.path)
			if code != tt.code {
				t.Errorf("code %d, want %d: %v", code, tt.code, body)
			}
			if tt.smsc != "" && body["smsc"] != tt.smsc {
				t.Errorf("smsc %v, want %s: %v", body["smsc"], tt.smsc, body)
			}
			r, _ := body["reason"].(string)
			if sr, _ := body["smsc_reason"].(string); sr != "" {
				r = sr
			}
			if !strings.Contains(r, tt.reason) || (tt.reason == "" && r != "") {
				t.Errorf("reason %q, want %q", r, tt.reason)
			}
		})
	}

	// The details: per group bound/total, and the reason.
	set2("ussd", 0)
	set2("bulk", 1)
	d := h.Details(context.Background())
	smsc, ok := d["smsc"].(map[string]any)
	if !ok || smsc["ready"] != false || !strings.Contains(smsc["not_ready"].(string), `"ussd"`) {
		t.Fatalf("details smsc: %v", d["smsc"])
	}
	b, _ := json.Marshal(smsc["groups"])
	want := `[{"name":"ussd","bound":0,"total":2,"ussd":true,"sms":false},{"name":"bulk","bound":1,"total":2,"ussd":false,"sms":true},{"name":"mo","bound":0,"total":1,"ussd":false,"sms":false}]`
	if string(b) != want {
		t.Errorf("groups %s\nwant   %s", b, want)
	}
	set2("ussd", 1)
	if smsc := h.Details(context.Background())["smsc"].(map[string]any); smsc["ready"] != true || smsc["not_ready"] != nil {
		t.Errorf("details with every needed group up: %v", smsc)
	}
}
