package reminders

import "time"

// Copies of the contract's consent.Subscription and outbox.Message, until
// those packages land on main; then this file becomes two aliases.

type subscription struct {
	Service string
	Topic   string
	Label   string
	Lang    string
	Channel string
	Params  map[string]string
	At      time.Time
}

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
