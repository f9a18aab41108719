package reminders

import (
	"context"
	"errors"
	"fmt"

	"github.com/ussdgw/ussdgw/adapters"
)

// item is an upcoming item of a user's schedule, as the health adapter's
// "upcoming" op gives it.
type item struct{ id, name, date string }

// schedules lists the health adapter's schedule ids ("pregnancy", "child").
func (s *Scheduler) schedules(ctx context.Context) ([]string, error) {
	res, err := s.c.Adapters.Call(ctx, s.c.Adapter, adapters.Request{Op: "schedules"})
	if err != nil {
		return nil, fmt.Errorf("listing the %s adapter's schedules: %w", s.c.Adapter, err)
	}
	list, _ := res.([]any)
	var ids []string
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			if id, ok := m["id"].(string); ok && id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the %s adapter lists no schedules", s.c.Adapter)
	}
	return ids, nil
}

// upcoming asks the health adapter for the items of msisdn's schedule due
// today or later, names in lang. An unregistered user is KindNotFound.
func (s *Scheduler) upcoming(ctx context.Context, msisdn, schedule, lang string) ([]item, error) {
	p := map[string]string{"msisdn": msisdn, "schedule": schedule}
	if lang != "" {
		p["lang"] = lang
	}
	res, err := s.c.Adapters.Call(ctx, s.c.Adapter, adapters.Request{Op: "upcoming", Params: p})
	if err != nil {
		return nil, err
	}
	list, _ := res.([]any)
	out := make([]item, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["id"].(string)
		name, _ := m["name"].(string)
		date, _ := m["date"].(string)
		if id == "" || date == "" {
			continue
		}
		out = append(out, item{id: id, name: name, date: date})
	}
	return out, nil
}

// notRegistered reports whether err means the user has no registration
// for the schedule (or the schedule does not exist): nothing to remind.
func notRegistered(err error) bool {
	k := adapters.KindOf(err)
	return k == adapters.KindNotFound || k == adapters.KindInvalid
}

// Sync adds the reminders of every subscriber that are not scheduled yet
// and returns how many it added. It is idempotent: members are keys, and
// one sent (or being sent) is not added again. A subscriber whose
// registration cannot be read is skipped this time and counted in the
// error; the others are synced.
func (s *Scheduler) Sync(ctx context.Context) (int, error) {
	now := s.c.Now()
	if err := s.c.Redis.ZRemRangeByScore(ctx, s.done, "-inf", unix(now)).Err(); err != nil {
		return 0, fmt.Errorf("forgetting old reminders: %w", err)
	}
	all, err := s.schedules(ctx)
	if err != nil {
		return 0, err
	}
	added, failed := 0, 0
	var firstErr error
	// The topic itself covers every schedule the user registered; a topic
	// "<topic>:<schedule>" (health:reminders:child) only that schedule.
	topics := []string{s.c.Topic}
	for _, sc := range all {
		topics = append(topics, s.c.Topic+":"+sc)
	}
	for i, topic := range topics {
		err = s.c.Consent.Subscribers(ctx, topic, func(msisdn string, sub subscription) error {
			if sub.Service != "" && sub.Service != s.c.Service {
				return nil
			}
			list := all
			if i > 0 {
				list = all[i-1 : i]
			}
			n, err := s.syncUser(ctx, msisdn, sub, list)
			added += n
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed++
				if firstErr == nil {
					firstErr = fmt.Errorf("user %s: %w", mask(msisdn), err)
				}
			}
			return nil
		})
		if err != nil {
			break
		}
	}
	if added > 0 {
		s.Wake()
	}
	if err != nil {
		return added, fmt.Errorf("reading the subscribers of %s: %w", s.c.Topic, err)
	}
	if failed > 0 {
		return added, fmt.Errorf("%d subscriber(s) not synced, first: %w", failed, firstErr)
	}
	return added, nil
}

// syncUser schedules one subscriber's reminders for the schedules of list
// the user is registered for. A subscription may also name its schedule
// (param "schedule").
func (s *Scheduler) syncUser(ctx context.Context, msisdn string, sub subscription, list []string) (int, error) {
	now := s.c.Now()
	if sc := sub.Params["schedule"]; sc != "" {
		list = []string{sc}
	}
	var ms []scored
	var errs []error
	for _, sc := range list {
		items, err := s.upcoming(ctx, msisdn, sc, sub.Lang)
		if notRegistered(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the %s schedule: %w", sc, err))
			continue
		}
		for _, it := range items {
			date, err := dueDay(it.date, s.c.Location)
			if err != nil || s.daysLeft(date, now) < 0 {
				continue
			}
			for _, d := range s.c.Days {
				at := s.sendAt(date, d)
				if s.superseded(date, d, now) || at.After(now.Add(s.c.Horizon)) {
					continue
				}
				m := member{msisdn: msisdn, schedule: sc, item: it.id, date: it.date, days: d}
				ms = append(ms, scored{m: m, at: at})
			}
		}
	}
	n, err := s.add(ctx, ms)
	if err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
