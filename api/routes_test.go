package api

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Every route with every kind of key: who may call what.
func TestScopes(t *testing.T) {
	e := newEnv(t, nil)
	e.subscribe("254712000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "en"})
	routes := []struct {
		method, path, body string
		scope              string
	}{
		{"POST", "/api/v1/broadcasts", `{"service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`, "send"},
		{"GET", "/api/v1/broadcasts/x", "", "read"},
		{"POST", "/api/v1/broadcasts/x/cancel", "", "send"},
		{"GET", "/api/v1/messages/x", "", "read"},
		{"POST", "/api/v1/prices", `{"commodity": "maize", "market": "eldoret", "price": 10}`, "send"},
		{"GET", "/api/v1/alerts/alert_x", "", "read"},
		{"GET", "/api/v1/consent/254712000001", "", "admin"},
		{"GET", "/api/v1/health", "", "read"},
		{"GET", "/api/v1/audit", "", "admin"},
	}
	keys := map[string]string{"read": e.read, "send": e.send, "admin": e.admin}
	allowed := map[string][]string{"read": {"read", "send", "admin"}, "send": {"send", "admin"}, "admin": {"admin"}}
	for _, r := range routes {
		for _, holder := range []string{"read", "send", "admin"} {
			t.Run(r.method+r.path+"/"+holder, func(t *testing.T) {
				a := e.do(r.method, r.path, keys[holder], jsonCT, r.body)
				ok := false
				for _, h := range allowed[r.scope] {
					ok = ok || h == holder
				}
				if !ok && (a.code != 403 || !strings.Contains(a.body["error"].(string), "lacks the "+r.scope+" scope")) {
					t.Fatalf("a %s key got %d %s", holder, a.code, a.raw)
				}
				if ok && (a.code == 401 || a.code == 403) {
					t.Fatalf("a %s key was refused: %s", holder, a.raw)
				}
			})
		}
		if a := e.do(r.method, r.path, "", jsonCT, r.body); a.code != 401 {
			t.Fatalf("%s %s without a key: %d", r.method, r.path, a.code)
		}
		if a := e.do(r.method, r.path, e.revoked, jsonCT, r.body); a.code != 401 {
			t.Fatalf("%s %s with a revoked key: %d", r.method, r.path, a.code)
		}
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t, nil)
	e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"id": "aud1", "service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`)
	e.now = e.now.Add(time.Minute)
	e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"service": "nope", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`)
	e.do("POST", "/api/v1/broadcasts/aud1/cancel", e.read, "", "") // refused by scope: audited
	e.do("GET", "/api/v1/broadcasts/aud1", e.read, "", "")         // a read: not audited
	e.do("POST", "/api/v1/broadcasts/aud1/cancel", "", "", "")     // no key: not audited
	a := e.do("GET", "/api/v1/audit", e.admin, "", "")
	if a.code != 200 {
		t.Fatal(a.raw)
	}
	es := a.body["entries"].([]any)
	if len(es) != 3 {
		t.Fatalf("%d entries: %s", len(es), a.raw)
	}
	want := []struct {
		action, status, name, target string
	}{
		{"POST /api/v1/broadcasts/aud1/cancel", "403", "reader", ""},
		{"POST /api/v1/broadcasts", "400", "sender", ""},
		{"POST /api/v1/broadcasts", "201", "sender", "broadcast aud1"},
	}
	for i, w := range want {
		en := es[i].(map[string]any)
		if en["action"] != w.action || jsonNum(en["status"].(float64)) != w.status || en["key_name"] != w.name || en["key"] == "" {
			t.Errorf("entry %d: %v, want %+v", i, en, w)
		}
		if w.target != "" && en["target"] != w.target {
			t.Errorf("entry %d target %v, want %s", i, en["target"], w.target)
		}
	}
	if es[2].(map[string]any)["detail"] != "1 numbers" {
		t.Errorf("detail %v", es[2])
	}
	// Retention: an entry older than the retention goes at the next write.
	old := newEnv(t, nil)
	if err := old.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: old.srv.auditKey(), ID: "1-1", Values: []any{"action", "ancient"}}).Err(); err != nil {
		t.Fatal(err)
	}
	old.do("POST", "/api/v1/broadcasts/none/cancel", old.send, "", "")
	if got, _ := old.rdb.XRange(t.Context(), old.srv.auditKey(), "-", "+").Result(); len(got) != 1 || got[0].Values["action"] == "ancient" {
		t.Fatalf("stream after a write: %v", got)
	}
}

func TestConsentHealthPrices(t *testing.T) {
	e := newEnv(t, nil)
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	e.subscribe("254712000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Maize at Eldoret", Lang: "sw", Channel: "ussd",
		Params: map[string]string{"threshold": "5"}, At: at})
	e.consent.events["254712000001"] = []Event{{At: at, Action: "subscribe", Service: "market", Topic: "prices:maize:eldoret", Channel: "ussd", Detail: "threshold=5"}}
	a := e.do("GET", "/api/v1/consent/+254%20712%20000%20001", e.admin, "", "")
	if a.code != 200 || a.body["msisdn"] != "254712000001" {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	subs := a.body["subscriptions"].([]any)
	if len(subs) != 1 || subs[0].(map[string]any)["label"] != "Maize at Eldoret" || len(a.body["audit"].([]any)) != 1 {
		t.Fatalf("%s", a.raw)
	}
	if x := e.do("GET", "/api/v1/consent/12", e.admin, "", ""); x.code != 400 || !strings.Contains(x.raw, "msisdn") {
		t.Fatalf("%s", x.raw)
	}
	h := e.do("GET", "/api/v1/health", e.read, "", "")
	if h.code != 200 || h.body["status"] != "ok" || h.body["queue"] == nil {
		t.Fatalf("%s", h.raw)
	}
	// Prices: a baseline, then a change of 10% passes the threshold of 5.
	p := e.do("POST", "/api/v1/prices", e.send, jsonCT, `{"commodity": "Maize", "market": "Eldoret", "price": 3000, "currency": "kes", "unit": "90kg bag", "date": "2026-11-29"}`)
	if p.code != 202 || p.body["alert"].(map[string]any)["previous"] != nil {
		t.Fatalf("%d %s", p.code, p.raw)
	}
	p = e.do("POST", "/api/v1/prices", e.send, jsonCT, `{"commodity": "maize", "market": "eldoret", "price": 3300, "currency": "KES", "unit": "90kg bag", "date": "2026-11-30"}`)
	run := p.body["alert"].(map[string]any)
	if p.code != 202 || run["change_pct"].(float64) != 10 || run["queued"].(float64) != 1 {
		t.Fatalf("%d %s", p.code, p.raw)
	}
	msgs := e.outbox.group(run["id"].(string))
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Maize Eldoret ni KES 3300 (+10.0%) tarehe 2026-11-30") || msgs[0].Kind != "alert" {
		t.Fatalf("%+v", msgs)
	}
	g := e.do("GET", "/api/v1/alerts/"+run["id"].(string), e.read, "", "")
	if g.code != 200 || g.body["total"].(float64) != 1 || g.body["state"] != "running" {
		t.Fatalf("%s", g.raw)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"commodity": "maize", "market": "eldoret"}`, "price"},
		{`{"commodity": "", "market": "eldoret", "price": 1}`, "commodity"},
		{`{"commodity": "maize", "market": "el doret", "price": 1}`, "market"},
		{`{"commodity": "maize", "market": "eldoret", "price": 1, "currency": "shillings"}`, "currency"},
		{`{"commodity": "maize", "market": "eldoret", "price": 1, "date": "30/11/2026"}`, "date"},
		{`{"commodity": "maize", "market": "eldoret", "price": -1}`, "price"},
	} {
		x := e.do("POST", "/api/v1/prices", e.send, jsonCT, bad.body)
		if x.code != 400 || !strings.Contains(x.body["error"].(string), "invalid price: "+bad.field+":") {
			t.Errorf("%s: %d %s", bad.body, x.code, x.raw)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBody = 1000 })
	a := e.do("POST", "/api/v1/broadcasts?service=market&text_en=Hi", e.send, "text/plain", strings.Repeat("0712000001\n", 200))
	if a.code != 413 || !strings.Contains(a.body["error"].(string), "larger than 1000 bytes") {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	if e.outbox.len() != 0 {
		t.Fatal("queued from a body too large")
	}
}
