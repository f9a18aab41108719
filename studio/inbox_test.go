package studio_test

import (
	"context"
	"testing"

	"github.com/ussdgw/ussdgw/studio"
)

// sent records what reaches the SMS route behind the inbox.
type sent struct{ to []string }

func (s *sent) Send(_ context.Context, msisdn, _ string) error {
	s.to = append(s.to, msisdn)
	return nil
}

func TestInboxAndGuard(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		msisdn    string
		simulated bool
	}{
		{"999123456789", true},
		{"99912", true},
		{"254700000001", false},
		{"19990000000", false}, // 999 inside a number is not the prefix
	}
	route := &sent{}
	in := studio.NewInbox(route, nil)
	bare := studio.NewInbox(nil, nil) // a gateway without SMS route
	var delivered []string
	deliver := studio.Guard(in, func(_ context.Context, msisdn, _, _ string) error {
		delivered = append(delivered, msisdn)
		return nil
	})
	offDeliver := studio.Guard(nil, func(_ context.Context, msisdn, _, _ string) error {
		delivered = append(delivered, msisdn)
		return nil
	})
	for _, c := range cases {
		if studio.Simulated(c.msisdn) != c.simulated {
			t.Errorf("Simulated(%s) = %v", c.msisdn, !c.simulated)
		}
		if err := in.Send(ctx, c.msisdn, "flow sms"); err != nil {
			t.Fatal(err)
		}
		if err := deliver(ctx, c.msisdn, "alert", "ref"); err != nil {
			t.Fatal(err)
		}
		if err := offDeliver(ctx, c.msisdn, "alert", "ref"); err != nil {
			t.Fatal(err)
		}
		if !in.Reaches(c.msisdn) || bare.Reaches(c.msisdn) != c.simulated {
			t.Errorf("%s: Reaches %v, %v", c.msisdn, in.Reaches(c.msisdn), bare.Reaches(c.msisdn))
		}
		err := bare.Send(ctx, c.msisdn, "x")
		if c.simulated != (err == nil) {
			t.Errorf("%s: send without a route: %v", c.msisdn, err)
		}
		got := in.Messages(c.msisdn)
		if c.simulated && (len(got) != 2 || got[0].From != "flow" || got[1].From != "outbox") {
			t.Errorf("%s: inbox %+v", c.msisdn, got)
		}
		if !c.simulated && len(got) != 0 {
			t.Errorf("%s: a real number's SMS kept: %+v", c.msisdn, got)
		}
	}
	want := []string{"254700000001", "19990000000"}
	if len(route.to) != 2 || route.to[0] != want[0] || route.to[1] != want[1] {
		t.Errorf("reached the SMS route: %v, want %v", route.to, want)
	}
	// Each real number twice (studio on and off), no simulated one ever.
	if len(delivered) != 4 {
		t.Errorf("reached the SMSC: %v", delivered)
	}
	for _, d := range delivered {
		if studio.Simulated(d) {
			t.Errorf("a simulated number reached the SMSC: %s", d)
		}
	}
}

func TestInboxBounded(t *testing.T) {
	in := studio.NewInbox(nil, nil)
	changed := in.Changed()
	for i := range 60 {
		in.Send(context.Background(), "999000000001", string(rune('a'+i%26)))
	}
	select {
	case <-changed:
	default:
		t.Error("Changed not closed by a message")
	}
	if got := in.Messages("999000000001"); len(got) != 50 {
		t.Errorf("kept %d messages, want the last 50", len(got))
	}
}
