package alerts

import (
	"context"
	"time"
)

// Until packages consent and outbox land on main, these mirror the types
// of the contract (CONTRACT.md); they become aliases of the real ones.

// Subscription mirrors consent.Subscription.
type Subscription struct {
	Service, Topic, Label, Lang, Channel string
	Params                               map[string]string
	At                                   time.Time
}

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

// Consent is what alerts reads of the consent registry.
type Consent interface {
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error
}

// Outbox is where alerts put their messages.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error)
}
