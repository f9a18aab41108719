package ussd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// recordingConsent keeps who subscribed to what.
type recordingConsent struct {
	mu   sync.Mutex
	subs map[string][]consent.Subscription
}

func (r *recordingConsent) Subscribe(_ context.Context, msisdn string, s consent.Subscription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[msisdn] = append(r.subs[msisdn], s)
	return nil
}

func (r *recordingConsent) Unsubscribe(context.Context, string, string, string, string) (bool, error) {
	return false, nil
}

func (r *recordingConsent) Subscriptions(_ context.Context, msisdn string) ([]consent.Subscription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subs[msisdn], nil
}

const newsFlow = `id: news
codes: ["*600#"]
keywords: [NEWS]
sms: {dialogue: true}
languages: [en, sw]
nodes:
  main:
    type: menu
    text: News
    options:
      - {label: Subscribe, next: sub}
  sub:
    type: subscribe
    topic: news:daily
    label: {en: Daily news, sw: Habari za kila siku}
    params: {who: "{{msisdn}}"}
    next: done
    on_error: failed
  done: {type: end, text: Subscribed.}
  failed: {type: end, text: Failed.}
`

// TestManagerPassesConsent: the manager gives the flows its consent
// registry, the number of the session and its channel.
func TestManagerPassesConsent(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"news.yaml": []byte(newsFlow)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConsent{subs: map[string][]consent.Subscription{}}
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	base := ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, Consent: rec, Now: now}
	m := ussd.NewManager(base)
	defer m.Close(ctx)
	for _, in := range []string{"", "1"} {
		if _, err := m.Handle(ctx, ussd.Request{SessionID: "s1", MSISDN: "254700000001", Dialled: "*600#", Input: in, New: in == ""}); err != nil {
			t.Fatal(err)
		}
	}
	smsCfg := base
	smsCfg.Channel = "sms"
	sm := ussd.NewManager(smsCfg)
	defer sm.Close(ctx)
	if _, err := sm.Handle(ctx, ussd.Request{SessionID: "sms", MSISDN: "255700000002", New: true, Service: "news", Shortcut: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	u, s := rec.subs["254700000001"], rec.subs["255700000002"]
	if len(u) != 1 || u[0].Channel != "ussd" || u[0].Service != "news" || u[0].Topic != "news:daily" || u[0].Params["who"] != "254700000001" {
		t.Errorf("USSD subscription %+v", u)
	}
	if len(s) != 1 || s[0].Channel != "sms" || s[0].Params["who"] != "255700000002" {
		t.Errorf("SMS subscription %+v", s)
	}
	// Without a registry the node takes its error branch.
	m2 := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, Now: now})
	defer m2.Close(ctx)
	m2.Handle(ctx, ussd.Request{SessionID: "s2", MSISDN: "254700000003", Dialled: "*600#", New: true})
	if r, _ := m2.Handle(ctx, ussd.Request{SessionID: "s2", MSISDN: "254700000003", Dialled: "*600#", Input: "1"}); r.Text != "Failed." {
		t.Errorf("without consent: %q", r.Text)
	}
}
