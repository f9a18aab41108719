package ussd_test

import (
	"context"
	"github.com/ussdgw/ussdgw/msisdn"
	"strings"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

const peekFlow = `
id: p
title: P
codes: ["*7#"]
languages: [en, fr]
default_language: en
start: ask
nodes:
  ask:
    type: input
    text: {en: "Name?", fr: "Nom ?"}
    save: name
    next: send
  send:
    type: sms
    text: "Hello {{name}}"
    next: sent
    on_error: failed
  sent:
    type: end
    text: {en: Sent, fr: Envoyé}
  failed:
    type: end
    text: {en: No SMS, fr: Pas de SMS}
`

// reaching reaches the numbers in ok only, and records what it sends.
type reaching struct {
	ok   map[string]bool
	mu   sync.Mutex
	sent []string
}

func (r *reaching) Reaches(msisdn string) bool { return r.ok[msisdn] }
func (r *reaching) Send(_ context.Context, msisdn, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, msisdn+":"+text)
	return nil
}

func TestPeekLanguageAndReacher(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"p.yaml": []byte(peekFlow)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sms := &reaching{ok: map[string]bool{"99900001": true}}
	m := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, SMS: sms})
	ctx := context.Background()
	cases := []struct {
		msisdn, lang, first, end string
	}{
		{"99900001", "fr", "Nom ?", "Envoyé"},  // reached: the SMS goes
		{"25470000001", "", "Name?", "No SMS"}, // not reached: the flow sees no SMS route
	}
	for _, c := range cases {
		n := msisdn.MSISDN(c.msisdn)
		if s, err := m.Peek(ctx, n); err != nil || s != nil {
			t.Fatalf("Peek before any session = %v, %v", s, err)
		}
		if c.lang != "" {
			if err := m.SetLanguage(ctx, n, c.lang); err != nil {
				t.Fatal(err)
			}
		}
		r, err := m.Handle(ctx, ussd.Request{SessionID: "s-" + c.msisdn, MSISDN: n, Dialled: "*7#", New: true})
		if err != nil || r.Text != c.first {
			t.Fatalf("%s: dial = %q, %v; want %q", c.msisdn, r.Text, err, c.first)
		}
		r, err = m.Handle(ctx, ussd.Request{SessionID: "s-" + c.msisdn, MSISDN: n, Input: "Ann"})
		if err != nil || r.Text != c.end || !r.End {
			t.Fatalf("%s: answer = %+v, %v; want END %q", c.msisdn, r, err, c.end)
		}
		s, err := m.Peek(ctx, n)
		if err != nil || s == nil {
			t.Fatalf("Peek = %v, %v", s, err)
		}
		if s.Vars["name"] != "Ann" || s.Status != ussd.StatusEnded || s.Service != "p" {
			t.Errorf("%s: peeked %+v", c.msisdn, s)
		}
	}
	if len(sms.sent) != 1 || !strings.HasPrefix(sms.sent[0], "99900001:Hello Ann") {
		t.Errorf("sent = %q, want one SMS to the reached number", sms.sent)
	}
}
