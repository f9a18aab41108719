package gateway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/ussd"
)

const greet = `id: greet
title: Greet
codes: ["*501#"]
languages: [en]
nodes:
  main:
    type: input
    text: "Your name?"
    save: name
    next: done
  done:
    type: end
    text: "Hello {{name}}."
`

// TestInputHygiene: free text over HTTP is bounded and cleaned before the
// engine sees it; what is shown back is valid UTF-8.
func TestInputHygiene(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"greet.yaml": []byte(greet)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set})})
	tests := []struct {
		name, text, want string
	}{
		{"a name", "Amina", "END Hello Amina."},
		{"160 characters", strings.Repeat("é", 160), "END Hello " + strings.Repeat("é", 160) + "."},
		{"161 characters", strings.Repeat("a", 161), "CON Invalid entry. Try again.\nYour name?"},
		{"a 3 kB answer", strings.Repeat("b", 3000), "CON Invalid entry. Try again.\nYour name?"},
		{"60 kB", strings.Repeat("c", 60<<10), "END Your input is too long. Please dial again."},
		{"invalid UTF-8", "Am\xffi\xc3na", "END Hello Am\uFFFDi\uFFFDna."},
		{"a lone continuation byte", "\x80", "END Hello \uFFFD."},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session, phone := "h"+string(rune('a'+i)), "25470000100"+string(rune('0'+i))
			if _, body, _ := post(t, h, at(session, phone, "*501#", "")); body != "CON Your name?" {
				t.Fatalf("dial: %q", body)
			}
			code, body, _ := post(t, h, at(session, phone, "*501#", tt.text))
			if code != 200 || body != tt.want {
				t.Fatalf("%d %.80q, want %.80q", code, body, tt.want)
			}
			if !utf8.ValidString(body) {
				t.Fatalf("the answer is not UTF-8: %q", body)
			}
		})
	}
}

// TestLostSessionRebuilt: a later hop whose session the store no longer
// has (Redis restarted empty, say) is rebuilt from Africa's Talking's
// cumulative text, rejected inputs and all, instead of starting over at
// the main menu.
func TestLostSessionRebuilt(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop), "greet.yaml": []byte(greet)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, code string
		texts      []string // sent to the first store; the last one to an empty store
		want       string
	}{
		{"digits", "*500#", []string{"", "1", "1*2", "1*2*7"}, "END Order placed: 7 bananas."},
		{"a rejected input on the way", "*500#", []string{"", "1", "1*2", "1*2*x", "1*2*x*7"}, "END Order placed: 7 bananas."},
		{"mid-way", "*500#", []string{"", "1", "1*2"}, "CON How many bananas?\n0. Back\n00. Main menu"},
		{"free text", "*501#", []string{"", "Amina Yusuf"}, "END Hello Amina Yusuf."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set})})
			after := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set})})
			last := len(tt.texts) - 1
			for _, text := range tt.texts[:last] {
				post(t, before, at("lost", "254700002001", tt.code, text))
			}
			if _, body, _ := post(t, after, at("lost", "254700002001", tt.code, tt.texts[last])); body != tt.want {
				t.Fatalf("got %q, want %q", body, tt.want)
			}
		})
	}
}

// countingSMS counts the SMS the flows send.
type countingSMS struct {
	mu   sync.Mutex
	sent []string
}

func (c *countingSMS) Send(_ context.Context, _, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, text)
	return nil
}

// TestRebuildSendsNoSMSTwice: replaying a lost dialogue goes again
// through an sms node the user passed already; that SMS is not sent again.
func TestRebuildSendsNoSMSTwice(t *testing.T) {
	const src = `id: tips
title: Tips
codes: ["*503#"]
languages: [en]
nodes:
  main:
    type: menu
    text: Tips
    options:
      - {label: Send me a tip, next: send}
  send: {type: sms, text: "Water early.", next: sent, on_error: sent}
  sent:
    type: menu
    text: Sent. More?
    options:
      - {label: Yes, next: send}
      - {label: No, next: bye}
  bye: {type: end, text: Bye}
`
	set, err := flows.Compile(map[string][]byte{"tips.yaml": []byte(src)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sms := &countingSMS{}
	before := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, SMS: sms})})
	after := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, SMS: sms})})
	post(t, before, at("tips", "254700003001", "*503#", ""))
	post(t, before, at("tips", "254700003001", "*503#", "1"))
	// The session is lost; the user asks for another tip.
	if _, body, _ := post(t, after, at("tips", "254700003001", "*503#", "1*1")); !strings.HasPrefix(body, "CON Sent. More?") {
		t.Fatalf("rebuilt: %q", body)
	}
	if len(sms.sent) != 2 {
		t.Fatalf("%d SMS sent, want 2 (one per request for a tip)", len(sms.sent))
	}
}
