package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

const shop = `id: shop
title: Shop
codes: ["*500#"]
languages: [en]
nodes:
  main:
    type: menu
    text: Welcome
    options:
      - {label: Fruits, next: fruits}
  fruits:
    type: menu
    text: Pick a fruit
    options:
      - {label: Apples, set: {fruit: apples}, next: qty}
      - {label: Bananas, set: {fruit: bananas}, next: qty}
  qty:
    type: input
    text: "How many {{fruit}}?"
    save: qty
    validate: {type: integer, min: 1, max: 99}
    next: done
  done:
    type: end
    text: "Order placed: {{qty}} {{fruit}}."
`

func newServer(t testing.TB, store ussd.Store) *gateway.Server {
	t.Helper()
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set})
	return gateway.New(gateway.Config{Manager: m})
}

func post(t testing.TB, h http.Handler, form url.Values) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/ussd/africastalking", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String(), w.Header()
}

func at(session, phone, code, text string) url.Values {
	return url.Values{"sessionId": {session}, "phoneNumber": {phone}, "serviceCode": {code}, "networkCode": {"63902"}, "text": {text}}
}

func TestAfricasTalkingDialogue(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	steps := []struct{ text, want string }{
		{"", "CON Welcome\n1. Fruits"},
		{"1", "CON Pick a fruit\n1. Apples\n2. Bananas\n0. Back\n00. Main menu"},
		{"1*2", "CON How many bananas?\n0. Back\n00. Main menu"},
		{"1*2*x", "CON Invalid entry. Try again.\nHow many bananas?\n0. Back\n00. Main menu"},
		{"1*2*x*7", "END Order placed: 7 bananas."},
	}
	for _, st := range steps {
		code, body, hdr := post(t, h, at("ATUid_1", "+254700000001", "*500#", st.text))
		if code != 200 || body != st.want {
			t.Fatalf("text %q: %d %q, want %q", st.text, code, body, st.want)
		}
		if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Fatalf("content type %q", ct)
		}
	}
}

func TestShortcutDial(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	// *500*1*2# reaches Africa's Talking as serviceCode *500# and text 1*2.
	_, body, _ := post(t, h, at("ATUid_s", "254700000002", "*500#", "1*2"))
	if body != "CON How many bananas?\n0. Back\n00. Main menu" {
		t.Fatalf("got %q", body)
	}
	_, body, _ = post(t, h, at("ATUid_s", "254700000002", "*500#", "1*2*3"))
	if body != "END Order placed: 3 bananas." {
		t.Fatalf("got %q", body)
	}
}

