package alerts

import (
	"context"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/outbox"
)

// The types of the consent registry and the outbox that alerts use.
type (
	Subscription = consent.Subscription
	Message      = outbox.Message
	Priority     = outbox.Priority
)

// Bulk is the priority of alerts and digests.
const Bulk = outbox.Bulk

// Consent is what alerts reads of the consent registry
// (*consent.Registry).
type Consent interface {
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error
}

// Outbox is where alerts put their messages (*outbox.Queue). Cancel
// stops what an alert whose intake failed had queued.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error)
	Cancel(ctx context.Context, group string) error
}
