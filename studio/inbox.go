package studio

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/flows"
)

// SimulatedPrefix starts every simulated number. 999 is a spare E.164
// country code (assigned to no country), so no real subscriber has such a
// number: an SMS to one is never meant for a real phone.
const SimulatedPrefix = "999"

// Simulated reports whether msisdn is a simulated number (the workbench's
// phone): the gateway never hands an SMS to such a number to an SMSC.
func Simulated(msisdn string) bool { return strings.HasPrefix(msisdn, SimulatedPrefix) }

// Message is an SMS captured for a simulated number.
type Message struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	// From says where it came from: "flow" (an sms node, a late result)
	// or "outbox" (an alert, a reminder, a broadcast).
	From string `json:"from"`
}

// inboxCap bounds the messages kept per number, and inboxNumbers the
// numbers kept: the inbox lives in memory for as long as the process.
const (
	inboxCap     = 50
	inboxNumbers = 1000
)

// Inbox captures the SMS meant for simulated numbers, in memory, and
// passes the others on. It is the SMS route the gateway gives its session
// managers when the workbench is on: an ussd.Reacher, so that with no SMS
// route behind it real numbers see none, exactly as before.
type Inbox struct {
	next flows.Messenger // nil: no SMS route for real numbers
	now  func() time.Time

	mu    sync.Mutex
	msgs  map[string][]Message
	order []string // numbers, oldest first, to forget the oldest past inboxNumbers
	wait  chan struct{}
}

// NewInbox returns an Inbox in front of next (nil when the gateway has no
// SMS route).
func NewInbox(next flows.Messenger, now func() time.Time) *Inbox {
	if now == nil {
		now = time.Now
	}
	return &Inbox{next: next, now: now, msgs: map[string][]Message{}, wait: make(chan struct{})}
}

// errNoRoute is what a real number's SMS gets when there is no SMS route;
// flows never see it, since Reaches is false for them.
var errNoRoute = errors.New("studio: no SMS route for a real number")

// Send keeps an SMS to a simulated number and passes the others on.
func (in *Inbox) Send(ctx context.Context, msisdn, text string) error {
	if Simulated(msisdn) {
		in.add(msisdn, Message{Text: text, At: in.now(), From: "flow"})
		return nil
	}
	if in.next == nil {
		return errNoRoute
	}
	return in.next.Send(ctx, msisdn, text)
}

// Reaches reports whether Send can deliver to msisdn.
func (in *Inbox) Reaches(msisdn string) bool { return Simulated(msisdn) || in.next != nil }

// Guard returns deliver (an SMSC's send of a queued SMS) with the
// simulated numbers taken out: their messages go to the inbox (when in is
// not nil) and never to the SMSC. The gateway guards its outbox with it
// whether or not the workbench is on, since a simulated number may have
// subscribed to alerts while it was.
func Guard(in *Inbox, deliver func(ctx context.Context, msisdn, text, ref string) error) func(ctx context.Context, msisdn, text, ref string) error {
	return func(ctx context.Context, msisdn, text, ref string) error {
		if !Simulated(msisdn) {
			return deliver(ctx, msisdn, text, ref)
		}
		if in != nil {
			in.add(msisdn, Message{Text: text, At: in.now(), From: "outbox"})
		}
		return nil
	}
}

func (in *Inbox) add(msisdn string, m Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	list, known := in.msgs[msisdn]
	if !known {
		in.order = append(in.order, msisdn)
		if len(in.order) > inboxNumbers {
			delete(in.msgs, in.order[0])
			in.order = in.order[1:]
		}
	}
	list = append(list, m)
	if len(list) > inboxCap {
		list = list[len(list)-inboxCap:]
	}
	in.msgs[msisdn] = list
	close(in.wait)
	in.wait = make(chan struct{})
}

// Messages returns the SMS kept for msisdn, oldest first.
func (in *Inbox) Messages(msisdn string) []Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Message(nil), in.msgs[msisdn]...)
}

// Changed returns a channel closed when the next message arrives (tests
// and the late results of a flow wait on it).
func (in *Inbox) Changed() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.wait
}