func TestBadInput(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	long := strings.Repeat("1*", 5000)
	tests := []struct {
		name     string
		body     string
		ctype    string
		wantCode int
		wantBody string // prefix
	}{
		{"empty body", "", "application/x-www-form-urlencoded", 400, "missing sessionId"},
		{"garbage", "%%%zz&&==", "application/x-www-form-urlencoded", 400, "malformed form body"},
		{"binary", "\x00\xff\xfe", "application/octet-stream", 400, "missing sessionId"},
		{"missing phone", "sessionId=a&serviceCode=*500%23&text=", "application/x-www-form-urlencoded", 400, "missing phoneNumber"},
		{"bad phone", "sessionId=a&phoneNumber=abc&serviceCode=*500%23", "application/x-www-form-urlencoded", 400, "phoneNumber is not a phone number"},
		{"missing session", "phoneNumber=254700000001&serviceCode=*500%23", "application/x-www-form-urlencoded", 400, "missing sessionId"},
		{"10 kB text", at("b", "254700000003", "*500#", long).Encode(), "application/x-www-form-urlencoded", 200, "END Your input is too long"},
		{"unknown service", at("c", "254700000004", "*999#", "").Encode(), "application/x-www-form-urlencoded", 200, "END Unknown service code"},
		{"missing service code", at("d", "254700000005", "", "").Encode(), "application/x-www-form-urlencoded", 200, "END Unknown service code"},
		{"oversize body", "sessionId=" + strings.Repeat("x", 70<<10), "application/x-www-form-urlencoded", 413, "request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/ussd/africastalking", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.wantCode || !strings.HasPrefix(w.Body.String(), tt.wantBody) {
				t.Fatalf("%d %q, want %d %q...", w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
	// Inputs with * and # in a live session: shown again with a hint.
	post(t, h, at("e", "254700000006", "*500#", ""))
	for _, text := range []string{"#", "1#", "**", "1*#"} {
		code, body, _ := post(t, h, at("e", "254700000006", "*500#", text))
		if code != 200 || !strings.HasPrefix(body, "CON ") {
			t.Errorf("text %q: %d %q", text, code, body)
		}
	}
}

func TestTwoInstancesOverOneRedis(t *testing.T) {
	r := storetest.Redis(t)
	a := newServer(t, ussd.NewRedisStore(r.Client, r.Prefix))
	b := newServer(t, ussd.NewRedisStore(r.Client, r.Prefix))
	var wg sync.WaitGroup
	for u := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phone := "2547001" + strings.Repeat("0", 4) + string(rune('0'+u))
			sid := "two-" + string(rune('a'+u))
			var body string
			for i, text := range []string{"", "1", "1*1", "1*1*4"} {
				h := a
				if i%2 == 1 {
					h = b
				}
				_, body, _ = post(t, h, at(sid, phone, "*500#", text))
			}
			if body != "END Order placed: 4 apples." {
				t.Errorf("user %d: %q", u, body)
			}
		}()
	}
	wg.Wait()
}

func TestHealth(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	for _, path := range []string{"/healthz", "/readyz"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != 200 {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	set, _ := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	down := gateway.New(gateway.Config{
		Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set}),
		Ready:   func(ctx contextT) error { return io.ErrUnexpectedEOF },
	})
	w := httptest.NewRecorder()
	down.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz with a dead store: %d", w.Code)
	}
}

// TestHealthDetails: /healthz tells the public only up or down; the
// details (SMPP binds, readiness and its reason) are in Details.
func TestHealthDetails(t *testing.T) {
	set, _ := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	h := gateway.New(gateway.Config{
		Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set}),
		Ready:   func(contextT) error { return io.ErrUnexpectedEOF },
		Details: func(contextT) map[string]any {
			return map[string]any{"smpp": map[string]any{"bound": 1, "address": "10.1.2.3:2775"}, "status": "overridden"}
		},
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if body := w.Body.String(); w.Code != 200 || body != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz %d %q", w.Code, body)
	}
	d := h.Details(context.Background())
	if d["status"] != "ok" || d["ready"] != false || d["not_ready"] != io.ErrUnexpectedEOF.Error() || d["services"] != 1 {
		t.Errorf("details %v", d)
	}
	if smpp, ok := d["smpp"].(map[string]any); !ok || smpp["address"] != "10.1.2.3:2775" {
		t.Errorf("details without the smpp part: %v", d)
	}
	h.SetDown(true)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if body := w.Body.String(); w.Code != 503 || body != `{"status":"down"}`+"\n" {
		t.Errorf("healthz while stopping: %d %q", w.Code, body)
	}
}

func TestEndOfSessionNotification(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	post(t, h, at("n1", "254700000007", "*500#", ""))
	post(t, h, at("n1", "254700000007", "*500#", "1"))
	req := httptest.NewRequest(http.MethodPost, "/ussd/africastalking/events",
		strings.NewReader(url.Values{"sessionId": {"n1"}, "phoneNumber": {"+254700000007"}, "status": {"Incomplete"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("event: %d", w.Code)
	}
	_, body, _ := post(t, h, at("n2", "254700000007", "*500#", ""))
	if !strings.HasPrefix(body, "CON You have an unfinished session.") {
		t.Fatalf("after an incomplete session: %q", body)
	}
}

func FuzzAfricasTalking(f *testing.F) {
	f.Add("ATUid_1", "+254700000001", "*500#", "")
	f.Add("ATUid_1", "+254700000001", "*500#", "1*2*3")
	f.Add("x", "254", "*500*1*2#", "#*#")
	f.Add("", "", "", "\x00")
	f.Add("s", "+254700000001", "500", strings.Repeat("9", 300))
	h := newServer(f, ussd.NewMemoryStore())
	f.Fuzz(func(t *testing.T, session, phone, code, text string) {
		status, body, _ := post(t, h, at(session, phone, code, text))
		switch {
		case status == 200 && (strings.HasPrefix(body, "CON ") || strings.HasPrefix(body, "END ")):
		case status >= 400 && status < 500:
		default:
			t.Fatalf("%q %q %q %q: %d %q", session, phone, code, text, status, body)
		}
	})
}
