package ussd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestInputBounds: over a one-reply-per-message transport (SMPP), a 60 kB
// answer is an invalid entry and is never saved; MaxInput lowers the
// bound, and a node's max_length below it still applies.
func TestInputBounds(t *testing.T) {
	const src = `id: note
title: Note
codes: ["*502#"]
languages: [en]
nodes:
  main: {type: input, text: "Note?", save: note, next: short}
  short: {type: input, text: "Code?", save: code, validate: {max_length: 4}, next: done}
  done: {type: end, text: "Saved {{note}} {{code}}"}
`
	set, err := flows.Compile(map[string][]byte{"note.yaml": []byte(src)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		max      int
		inputs   []string
		want     string // prefix
		rejected int    // how many "Invalid entry" screens
	}{
		{"60 kB", 0, []string{strings.Repeat("x", 60<<10), "ok", "1234"}, "Saved ok 1234", 1},
		{"160 is fine", 0, []string{strings.Repeat("y", 160), "1234"}, "Saved " + strings.Repeat("y", 100), 0},
		{"lower bound", 10, []string{"eleven char", "ten chars!", "12345", "1234"}, "Saved ten chars! 1234", 2},
		{"no default bound", -1, []string{strings.Repeat("z", 500), "1"}, "Saved " + strings.Repeat("z", 100), 0}, // the screen cuts the rest
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, MaxInput: tt.max})
			resp, err := m.Handle(ctx, ussd.Request{SessionID: "1", MSISDN: "254700000001", Dialled: "*502#", New: true})
			if err != nil || resp.Text != "Note?" {
				t.Fatalf("dial: %q %v", resp.Text, err)
			}
			rejected := 0
			for _, in := range tt.inputs {
				if resp, err = m.Handle(ctx, ussd.Request{SessionID: "1", MSISDN: "254700000001", Input: in}); err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(resp.Text, "Invalid entry.") {
					rejected++
				}
			}
			if !strings.HasPrefix(resp.Text, tt.want) || !resp.End || rejected != tt.rejected {
				t.Fatalf("%.60q (end %v), %d rejected; want %.60q, %d", resp.Text, resp.End, rejected, tt.want, tt.rejected)
			}
		})
	}
}
