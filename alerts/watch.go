package alerts

import (
	"context"
	"time"
)

// Watch feeds the alerts from another source of prices, such as the
// prices adapter's data (which its refresh re-reads from the file or
// URL): every tick it reads the prices and records each one that changed
// since the last read, alerting as Price does. At the first read only
// pairs without a stored price are recorded (a baseline): a restart does
// not alert again, and a price posted through the API is not replaced by
// an older one from the file. Several instances may watch the same data:
// the atomic swap in Price lets one of them alert.
func (a *Alerts) Watch(ctx context.Context, every time.Duration, read func() []Price) error {
	if every <= 0 {
		every = 30 * time.Second
	}
	w := &watcher{a: a, read: read}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type watcher struct {
	a    *Alerts
	read func() []Price
	last map[string]Price // by topic; nil before the first read
}

// step reads the prices once; it returns the runs it started.
func (w *watcher) step(ctx context.Context) []Run {
	prices := w.read()
	if prices == nil {
		return nil // not loaded yet
	}
	first := w.last == nil
	if first {
		w.last = map[string]Price{}
	}
	var runs []Run
	for _, p := range prices {
		p, err := w.a.Normalize(p)
		if err != nil {
			w.a.log.Warn("a price of the data cannot be alerted on", "topic", p.Topic(), "err", err)
			continue
		}
		old, seen := w.last[p.Topic()]
		if seen && old.Price == p.Price {
			continue
		}
		if first {
			n, err := w.a.cfg.Redis.Exists(ctx, w.a.priceKey(p.Commodity, p.Market)).Result()
			if err != nil {
				w.a.log.Error("reading a stored price", "topic", p.Topic(), "err", err)
				continue // retried at the next read
			}
			if n > 0 {
				w.last[p.Topic()] = p
				continue
			}
		}
		run, err := w.a.Price(ctx, p)
		if err != nil {
			w.a.log.Error("alerting a changed price", "topic", p.Topic(), "err", err)
			continue // not remembered: retried at the next read
		}
		w.last[p.Topic()] = p
		runs = append(runs, run)
	}
	return runs
}
