package api

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/consent"
)

// The consent registry's types.
type (
	Subscription = consent.Subscription
	Event        = consent.Event
)

// Until package outbox lands on main, these mirror its types (CONTRACT.md);
// they become aliases of the real ones.

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

// Consent is what the API reads of the consent registry (*consent.Registry).
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

var (
	_ Consent = (*consent.Registry)(nil)
	_ Prices  = (*alerts.Alerts)(nil)
)
