package api

import (
	"context"
	"encoding/json"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/flows"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func loadFlows(t testing.TB) *flows.Set {
	t.Helper()
	set, err := flows.Load("../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// env is an API over real Redis (keys, records, audit) with in-memory
// consent and outbox.
type env struct {
	t       testing.TB
	srv     *Server
	rdb     redis.UniversalClient
	prefix  string
	keys    *apikeys.Store
	outbox  *fakeOutbox
	consent *fakeConsent
	now     time.Time
	// keys by scope
	send, read, admin, revoked string
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	rdb, prefix := redistest.Open(t)
	e := &env{t: t, rdb: rdb, prefix: prefix, keys: apikeys.New(rdb, prefix, nil), outbox: newFakeOutbox(),
		consent: &fakeConsent{subs: map[string][]Subscription{}, events: map[string][]Event{}},
		now:     time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	mk := func(name string, sc ...apikeys.Scope) string {
		_, plain, err := e.keys.Create(ctx, name, sc)
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}
	e.send = mk("sender", apikeys.Send, apikeys.Read)
	e.read = mk("reader", apikeys.Read)
	e.admin = mk("admin", apikeys.Admin)
	e.revoked = mk("gone", apikeys.Send)
	k, err := e.keys.Check(ctx, e.revoked, apikeys.Send)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	set := loadFlows(t)
	flowsFn := func() *flows.Set { return set }
	cfg := Config{
		Keys: e.keys, Redis: rdb, Prefix: prefix, Flows: flowsFn, Consent: e.consent, Outbox: e.outbox,
		Prices: alerts.New(alerts.Config{Redis: rdb, Prefix: prefix, Consent: e.consent, Outbox: e.outbox, Flows: flowsFn, Log: logcheck.New(t),
			Now: func() time.Time { return e.now }}),
		Health: func(context.Context) map[string]any { return map[string]any{"queue": map[string]any{"depth": 0}} },
		Now:    func() time.Time { return e.now },
		Log:    logcheck.New(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.srv = New(cfg)
	t.Cleanup(func() { e.srv.Close() }) // the last one built
	return e
}

type answer struct {
	code int
	body map[string]any
	raw  string
}

func (e *env) do(method, path, key, ctype, body string) answer {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	switch {
	case strings.HasPrefix(key, "basic:"):
		req.Header.Set("Authorization", "Basic "+strings.TrimPrefix(key, "basic:"))
	case key != "":
		req.Header.Set("Authorization", "bearer "+key) // any case
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	a := answer{code: w.Code, raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
		e.t.Fatalf("%s %s: answer is not JSON: %q", method, path, a.raw)
	}
	return a
}

func (e *env) subscribe(msisdn string, s Subscription) {
	e.consent.subs[msisdn] = append(e.consent.subs[msisdn], s)
}

const jsonCT = "application/json"

func TestBroadcastErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.subscribe("254712000001", Subscription{Service: "health", Topic: "health:reminders", Lang: "en"})
	long := strings.Repeat("a", 460)
	euro := strings.Repeat("€", 230) // 460 septets: € is an extension character
	amharic := strings.Repeat("ሀ", 202)
	body := func(service, audience, text string) string {
		return `{"service": "` + service + `", "audience": ` + audience + `, "text": ` + text + `}`
	}
	ok := body("market", `{"numbers": ["0712345678"]}`, `{"en": "Hello"}`)
	tests := []struct {
		name     string
		key      string
		ctype    string
		body     string
		code     int
		want     string   // in the error
		problems []string // fields or "line N" of the problems, in order
	}{
		{"no key", "", jsonCT, ok, 401, "missing API key", nil},
		{"wrong key", "ugw_abcdefgh_notthesecret", jsonCT, ok, 401, "wrong API key", nil},
		{"garbage key", "hello", jsonCT, ok, 401, "wrong API key", nil},
		{"basic auth", "basic:dXNlcjpwYXNz", jsonCT, ok, 401, "the Authorization header must be Bearer <key>", nil},
		{"revoked key", e.revoked, jsonCT, ok, 401, "was revoked", nil},
		{"read key cannot send", e.read, jsonCT, ok, 403, "lacks the send scope", nil},
		{"unknown service", e.send, jsonCT, body("shop", `{"numbers": ["0712345678"]}`, `{"en": "Hi"}`), 400,
			`service: unknown service (known: health, jobs, learning, market)`, []string{"service"}},
		{"missing service", e.send, jsonCT, `{"audience": {"topic": "x"}, "text": {"en": "Hi"}}`, 400, "service: missing", []string{"service"}},
		{"empty audience", e.send, jsonCT, body("market", `{}`, `{"en": "Hi"}`), 400, "audience: empty", []string{"audience"}},
		{"empty number list", e.send, jsonCT, body("market", `{"numbers": []}`, `{"en": "Hi"}`), 400, "audience.numbers: empty list", []string{"audience.numbers"}},
		{"two audiences", e.send, jsonCT, body("market", `{"topic": "t", "service_users": true}`, `{"en": "Hi"}`), 400, "only one of", []string{"audience"}},
		{"topic without subscribers", e.send, jsonCT, body("market", `{"topic": "prices:maize:nowhere"}`, `{"en": "Hi"}`), 400,
			`audience: empty: topic "prices:maize:nowhere" has no subscribers of service market`, []string{"audience"}},
		{"service without users", e.send, jsonCT, body("market", `{"service_users": true}`, `{"en": "Hi"}`), 400,
			"audience: empty: service market has no users", []string{"audience"}},
		{"text too long GSM", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"en": "`+long+`"}`), 400,
			"text.en: too long: 460 GSM 7-bit characters", []string{"text.en"}},
		{"extension characters count twice", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"en": "`+euro+`"}`), 400,
			"text.en: too long: 460 GSM 7-bit characters", []string{"text.en"}},
		{"text too long UCS-2", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"en": "Hi", "am": "`+amharic+`"}`), 400,
			"text.am: too long: 202 UCS-2 characters", []string{"text.am"}},
		{"no text", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{}`), 400, "text: missing", []string{"text"}},
		{"default language missing", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"fr": "Salut"}`), 400,
			"text.en: missing: en is the service's default language", []string{"text.en"}},
		{"language the service lacks", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"en": "Hi", "de": "Hallo"}`), 400,
			`text.de: service market has no language "de"`, []string{"text.de"}},
		{"empty text", e.send, jsonCT, body("market", `{"numbers": ["0712345678"]}`, `{"en": "  "}`), 400, "text.en: empty", []string{"text.en"}},
		{"invalid numbers by index", e.send, jsonCT, body("market", `{"numbers": ["0712345678", "12", "07123x5678", "+254 712 345 679"]}`, `{"en": "Hi"}`), 400,
			"2 problems", []string{"audience.numbers[1]", "audience.numbers[2]"}},
		{"invalid numbers by line", e.send, "text/csv", "phone,name\n0712345678,Amina\n\n12345,Bob\n+254712345679\nnot a number\n", 400,
			"2 problems", []string{"line 4", "line 6"}},
		{"one invalid line", e.send, "text/plain", "0712345678\n071234\n", 400, "invalid broadcast: line 2: not a valid phone number", []string{"line 2"}},
		{"empty upload", e.send, "text/csv", "phone\n\n", 400, "audience: empty: the upload has no numbers", []string{"audience"}},
		{"everything wrong at once", e.send, jsonCT, body("market", `{"numbers": ["1"]}`, `{"fr": "`+long+`"}`), 400,
			"3 problems", []string{"text.fr", "text.en", "audience.numbers[0]"}},
		{"bad id", e.send, jsonCT, `{"id": "a b", "service": "market", "audience": {"numbers": ["0712345678"]}, "text": {"en": "Hi"}}`, 400, "id: use 1 to 64", []string{"id"}},
		{"window end past", e.send, jsonCT, `{"service": "market", "audience": {"numbers": ["0712345678"]}, "text": {"en": "Hi"}, "window": {"end": "2026-11-29T10:00:00Z"}}`, 400,
			"window.end: already past", []string{"window.end"}},
		{"window garbled", e.send, jsonCT, `{"service": "market", "audience": {"numbers": ["0712345678"]}, "text": {"en": "Hi"}, "window": {"start": "tomorrow"}}`, 400,
			"window.start: not a time", []string{"window.start"}},
		{"unknown field", e.send, jsonCT, `{"service": "market", "audiance": {}}`, 400, `unknown field "audiance"`, nil},
		{"not JSON", e.send, jsonCT, `service=market`, 400, "not the expected JSON", nil},
		{"other content type", e.send, "application/xml", `<x/>`, 415, "send application/json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.outbox.len()
			path := "/api/v1/broadcasts"
			if strings.HasPrefix(tt.ctype, "text/") {
				path += "?service=market&text_en=Hi"
			}
			a := e.do("POST", path, tt.key, tt.ctype, tt.body)
			if a.code != tt.code {
				t.Fatalf("code %d, want %d: %s", a.code, tt.code, a.raw)
			}
			msg, _ := a.body["error"].(string)
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q, want it to say %q", msg, tt.want)
			}
			var got []string
			ps, _ := a.body["problems"].([]any)
			for _, p := range ps {
				p := p.(map[string]any)
				if l, ok := p["line"].(float64); ok {
					got = append(got, "line "+jsonNum(l))
				} else {
					got = append(got, p["field"].(string))
				}
			}
			if tt.problems != nil && strings.Join(got, " ") != strings.Join(tt.problems, " ") {
				t.Fatalf("problems at %v, want %v: %s", got, tt.problems, a.raw)
			}
			if e.outbox.len() != before {
				t.Fatalf("a rejected broadcast queued %d messages", e.outbox.len()-before)
			}
		})
	}
	// Limits are inclusive: 459 septets and 201 UCS-2 units pass.
	fits := body("market", `{"numbers": ["0712345678"]}`, `{"en": "`+strings.Repeat("€", 229)+`a", "am": "`+strings.Repeat("ሀ", 201)+`"}`)
	if a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, fits); a.code != 201 {
		t.Fatalf("texts at the limit refused: %s", a.raw)
	}
}
