package alerts

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/consent"
)

// Subscription is a subscription of the consent registry.
type Subscription = consent.Subscription

// Until package outbox lands on main, these mirror its types (CONTRACT.md);
// they become aliases of the real ones.

// Priority mirrors outbox.Priority.
type Priority uint8

// Bulk mirrors outbox.Bulk.
const Bulk Priority = 1

// Message mirrors outbox.Message.
type Message struct {
	ID, MSISDN, Text, Service, Kind string
	Priority                        Priority
	Group                           string
	NotBefore, NotAfter             time.Time
}

// Consent is what alerts reads of the consent registry (*consent.Registry).
type Consent interface {
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error
}

// Outbox is where alerts put their messages.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error)
}

var _ Consent = (*consent.Registry)(nil)
