package reminders

import (
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/outbox"
)

// Short names for the contract's types this package passes around.
type (
	subscription = consent.Subscription
	message      = outbox.Message
)

const bulk = outbox.Bulk
