package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/reminders"
)

// reminderSettings are the health reminders' settings, a part of settings.
type reminderSettings struct {
	ReminderDays string
	ReminderHour string
}

// reminderDefaults: two days before each date and on the day, at 09:00.
func reminderDefaults() reminderSettings {
	return reminderSettings{ReminderDays: "2,0", ReminderHour: "09:00"}
}

func (r *reminderSettings) reminderOptions() []option {
	return []option{
		{name: "reminder-days", usage: "days before a health visit or vaccine to send its SMS reminder, comma-separated; 0 is the day itself", str: &r.ReminderDays},
		{name: "reminder-hour", usage: "local time of day (in the health service's timezone) reminders are sent at", str: &r.ReminderHour},
	}
}

// reminderService is the name of the flow and of the adapter reminders
// are for.
const reminderService = "health"

// startReminders runs the health reminders over the push side (its Redis,
// consent and outbox) when the gateway sends SMS (an smpp: section) and
// serves a flow and an adapter named health; otherwise it does nothing.
// The scheduler stops before the outbox does.
func (a *app) startReminders(ctx context.Context, s *settings, log *slog.Logger) error {
	sch, err := newReminders(s, a.push.client, a.push.consent, a.push.queue, a.reg, a.flows, log)
	if err != nil || sch == nil {
		return err
	}
	// Phase 3 of the shutdown, before the outbox (see app.shutdown).
	return a.life.Start(ctx, workerPart("health reminders", func(ctx context.Context) error { _ = sch.Run(ctx); return nil }))
}

// newReminders checks the reminder settings and builds the scheduler; nil
// when there is no health flow or adapter.
func newReminders(s *settings, rc redis.UniversalClient, c reminders.Consent, q reminders.Queue,
	reg *adapters.Registry, set func() *flows.Set, log *slog.Logger,
) (*reminders.Scheduler, error) {
	days, err := reminders.ParseDays(s.ReminderDays)
	if err != nil {
		return nil, err
	}
	if _, _, err := reminders.ParseClock(s.ReminderHour); err != nil {
		return nil, err
	}
	f, ok := set().Flow(reminderService)
	if _, has := reg.Lookup(reminderService); !ok || !has {
		log.Info("health reminders off: no health flow and adapter")
		return nil, nil
	}
	sch, err := reminders.New(reminders.Config{
		Redis: rc, Prefix: s.RedisPrefix, Consent: c, Queue: q, Adapters: reg,
		Adapter: reminderService, Service: reminderService,
		Days: days, SendAt: s.ReminderHour, Location: f.Location(),
		// The text of the health service served now: a reload changes it.
		Text: func(lang string, vars map[string]string) (string, bool) {
			if cur, ok := set().Flow(reminderService); ok {
				return cur.Message("reminder", lang, vars)
			}
			return f.Message("reminder", lang, vars)
		},
		Log: log.With("comp", "reminders"),
	})
	if err != nil {
		return nil, fmt.Errorf("health reminders: %w", err)
	}
	log.Info("health reminders on", "days_before", s.ReminderDays, "at", s.ReminderHour, "timezone", f.Location().String())
	return sch, nil
}
