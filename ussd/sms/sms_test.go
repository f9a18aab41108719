package sms_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
)

const shop = `id: shop
title: {en: Shop, fr: Boutique}
codes: ["*500#"]
keywords: [SHOP, BOUTIQUE]
languages: [en, fr]
sms: {dialogue: true}
nodes:
  main:
    type: menu
    text: {en: Welcome, fr: Bienvenue}
    options:
      - {label: {en: Apples, fr: Pommes}, set: {fruit: apples}, next: qty}
      - {label: {en: Language, fr: Langue}, next: "@language"}
  qty:
    type: input
    text: {en: "How many {{fruit}}?", fr: "Combien de {{fruit}} ?"}
    save: qty
    validate: {type: integer, min: 1, max: 9}
    next: done
  done: {type: end, text: {en: "Order placed: {{qty}} {{fruit}}.", fr: "Commande : {{qty}} {{fruit}}."}}
`

const info = `id: info
title: Clinic hours
codes: ["*600#"]
keywords: [CLINIC]
languages: [en]
sms: {help: "Clinics open 8am to 5pm. Dial *600# for the nearest one."}
nodes:
  main: {type: end, text: "Open 8 to 5"}
`

type outbox struct {
	mu   sync.Mutex
	sent []string
}

func (o *outbox) Send(_ context.Context, msisdn, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, text)
	return nil
}

func (o *outbox) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent[len(o.sent)-1]
}

func newRouter(t *testing.T) (*sms.Router, *outbox, *ussd.Manager) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop), "info.yaml": []byte(info)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := ussd.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	box := &outbox{}
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set, Channel: "sms", Limit: gsm.Limit{Octets: 402}, ResumeWindow: -1})
	return &sms.Router{Manager: m, Reply: box}, box, m
}

func TestDialogue(t *testing.T) {
	r, box, _ := newRouter(t)
	ctx := context.Background()
	steps := []struct{ in, want string }{
		{"shop", "Welcome\n1. Apples\n2. Language"},
		{"1", "How many apples?\n0. Back\n00. Main menu"},
		{"x", "Invalid entry. Try again.\nHow many apples?\n0. Back\n00. Main menu"},
		{" 4 ", "Order placed: 4 apples."},
		{"4", "Send a keyword:\nCLINIC - Clinic hours (*600#)\nSHOP - Shop (*500#)"}, // no dialogue any more
		{"SHOP 1 3", "Order placed: 3 apples."},                                      // keyword with shortcut inputs
		{"clinic", "Clinics open 8am to 5pm. Dial *600# for the nearest one."},
		{"hello there", "Send a keyword:\nCLINIC - Clinic hours (*600#)\nSHOP - Shop (*500#)"},
		{"", "Send a keyword:\nCLINIC - Clinic hours (*600#)\nSHOP - Shop (*500#)"},
		{"BOUTIQUE", "Welcome\n1. Apples\n2. Language"},
		{"2", "Choose your language\n1. English\n2. Français\n0. Back"},
		{"2", "Bienvenue\n1. Pommes\n2. Langue"},
		{"aide", "Envoyez un mot-clé :\nCLINIC - Clinic hours (*600#)\nSHOP - Boutique (*500#)"},
	}
	for _, st := range steps {
		if err := r.Handle(ctx, "254700000001", st.in); err != nil {
			t.Fatalf("%q: %v", st.in, err)
		}
		if got := box.last(); got != st.want {
			t.Fatalf("%q:\n got %q\nwant %q", st.in, got, st.want)
		}
	}
}

// A USSD session and an SMS dialogue of the same subscriber, on the same
// store, do not disturb each other.
func TestUSSDAndSMSSessionsApart(t *testing.T) {
	r, box, m := newRouter(t)
	ctx := context.Background()
	store := ussd.NewMemoryStore()
	defer store.Close()
	smsM := ussd.NewManager(ussd.Config{Store: store, Flows: m.Flows(), Channel: "sms", Limit: gsm.Limit{Octets: 402}})
	ussdM := ussd.NewManager(ussd.Config{Store: store, Flows: m.Flows()})
	r.Manager = smsM
	const who = "254700000002"
	if _, err := ussdM.Handle(ctx, ussd.Request{SessionID: "u1", MSISDN: who, Dialled: "*500#", Text: "", Cumulative: true}); err != nil {
		t.Fatal(err)
	}
	r.Handle(ctx, who, "shop")
	r.Handle(ctx, who, "1")
	if !strings.HasPrefix(box.last(), "How many apples?") {
		t.Fatal(box.last())
	}
	resp, err := ussdM.Handle(ctx, ussd.Request{SessionID: "u1", MSISDN: who, Dialled: "*500#", Text: "1", Cumulative: true})
	if err != nil || resp.Text != "How many apples?\n0. Back\n00. Main menu" {
		t.Fatalf("USSD after SMS: %q %v", resp.Text, err)
	}
	r.Handle(ctx, who, "2")
	if box.last() != "Order placed: 2 apples." {
		t.Fatalf("SMS after USSD: %q", box.last())
	}
}

type failing struct{}

func (failing) Send(context.Context, string, string) error { return context.DeadlineExceeded }

func TestReplyFailureIsAnError(t *testing.T) {
	r, _, _ := newRouter(t)
	r.Reply = failing{}
	if err := r.Handle(context.Background(), "254700000003", "shop"); err == nil {
		t.Fatal("a message that could not be answered must be refused")
	}
}
