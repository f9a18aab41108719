package flows

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/consent"
)

func loadAlerts(t testing.TB) *Flow {
	t.Helper()
	data, err := os.ReadFile("testdata/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("testdata/alerts.yaml", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newRegistry(t *testing.T) *consent.Registry {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return consent.New(c, "t:", consent.Options{})
}

// failingConsent fails every call.
type failingConsent struct{}

var errDown = errors.New("redis down")

func (failingConsent) Subscribe(context.Context, string, consent.Subscription) error { return errDown }
func (failingConsent) Unsubscribe(context.Context, string, string, string, string) (bool, error) {
	return false, errDown
}
func (failingConsent) Subscriptions(context.Context, string) ([]consent.Subscription, error) {
	return nil, errDown
}

func TestSubscribeListCancel(t *testing.T) {
	f := loadAlerts(t)
	reg := newRegistry(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	env := &Env{MSISDN: "254700000001", Now: now, Consent: reg, Channel: "ussd"}

	if s := play(t, f, env, &State{Lang: "fr"}, "1", "7"); s.Text != "Abonné : maize, 7 %." || !s.End {
		t.Fatalf("subscribe: %q", s.Text)
	}
	// Another service's subscription is not this flow's to list or cancel.
	if err := reg.Subscribe(ctx, env.MSISDN, consent.Subscription{Service: "health", Topic: "health:reminders", Label: "Reminders"}); err != nil {
		t.Fatal(err)
	}
	subs, _ := reg.Subscriptions(ctx, env.MSISDN)
	if len(subs) != 2 {
		t.Fatalf("registry holds %+v", subs)
	}
	got := subs[1]
	if got.Service != "market" || got.Topic != "prices:maize:eldoret" || got.Label != "maize à Eldoret" || got.Lang != "fr" ||
		got.Channel != "ussd" || got.Params["threshold"] != "7" || len(got.Params) != 1 || !got.At.Equal(now) {
		t.Errorf("subscription recorded as %+v", got)
	}

	// The list (labels as the user agreed to them), and going back to it
	// from the confirmation (fetched again).
	st := &State{Lang: "en"}
	if s := play(t, f, env, st, "2"); s.Text != "Your alerts\n1. maize à Eldoret (7%)\n0. Back\n00. Main menu" {
		t.Fatalf("list: %q", s.Text)
	}
	if _, ok := st.Vars["subs.count"]; ok {
		t.Error("the list stays in the session while only its menu reads it")
	}
	s, _ := f.Step(ctx, env, st, "1")
	if s.Text != "Stop maize à Eldoret?\n1. Yes\n2. No\n0. Back\n00. Main menu" {
		t.Fatalf("confirm: %q", s.Text)
	}
	if s, _ = f.Step(ctx, env, st, "2"); !strings.HasPrefix(s.Text, "Your alerts\n1. maize à Eldoret") {
		t.Fatalf("back to the list: %q", s.Text)
	}
	f.Step(ctx, env, st, "1")
	env.Channel = "sms"
	if s, _ = f.Step(ctx, env, st, "1"); s.Text != "Stopped." {
		t.Fatalf("cancel: %q", s.Text)
	}
	subs, _ = reg.Subscriptions(ctx, env.MSISDN)
	if len(subs) != 1 || subs[0].Service != "health" {
		t.Errorf("after cancel: %+v", subs)
	}
	ev, _ := reg.Audit(ctx, env.MSISDN)
	if last := ev[len(ev)-1]; last.Action != "unsubscribe" || last.Topic != "prices:maize:eldoret" || last.Channel != "sms" || last.Service != "market" {
		t.Errorf("audit: %+v", last)
	}
	// Nothing left of this service: the list's on_empty, and stop all finds nothing.
	if s := play(t, f, env, &State{Lang: "en"}, "2"); s.Text != "You have no alerts." {
		t.Errorf("empty list: %q", s.Text)
	}
	if s := play(t, f, env, &State{Lang: "en"}, "3"); s.Text != "You have no alerts." {
		t.Errorf("stop all of nothing: %q", s.Text)
	}
	if subs, _ = reg.Subscriptions(ctx, env.MSISDN); len(subs) != 1 {
		t.Errorf("stop all of market touched other services: %+v", subs)
	}
	// Stop all removes every topic of the service.
	play(t, f, env, &State{Lang: "en"}, "1", "5")
	reg.Subscribe(ctx, env.MSISDN, consent.Subscription{Service: "market", Topic: "prices:beans:nakuru", Label: "beans"})
	if s := play(t, f, env, &State{Lang: "en"}, "3"); s.Text != "Stopped." {
		t.Errorf("stop all: %q", s.Text)
	}
	if subs, _ = reg.Subscriptions(ctx, env.MSISDN); len(subs) != 1 || subs[0].Service != "health" {
		t.Errorf("after stop all: %+v", subs)
	}
}

func TestConsentNodesErrors(t *testing.T) {
	f := loadAlerts(t)
	unavailable := "Sorry, the service is not available right now. Please try again later."
	tests := []struct {
		name    string
		consent Consent
		msisdn  string
		inputs  []string
		want    string
	}{
		{"subscribe without a registry", nil, "254700000001", []string{"1", "5"}, "Could not subscribe."},
		{"list without a registry", nil, "254700000001", []string{"2"}, unavailable},
		{"unsubscribe without a registry", nil, "254700000001", []string{"3"}, unavailable},
		{"subscribe, registry down", failingConsent{}, "254700000001", []string{"1", "5"}, "Could not subscribe."},
		{"list, registry down", failingConsent{}, "254700000001", []string{"2"}, unavailable},
		{"unsubscribe, registry down", failingConsent{}, "254700000001", []string{"3"}, unavailable},
		{"no number to subscribe", newRegistry(t), "", []string{"1", "5"}, "Could not subscribe."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{MSISDN: tt.msisdn, Now: time.Now(), Consent: tt.consent, Channel: "ussd"}
			if s := play(t, f, env, &State{Lang: "en"}, tt.inputs...); s.Text != tt.want || !s.End {
				t.Errorf("got %q end=%v, want %q", s.Text, s.End, tt.want)
			}
		})
	}
}

func TestPushSettings(t *testing.T) {
	f := loadAlerts(t)
	if f.Location().String() != "Africa/Nairobi" || f.DailyCap() != 3 {
		t.Errorf("location %v cap %d", f.Location(), f.DailyCap())
	}
	if h, m, ok := f.DigestAt(); h != 7 || m != 30 || !ok {
		t.Errorf("digest at %d:%d %v", h, m, ok)
	}
	if strings.Join(f.StopWords, ",") != "QUIT" || strings.Join(f.StartWords, ",") != "RESUME" {
		t.Errorf("words %v %v", f.StopWords, f.StartWords)
	}
	eat := time.FixedZone("EAT", 3*3600)
	quiet := []struct {
		at    time.Time
		quiet bool
		until time.Time
	}{
		{time.Date(2026, 11, 30, 20, 59, 0, 0, eat), false, time.Time{}},
		{time.Date(2026, 11, 30, 21, 0, 0, 0, eat), true, time.Date(2026, 12, 1, 7, 0, 0, 0, eat)},
		{time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC), true, time.Date(2026, 12, 1, 7, 0, 0, 0, eat)}, // 02:30 in Nairobi
		{time.Date(2026, 12, 1, 6, 59, 0, 0, eat), true, time.Date(2026, 12, 1, 7, 0, 0, 0, eat)},
		{time.Date(2026, 12, 1, 7, 0, 0, 0, eat), false, time.Time{}},
		{time.Date(2026, 12, 1, 12, 0, 0, 0, eat), false, time.Time{}},
	}
	for _, q := range quiet {
		until, ok := f.Quiet(q.at)
		if ok != q.quiet || !until.Equal(q.until) {
			t.Errorf("Quiet(%v) = %v %v, want %v %v", q.at, until, ok, q.until, q.quiet)
		}
	}
	// Rendered ready to send: ï goes as i, so the SMS stays GSM 7-bit.
	vars := map[string]string{"crop": "Maïs", "market": "Eldoret", "currency": "KES", "price": "2,900", "change": "+6%", "date": "2026-11-30"}
	if m, ok := f.Message("price_alert", "fr", vars); !ok || m != "Mais à Eldoret : KES 2,900 (+6%) le 2026-11-30." {
		t.Errorf("fr message %q %v", m, ok)
	}
	if m, ok := f.Message("price_alert", "xx", vars); !ok || !strings.HasPrefix(m, "Mais at Eldoret") {
		t.Errorf("default language message %q %v", m, ok)
	}
	if m, ok := f.Message("bye", "en", nil); !ok || m != "Bye from market" {
		t.Errorf("built-in variable: %q %v", m, ok)
	}
	if _, ok := f.Message("nope", "en", nil); ok {
		t.Error("an unknown message renders")
	}
	if got := strings.Join(f.MessageNames(), ","); got != "bye,price_alert" {
		t.Errorf("names %s", got)
	}
	// Without the settings: UTC, never quiet, no cap, no digest.
	d := loadDemo(t)
	if _, q := d.Quiet(time.Now()); q || d.Location() != time.UTC || d.DailyCap() != 0 {
		t.Error("defaults")
	}
	if _, _, ok := d.DigestAt(); ok {
		t.Error("a digest time without digest_at")
	}
}

func TestStopWordClashesAcrossFiles(t *testing.T) {
	a := strings.Replace(base, "title: {en: Shop, fr: Boutique}\n", "keywords: [SHOP]\n", 1)
	b := strings.NewReplacer("id: shop", "id: other", `"*500#"`, `"*501#"`, "title: {en: Shop, fr: Boutique}\n", "sms: {stop_words: [shop]}\n").Replace(base)
	_, err := Compile(map[string][]byte{"a.yaml": []byte(a), "b.yaml": []byte(b)}, Options{})
	got := Errors(err)
	if len(got) != 1 || got[0].Error() != `b.yaml:2:20: sms: SHOP is a STOP/START word here and a keyword of service "shop" (a.yaml) (duplicate)` {
		t.Errorf("errors: %v", err)
	}
}
