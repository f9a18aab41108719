package main

import (
	"log/slog"
	"time"

	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/ussd"
)

// analyticsSettings are the settings of the per-node analytics
// (docs/analytics.md).
type analyticsSettings struct {
	AnalyticsRetention time.Duration
}

func analyticsDefaults() analyticsSettings {
	return analyticsSettings{AnalyticsRetention: analytics.DefaultRetention}
}

func (a *analyticsSettings) analyticsOptions() []option {
	return []option{
		{name: "analytics-retention", usage: "how long a day's analytics (entries, choices, exits per service and node) are kept; 0 turns analytics off", dur: &a.AnalyticsRetention},
	}
}

// newAnalytics returns the analytics over store, counted into a's
// metrics too, or nil when they are off or the store cannot keep
// counters. A service's time zone is read from the flows loaded at the
// time (a.manager, made after this).
func newAnalytics(s *settings, a *app, store ussd.Store, log *slog.Logger, now func() time.Time) *analytics.Store {
	c, ok := store.(ussd.Counter)
	if s.AnalyticsRetention <= 0 || !ok {
		log.Info("analytics off", "retention", s.AnalyticsRetention)
		return nil
	}
	return analytics.New(analytics.Options{
		Counter: c, Retention: s.AnalyticsRetention, Now: now,
		Observe: a.metrics.WatchFlows(a.set),
		Location: func(service string) *time.Location {
			if f, ok := a.manager.Flows().Flow(service); ok {
				return f.Location()
			}
			return nil
		},
	})
}
