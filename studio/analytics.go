package studio

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/ussd"
)

// Analytics is where the diagram's counts come from: the gateway's
// analytics store (*analytics.Store), which the session manager feeds
// with every session's steps, the simulator's included.
type Analytics interface {
	Report(ctx context.Context, service string, from, to time.Time) (analytics.Report, error)
}

// Report and NodeStats are the analytics store's.
type (
	Report    = analytics.Report
	NodeStats = analytics.NodeStats
)

// Exit causes, as the analytics count them.
const (
	ExitEnd       = ussd.ExitEnd
	ExitTimeout   = ussd.ExitTimeout
	ExitAbort     = ussd.ExitAbort
	ExitElsewhere = ussd.ExitElsewhere
	ExitError     = ussd.ExitError
)
