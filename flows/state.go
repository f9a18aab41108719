package flows

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/gsm"
)

// State is one user's progress in a flow: all a step needs, and what a
// session store keeps between steps. Node names (not indexes) are kept so
// that a session survives a reload of its flow that leaves its node in
// place.
type State struct {
	Node    string            // current node, or "@language"
	Page    int               // page of the current menu, from 0
	Lang    string            // the user's language
	Vars    map[string]string // variables set by choices, inputs and actions
	History []string          // screens to go back to, most recent last
	// Entry is the action or router the current screen was reached
	// through, when the screen shows a list only it reads: going back to
	// the screen goes through Entry again, to fetch the list anew.
	Entry string
}

// maxHistory bounds the back stack, and with it the session's size.
const maxHistory = 12

// Caller calls adapters by name; *adapters.Registry is one.
type Caller interface {
	Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error)
}

// Env is what a step may use beyond the state: the adapters (its only
// I/O), the user's MSISDN (the msisdn variable), the time and the screen
// limit of the transport.
type Env struct {
	Adapters Caller
	MSISDN   string
	Now      time.Time
	// Limit overrides the flow's screen limit when set (an SMS dialogue
	// has more room than a USSD screen).
	Limit gsm.Limit
	Log   *slog.Logger
	// SMS sends messages to the user (sms nodes, late_sms); nil means the
	// gateway has no SMS route and those take their error branch.
	SMS Messenger
	// Later runs work after the step has answered (a late adapter result
	// to send by SMS). The caller owns its lifetime; nil disables late_sms.
	Later func(work func(ctx context.Context))
	// Consent records what the user agrees to receive (subscribe,
	// unsubscribe and subscriptions nodes); nil makes those nodes take
	// their error branch. *consent.Registry is one.
	Consent Consent
	// Channel is how the user reaches the flow ("ussd", "sms"), recorded
	// with each consent change.
	Channel string
	// MaxInput bounds a free-text answer in characters, above any node's
	// max_length (0: DefaultMaxInput; negative: no bound but the node's).
	// A longer answer is an invalid entry, never saved nor shown again.
	MaxInput int
	// Trace, when set, is told what the step does, in order (analytics):
	// each node it arrives at and each back-end failure on the way. A list
	// fetched again for a screen already shown is not a move and is not
	// traced.
	Trace Tracer
}

// Tracer follows a step through the flow.
type Tracer interface {
	// Arrived is called for every node the step arrives at (screens,
	// actions, routers, and "@language" for the language chooser).
	Arrived(node string)
	// Failed is called when a node's back-end call failed or timed out
	// (an adapter, the SMS route, the consent registry): the step takes
	// that node's error or timeout branch.
	Failed(node string)
}

func (e *Env) arrived(node string) {
	if e != nil && e.Trace != nil {
		e.Trace.Arrived(node)
	}
}

func (e *Env) failed(node string) {
	if e != nil && e.Trace != nil {
		e.Trace.Failed(node)
	}
}

// Consent is the part of the consent registry the flows use. The MSISDN
// and the service always come from the session, never from a flow's params:
// nobody can subscribe another number.
type Consent interface {
	Subscribe(ctx context.Context, msisdn string, s consent.Subscription) error
	Unsubscribe(ctx context.Context, msisdn, service, topic, channel string) (bool, error)
	Subscriptions(ctx context.Context, msisdn string) ([]consent.Subscription, error)
}

// DefaultMaxInput is the longest free-text answer taken when Env.MaxInput
// is not set: an SMS's worth, more than any USSD screen lets a user type.
const DefaultMaxInput = 160

func (e *Env) tooLong(in string) bool {
	max := 0
	if e != nil {
		max = e.MaxInput
	}
	if max == 0 {
		max = DefaultMaxInput
	}
	return max > 0 && len(in) > max && utf8.RuneCountInString(in) > max
}

// Messenger sends an SMS. Send must not wait for delivery: it returns once
// the message is accepted for sending (queued), or with an error.
type Messenger interface {
	Send(ctx context.Context, msisdn, text string) error
}

// Screen is what a step shows the user.
type Screen struct {
	Text string
	End  bool // the session ends with this screen
	// Rejected is set when the input was not accepted (an invalid choice
	// or entry) and the same screen is shown again with a hint.
	Rejected bool
}
