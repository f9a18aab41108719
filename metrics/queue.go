package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Queue is a snapshot of the MT SMS queue (the outbox's Stats).
type Queue struct {
	Depth   map[string]int64 // entries waiting or being sent, by priority ("high", "bulk")
	Oldest  time.Duration    // age of the oldest entry
	Delayed int64            // waiting for a retry, a NotBefore or the end of quiet hours
	Dead    int64            // dead-lettered
}

// WatchQueue reads the queue at every scrape through stats (bounded by 5
// s); nil stats exports nothing (no queue wired). Call it once.
func (m *Metrics) WatchQueue(stats func(context.Context) (Queue, error)) {
	q := &queueCollector{stats: stats,
		depth:   prometheus.NewDesc("ussdgw_outbox_depth", "MT SMS in the queue (waiting or being sent), by priority.", []string{"priority"}, nil),
		oldest:  prometheus.NewDesc("ussdgw_outbox_oldest_age_seconds", "Age of the oldest MT SMS in the queue.", nil, nil),
		delayed: prometheus.NewDesc("ussdgw_outbox_delayed", "MT SMS waiting for a retry, their send time or the end of quiet hours.", nil, nil),
		dead:    prometheus.NewDesc("ussdgw_outbox_dead", "MT SMS dead-lettered (kept for inspection).", nil, nil),
		up:      prometheus.NewDesc("ussdgw_outbox_up", "1 when the queue's statistics could be read at this scrape, else 0.", nil, nil),
	}
	m.register(q, map[string]string{"ussdgw_outbox_depth": "gauge", "ussdgw_outbox_oldest_age_seconds": "gauge",
		"ussdgw_outbox_delayed": "gauge", "ussdgw_outbox_dead": "gauge", "ussdgw_outbox_up": "gauge"})
}

type queueCollector struct {
	stats                            func(context.Context) (Queue, error)
	depth, oldest, delayed, dead, up *prometheus.Desc
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.depth
	ch <- q.oldest
	ch <- q.delayed
	ch <- q.dead
	ch <- q.up
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	if q.stats == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.stats(ctx)
	if err != nil {
		slog.Debug("metrics: reading the queue", "err", err)
		ch <- prometheus.MustNewConstMetric(q.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(q.up, prometheus.GaugeValue, 1)
	for p, n := range s.Depth {
		ch <- prometheus.MustNewConstMetric(q.depth, prometheus.GaugeValue, float64(n), p)
	}
	ch <- prometheus.MustNewConstMetric(q.oldest, prometheus.GaugeValue, s.Oldest.Seconds())
	ch <- prometheus.MustNewConstMetric(q.delayed, prometheus.GaugeValue, float64(s.Delayed))
	ch <- prometheus.MustNewConstMetric(q.dead, prometheus.GaugeValue, float64(s.Dead))
}
