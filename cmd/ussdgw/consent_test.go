package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/consent"
)

// TestOpenConsent: without -redis-url the registry runs on an embedded
// Redis; with an unreachable one, the gateway does not start.
func TestOpenConsent(t *testing.T) {
	ctx := context.Background()
	s := defaults()
	reg, closeReg, err := openConsent(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Subscribe(ctx, "254700000001", consent.Subscription{Service: "market", Topic: "prices:maize:eldoret"}); err != nil {
		t.Fatal(err)
	}
	if subs, err := reg.Subscriptions(ctx, "254700000001"); err != nil || len(subs) != 1 {
		t.Errorf("embedded registry: %v %v", subs, err)
	}
	closeReg()

	s.RedisURL = "redis://127.0.0.1:1/0"
	if _, _, err := openConsent(ctx, s); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("unreachable Redis: %v", err)
	}
}
