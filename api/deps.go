package api

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/alerts"
)

// Until packages consent and outbox land on main, these mirror the types
// of the contract (CONTRACT.md); they become aliases of the real ones.

// Subscription mirrors consent.Subscription.
type Subscription = alerts.Subscription

// Event mirrors consent.Event.
type Event struct {
	At                              time.Time
	Action                          string
	Service, Topic, Channel, Detail string
}

// Message mirrors outbox.Message.
type Message = alerts.Message

// Bulk mirrors outbox.Bulk.
const Bulk = alerts.Bulk

// Status mirrors outbox.Status.
type Status struct {
	ID, MSISDN, Service, Kind, Group, State, Reason string
	Attempts                                        int
	Updated                                         time.Time
}

// GroupStats mirrors outbox.GroupStats.
type GroupStats struct {
	Total, Queued, Sent, Delivered, Failed, Suppressed, Cancelled int64
	Stopped                                                       bool
}

// Consent is what the API reads of the consent registry.
type Consent interface {
	Subscriptions(ctx context.Context, msisdn string) ([]Subscription, error)
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error
	ServiceUsers(ctx context.Context, service string, fn func(msisdn string) error) error
	Audit(ctx context.Context, msisdn string) ([]Event, error)
}

// Outbox is the part of the outbound queue the API uses.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error)
	Status(ctx context.Context, id string) (Status, bool, error)
	Cancel(ctx context.Context, group string) error
	Group(ctx context.Context, group string) (GroupStats, error)
}

// Prices takes new prices and alerts their subscribers (*alerts.Alerts).
type Prices interface {
	Normalize(p alerts.Price) (alerts.Price, error)
	Price(ctx context.Context, p alerts.Price) (alerts.Run, error)
}
