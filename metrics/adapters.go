package metrics

import (
	"context"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
)

// Adapters wraps the adapters so that every call is counted by adapter,
// operation and outcome and timed.
func (m *Metrics) Adapters(c flows.Caller) flows.Caller { return caller{c, m} }

type caller struct {
	next flows.Caller
	m    *Metrics
}

func (c caller) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	start := time.Now()
	res, err := c.next.Call(ctx, name, req)
	outcome := "ok"
	if err != nil {
		outcome = adapters.KindOf(err).String()
	}
	c.m.adapterCalls.WithLabelValues(name, req.Op, outcome).Inc()
	c.m.adapterDur.WithLabelValues(name, req.Op).Observe(time.Since(start).Seconds())
	return res, err
}
