package api

import (
	"context"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/outbox"
)

// The types of the consent registry and the outbox that the API uses.
type (
	Subscription = consent.Subscription
	Event        = consent.Event
	Message      = outbox.Message
	Status       = outbox.Status
	GroupStats   = outbox.GroupStats
)

// Bulk is the priority of broadcasts.
const Bulk = outbox.Bulk

// Consent is what the API reads of the consent registry
// (*consent.Registry).
type Consent interface {
	Subscriptions(ctx context.Context, msisdn string) ([]Subscription, error)
	Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error
	ServiceUsers(ctx context.Context, service string, fn func(msisdn string) error) error
	Audit(ctx context.Context, msisdn string) ([]Event, error)
}

// Outbox is the part of the outbound queue the API uses (*outbox.Queue).
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error)
	Status(ctx context.Context, id string) (Status, bool, error)
	Cancel(ctx context.Context, group string) error
	Group(ctx context.Context, group string) (GroupStats, error)
	Dead(ctx context.Context, max int) ([]Status, error)
	Resend(ctx context.Context, id string) error
}

// Prices takes new prices and alerts their subscribers (*alerts.Alerts).
type Prices interface {
	Normalize(p alerts.Price) (alerts.Price, error)
	Price(ctx context.Context, p alerts.Price) (alerts.Run, error)
}

var (
	_ Consent = (*consent.Registry)(nil)
	_ Outbox  = (*outbox.Queue)(nil)
	_ Prices  = (*alerts.Alerts)(nil)
)
