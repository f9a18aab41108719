package sms_test

import (
	"context"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/limits"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
)

// TestLimitedAndDenied: over SMS, a number over its step rate gets the
// "try again later" words once per refused message; a denied number gets
// no SMS at all, not even HELP.
func TestLimitedAndDenied(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop), "info.yaml": []byte(info)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := ussd.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	lim := limits.NewMemory(limits.Rates{StepsPerMinute: 2}, nil)
	box := &outbox{}
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set, Channel: "sms", Limit: gsm.Limit{Octets: 402}, ResumeWindow: -1, Limiter: lim})
	r := &sms.Router{Manager: m, Reply: box}
	ctx := context.Background()
	for i, want := range []string{"Welcome\n1. Apples\n2. Language", "How many apples?\n0. Back\n00. Main menu", "Too many requests. Please try again later."} {
		in := []string{"SHOP", "1", "3"}[i]
		if err := r.Handle(ctx, "254700000001", in); err != nil {
			t.Fatal(err)
		}
		if got := box.last(); got != want {
			t.Fatalf("%q: %q, want %q", in, got, want)
		}
	}
	lim.Deny(ctx, "254700000002")
	for _, in := range []string{"SHOP", "HELP", "1", "hello"} {
		if err := r.Handle(ctx, "254700000002", in); err != nil {
			t.Fatal(err)
		}
	}
	if len(box.sent) != 3 {
		t.Fatalf("a denied number was answered: %q", box.sent[3:])
	}
}
