package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// TestOpenConsent: without -redis-url the consent registry runs on the
// push side's embedded Redis; with an unreachable one, the gateway does
// not start.
func TestOpenConsent(t *testing.T) {
	ctx := context.Background()
	s := defaults()
	p, closeReg, err := openPush(ctx, s, logcheck.New(t), nil, func() *flows.Set { return &flows.Set{} })
	if err != nil {
		t.Fatal(err)
	}
	reg := p.consent
	if err := reg.Subscribe(ctx, "254700000001", consent.Subscription{Service: "market", Topic: "prices:maize:eldoret"}); err != nil {
		t.Fatal(err)
	}
	if subs, err := reg.Subscriptions(ctx, "254700000001"); err != nil || len(subs) != 1 {
		t.Errorf("embedded registry: %v %v", subs, err)
	}
	closeReg()

	s.RedisURL = "redis://127.0.0.1:1/0"
	if _, _, err := openPush(ctx, s, logcheck.New(t), nil, func() *flows.Set { return &flows.Set{} }); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("unreachable Redis: %v", err)
	}
}
