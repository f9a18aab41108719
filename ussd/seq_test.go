package ussd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/ussd"
)

// TestNumberedRetries: a transport that numbers its messages (Request.Seq)
// gets the screen the dialogue is on for a message already applied, the
// dial and the last step included; without numbers the same reply is
// applied again (nothing tells it from the key pressed twice).
func TestNumberedRetries(t *testing.T) {
	set := loadShop(t)
	type step struct {
		seq   int
		input string // "" with seq 1: the dial
		want  string // prefix of the screen
		end   bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"retried dial and replies", []step{
			{1, "", "Welcome to the shop", false},
			{1, "", "Welcome to the shop", false},
			{2, "1", "Pick a fruit", false},
			{2, "1", "Pick a fruit", false},
			{3, "2", "How many bananas?", false},
			{4, "3", "Buy 3 bananas?", false},
			{5, "1", "Order placed: 3 bananas.", true},
			{5, "1", "Order placed: 3 bananas.", true},
		}},
		{"unnumbered replies apply twice", []step{
			{1, "", "Welcome to the shop", false},
			{0, "1", "Pick a fruit", false},
			{0, "1", "How many apples?", false},
		}},
		{"numbered from 0: the dial is unnumbered", []step{
			{0, "", "Welcome to the shop", false},
			{1, "1", "Pick a fruit", false},
			{1, "1", "Pick a fruit", false},
			{2, "2", "How many bananas?", false},
		}},
		{"a number from the past is a retry", []step{
			{1, "", "Welcome to the shop", false},
			{2, "1", "Pick a fruit", false},
			{3, "2", "How many bananas?", false},
			{2, "1", "How many bananas?", false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := ussd.NewMemoryStore()
			t.Cleanup(func() { store.Close() })
			m := ussd.NewManager(ussd.Config{Store: store, Flows: set})
			for i, st := range tc.steps {
				req := ussd.Request{SessionID: "seq-1", MSISDN: "254700000123", Seq: st.seq, Input: st.input}
				if st.input == "" {
					req.New, req.Dialled = true, "*500#"
				}
				resp, err := m.Handle(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(resp.Text, st.want) || resp.End != st.end {
					t.Fatalf("step %d (seq %d, input %q): %q end %v, want %q end %v", i, st.seq, st.input, resp.Text, resp.End, st.want, st.end)
				}
			}
		})
	}
}
