package reminders

import (
	"context"

	"github.com/ussdgw/ussdgw/adapters"
)

// Consent is what the scheduler needs of the consent registry
// (*consent.Registry): who subscribed to the topic, and, at send time,
// whether a number still is and in which language.
type Consent interface {
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s subscription) error) error
	Subscriptions(ctx context.Context, msisdn string) ([]subscription, error)
}

// Queue is what the scheduler needs of the outbox (*outbox.Queue): a
// durable, idempotent enqueue. A second Enqueue of an ID is a no-op, which
// is what makes a reminder re-claimed after a crash go out once.
type Queue interface {
	Enqueue(ctx context.Context, msgs ...message) (ids []string, dups int, err error)
}

// Caller calls adapters by name; *adapters.Registry is one (so is
// flows.Caller, the same shape).
type Caller interface {
	Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error)
}
