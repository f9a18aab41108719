package sms_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
)

const farm = `id: farm
title: {en: Farm prices, sw: Bei za shamba, fr: Prix agricoles}
codes: ["*700#"]
keywords: [FARM, SHAMBA]
languages: [en, sw, fr]
sms: {dialogue: true, stop_words: [SIMAMISHA, አቁም], start_words: [ENDELEA]}
nodes:
  main: {type: end, text: "Farm"}
`

func newStopRouter(t *testing.T) (*sms.Router, *outbox, *consent.Registry, *ussd.Manager) {
	t.Helper()
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop), "farm.yaml": []byte(farm)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	reg := consent.New(c, "t:", consent.Options{})
	store := ussd.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	box := &outbox{}
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set, Channel: "sms", Limit: gsm.Limit{Octets: 402}, ResumeWindow: -1, Consent: reg})
	return &sms.Router{Manager: m, Reply: box, Consent: reg}, box, reg, m
}

func TestStopStart(t *testing.T) {
	r, box, reg, _ := newStopRouter(t)
	ctx := context.Background()
	type allowed struct{ farm, shop bool }
	steps := []struct {
		who, in, want string
		after         allowed
	}{
		{"254700000001", "STOP FARM", "You will receive no more messages from Farm prices. Send START FARM to receive them again.", allowed{false, true}},
		{"254700000001", "start farm", "Messages from Farm prices will come again. Send STOP FARM to end them.", allowed{true, true}},
		{"254700000001", "stop", "You will receive no more alerts or reminders. Send START to receive them again.", allowed{false, false}},
		{"254700000001", "START", "Your alerts and reminders will come again. Send STOP to end them.", allowed{true, true}},
		{"254700000001", "Stop please", "You will receive no more alerts or reminders. Send START to receive them again.", allowed{false, false}},
		{"254700000001", "START", "Your alerts and reminders will come again. Send STOP to end them.", allowed{true, true}},
		{"254700000001", "STOPALL FARM", "You will receive no more alerts or reminders. Send START to receive them again.", allowed{false, false}},
		// No language on record: the answer is in the word's.
		{"254700000001", "anza", "Taarifa na vikumbusho vyako vitakuja tena. Tuma ACHA kuvisimamisha.", allowed{true, true}},
		{"254700000002", "ACHA SHAMBA", "Hutapokea tena ujumbe wa Bei za shamba. Tuma ANZA SHAMBA kuupokea tena.", allowed{false, true}},
		{"254700000003", "arrêt", "Vous ne recevrez plus d'alertes ni de rappels. Envoyez DEMARRER pour les recevoir à nouveau.", allowed{false, false}},
		{"254700000003", "DEMARRER", "Vos alertes et rappels reprennent. Envoyez ARRET pour les arrêter.", allowed{true, true}},
		{"254700000004", "PARE", "Não receberá mais alertas nem lembretes. Envie START para voltar a recebê-los.", allowed{false, false}},
		// A service's own words, in its default language.
		{"254700000005", "simamisha", "You will receive no more alerts or reminders. Send START to receive them again.", allowed{false, false}},
		{"254700000005", "ENDELEA FARM", "Messages from Farm prices will come again. Send STOP FARM to end them.", allowed{false, false}}, // the global STOP holds
		{"254700000005", "ENDELEA", "Your alerts and reminders will come again. Send STOP to end them.", allowed{true, true}},
		{"254700000009", "አቁም ShAmBa", "You will receive no more messages from Farm prices. Send START SHAMBA to receive them again.", allowed{false, true}},
		{"254700000006", "unsubscribe shop", "You will receive no more messages from Shop. Send START SHOP to receive them again.", allowed{true, false}},
		{"254700000006", "CANCEL", "You will receive no more alerts or reminders. Send START to receive them again.", allowed{false, false}},
	}
	for _, st := range steps {
		if err := r.Handle(ctx, ussd.MSISDN(st.who), st.in); err != nil {
			t.Fatalf("%q: %v", st.in, err)
		}
		if got := box.last(); got != st.want {
			t.Errorf("%s %q:\n got %q\nwant %q", st.who, st.in, got, st.want)
		}
		f, _ := reg.Allowed(ctx, st.who, "farm")
		s, _ := reg.Allowed(ctx, st.who, "shop")
		if (allowed{f, s}) != st.after {
			t.Errorf("%s %q: allowed farm/shop %v %v, want %+v", st.who, st.in, f, s, st.after)
		}
	}
	ev, _ := reg.Audit(ctx, "254700000001")
	if len(ev) != 8 || ev[0].Action != "stop" || ev[0].Service != "farm" || ev[0].Channel != "sms" || ev[1].Action != "start" {
		t.Errorf("audit %+v", ev)
	}
}

// The answer comes in the language the user chose, and STOP wins over a
// dialogue in progress.
func TestStopInUsersLanguageMidDialogue(t *testing.T) {
	r, box, reg, _ := newStopRouter(t)
	ctx := context.Background()
	const who = "254700000007"
	for _, in := range []string{"shop", "2", "2"} { // the language chooser: Français
		if err := r.Handle(ctx, who, in); err != nil {
			t.Fatal(err)
		}
	}
	if box.last() != "Bienvenue\n1. Pommes\n2. Langue" {
		t.Fatalf("setup: %q", box.last())
	}
	if err := r.Handle(ctx, who, "STOP"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(box.last(), "Vous ne recevrez plus") {
		t.Errorf("STOP in a French dialogue: %q", box.last())
	}
	if ok, _ := reg.Allowed(ctx, who, "shop"); ok {
		t.Error("STOP was not recorded")
	}
}

type brokenConsent struct{}

func (brokenConsent) OptOut(context.Context, string, string, string) error {
	return errors.New("redis down")
}
func (brokenConsent) OptIn(context.Context, string, string, string) error {
	return errors.New("redis down")
}

// A STOP that could not be recorded is an error (the SMSC delivers it
// again), and gets no confirmation.
func TestStopNotRecordedIsAnError(t *testing.T) {
	r, box, _, _ := newStopRouter(t)
	r.Consent = brokenConsent{}
	if err := r.Handle(context.Background(), "254700000008", "STOP"); err == nil {
		t.Fatal("want an error")
	}
	if len(box.sent) != 0 {
		t.Errorf("confirmed a STOP it did not record: %v", box.sent)
	}
	// Without a registry STOP is just text.
	r.Consent = nil
	if err := r.Handle(context.Background(), "254700000008", "STOP"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(box.last(), "Send a keyword:") {
		t.Errorf("without consent: %q", box.last())
	}
}
