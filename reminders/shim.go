package reminders

import (
	"time"

	"github.com/ussdgw/ussdgw/consent"
)

type subscription = consent.Subscription

// A copy of the contract's outbox.Message, until that package lands on
// main; then this file becomes aliases.

type priority uint8

const bulk priority = 1

type message struct {
	ID        string
	MSISDN    string
	Text      string
	Service   string
	Kind      string
	Priority  priority
	Group     string
	NotBefore time.Time
	NotAfter  time.Time
}
