package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/ussdgw/ussdgw/consent"
)

// Broadcasts and the consent read-back over the real consent registry on
// Redis: a topic's subscribers and a service's users in their languages,
// and a number's subscriptions and audit trail.
func TestRealConsent(t *testing.T) {
	e := newEnv(t, nil)
	reg := consent.New(e.rdb, e.prefix, consent.Options{})
	e.srv.cfg.Consent = reg
	ctx := context.Background()
	langs := []string{"en", "fr", "sw", "am"}
	for i := 0; i < 2500; i++ {
		n := fmt.Sprintf("254717%06d", i)
		s := consent.Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: langs[i%4], Channel: "ussd", Label: "Maize at Eldoret"}
		if i%5 == 0 {
			s.Topic = "prices:beans:kisumu"
		}
		if err := reg.Subscribe(ctx, n, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Subscribe(ctx, "254718000001", consent.Subscription{Service: "health", Topic: "health:reminders", Lang: "sw", Channel: "ussd"}); err != nil {
		t.Fatal(err)
	}
	text := `{"en": "Hello", "fr": "Bonjour", "sw": "Habari"}`
	a := e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"id": "t", "service": "market", "audience": {"topic": "prices:maize:eldoret"}, "text": `+text+`}`)
	if a.code != 201 || a.body["recipients"].(float64) != 2000 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	want := map[string]string{"en": "Hello", "fr": "Bonjour", "sw": "Habari", "am": "Hello"}
	for _, m := range e.outbox.group("t") {
		var i int
		fmt.Sscanf(m.MSISDN[6:], "%d", &i)
		if i%5 == 0 || m.Text != want[langs[i%4]] {
			t.Fatalf("%s got %q", m.MSISDN, m.Text)
		}
	}
	a = e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"id": "u", "service": "market", "audience": {"service_users": true}, "text": `+text+`}`)
	if a.code != 201 || a.body["recipients"].(float64) != 2500 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	for _, m := range e.outbox.group("u") {
		var i int
		fmt.Sscanf(m.MSISDN[6:], "%d", &i)
		if m.Text != want[langs[i%4]] {
			t.Fatalf("service user %s got %q", m.MSISDN, m.Text)
		}
	}
	// Numbers: the language of their subscription of this service.
	a = e.do("POST", "/api/v1/broadcasts", e.send, jsonCT, `{"id": "n", "service": "market", "audience": {"numbers": ["0717000001", "0718000001"]}, "text": `+text+`}`)
	if a.code != 201 {
		t.Fatal(a.raw)
	}
	got := map[string]string{}
	for _, m := range e.outbox.group("n") {
		got[m.MSISDN] = m.Text
	}
	if got["254717000001"] != "Bonjour" || got["254718000001"] != "Hello" { // sw is 254718000001's language of health, not market
		t.Fatalf("%v", got)
	}
	if err := reg.OptOut(ctx, "254717000001", "", "sms"); err != nil {
		t.Fatal(err)
	}
	c := e.do("GET", "/api/v1/consent/0717000001", e.admin, "", "")
	if c.code != 200 {
		t.Fatal(c.raw)
	}
	subs, audit := c.body["subscriptions"].([]any), c.body["audit"].([]any)
	if len(subs) != 1 || subs[0].(map[string]any)["lang"] != "fr" || len(audit) != 2 ||
		audit[0].(map[string]any)["action"] != "subscribe" || audit[1].(map[string]any)["action"] != "stop" {
		t.Fatalf("%s", c.raw)
	}
}
