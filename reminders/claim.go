package reminders

import (
	"context"
	"fmt"
	"time"
)

// Claim sends the reminders due now: it claims them in batches until none
// is left and returns how many it enqueued. A member whose subscription or
// registration cannot be read now stays claimed; its lease runs out and it
// is tried again.
func (s *Scheduler) Claim(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.c.Now()
		ms, back, err := s.claim(ctx, now, s.c.Batch)
		if err != nil {
			return total, err
		}
		if back > 0 {
			s.c.Log.Warn("reminders: claims ran out before they were sent (an instance stopped?); due again", "count", back)
		}
		if len(ms) == 0 {
			return total, nil
		}
		// A batch must be settled well within its lease, or another
		// instance takes the same members while this one still works on
		// them (harmless thanks to the IDs, but wasted).
		bctx, cancel := context.WithTimeout(ctx, s.c.Lease/2)
		n, err := s.send(bctx, ms, now)
		cancel()
		total += n
		if err != nil {
			return total, err
		}
		if len(ms) < s.c.Batch {
			return total, nil
		}
	}
}

// send handles claimed members: it drops those of numbers no longer
// subscribed or of items no longer due on that date (the user
// re-registered or removed the registration), skips those superseded by a
// nearer reminder, and enqueues the rest in one all-or-nothing call.
func (s *Scheduler) send(ctx context.Context, raw []string, now time.Time) (int, error) {
	var (
		msgs []message
		done []scored // sent, recorded once enqueued
		skip []scored // superseded, recorded as done without a message
		drop []string
		seen = map[string]bool{}
		subs = map[string]*subscription{}
		list = map[string][]item{}
	)
	for _, r := range raw {
		m, ok := parseMember(r)
		if !ok {
			s.c.Log.Warn("reminders: dropping a malformed entry", "entry_len", len(r))
			drop = append(drop, r)
			continue
		}
		sub, ok := subs[m.msisdn+"|"+m.schedule]
		if !ok {
			var err error
			sub, err = s.subscription(ctx, m.msisdn, m.schedule)
			if err != nil {
				s.warnOnce(seen, "reading subscriptions", err)
				continue
			}
			subs[m.msisdn+"|"+m.schedule] = sub
		}
		if sub == nil {
			drop = append(drop, r) // unsubscribed since it was scheduled
			continue
		}
		k := m.msisdn + "|" + m.schedule
		items, ok := list[k]
		if !ok {
			var err error
			items, err = s.upcoming(ctx, m.msisdn, m.schedule, sub.Lang)
			if err != nil && !notRegistered(err) {
				s.warnOnce(seen, "reading registrations", err, "adapter", s.c.Adapter)
				continue
			}
			list[k] = items
		}
		it, ok := find(items, m)
		date, err := dueDay(m.date, s.c.Location)
		if !ok || err != nil || s.daysLeft(date, now) < 0 {
			drop = append(drop, r) // registration changed or removed, or the date is past
			continue
		}
		forget := date.AddDate(0, 0, 3)
		if s.superseded(date, m.days, now) {
			skip = append(skip, scored{m: m, at: forget})
			continue
		}
		msgs = append(msgs, message{
			ID:       m.id(),
			MSISDN:   m.msisdn,
			Text:     s.text(sub.Lang, it, m.schedule, s.daysLeft(date, now)),
			Service:  s.c.Service,
			Kind:     "reminder",
			Priority: bulk,
			// Past the end of the due day a reminder is no use: the outbox
			// fails it as expired (quiet hours may have deferred it).
			NotAfter: date.AddDate(0, 0, 1),
		})
		done = append(done, scored{m: m, at: forget})
	}
	sent := 0
	if len(msgs) > 0 {
		_, dups, err := s.c.Queue.Enqueue(ctx, msgs...)
		if err != nil {
			// Nothing was queued: keep those claimed for a retry when their
			// lease runs out, but settle the others.
			if ferr := s.finish(ctx, skip, drop); ferr != nil {
				s.c.Log.Warn("reminders: settling claims", "err", ferr)
			}
			return 0, fmt.Errorf("enqueuing %d reminders: %w", len(msgs), err)
		}
		sent = len(msgs) - dups
		if dups > 0 {
			s.c.Log.Info("reminders: already queued (claimed again after a lease ran out)", "count", dups)
		}
	}
	if err := s.finish(ctx, append(done, skip...), drop); err != nil {
		// Enqueued but not recorded: the leases run out and the members are
		// claimed again; the outbox takes their IDs as duplicates.
		return sent, err
	}
	return sent, nil
}

func find(items []item, m member) (item, bool) {
	for _, it := range items {
		if it.id == m.item && it.date == m.date {
			return it, true
		}
	}
	return item{}, false
}

// subscription returns msisdn's subscription to the reminders of
// schedule (the topic, or the topic of that schedule alone), nil if none.
func (s *Scheduler) subscription(ctx context.Context, msisdn, schedule string) (*subscription, error) {
	subs, err := s.c.Consent.Subscriptions(ctx, msisdn)
	if err != nil {
		return nil, fmt.Errorf("reading the subscriptions of %s: %w", mask(msisdn), err)
	}
	for i, sub := range subs {
		if sub.Service != "" && sub.Service != s.c.Service {
			continue
		}
		if sc := sub.Params["schedule"]; sub.Topic == s.c.Topic && (sc == "" || sc == schedule) ||
			sub.Topic == s.c.Topic+":"+schedule {
			return &subs[i], nil
		}
	}
	return nil, nil
}
