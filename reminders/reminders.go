// Package reminders sends health reminders by SMS: a few days before each
// due item (antenatal contact, vaccination) of a registration made in the
// health flow, to the numbers subscribed to the reminders topic. It sits
// beside the transports: it may import the stores, the adapters and the
// codecs, and nothing below the transports may import it.
//
// Due times live in Redis, so that any number of gateway instances share
// them and none is lost when one stops:
//
//   - a sync pass (at start and every few minutes) asks the health adapter
//     for each subscriber's upcoming items and adds the missing reminders of
//     the next days to a sorted set scored by send time; a member is
//     "msisdn|schedule|item|date|days_before", so adding is idempotent;
//   - a claim loop takes the due members atomically (one Lua script) into an
//     in-progress set with a lease deadline, so two instances never hold the
//     same one; for each it checks the subscription and the item again and
//     enqueues a Bulk SMS in the outbox with an ID derived from the member,
//     then records it as done;
//   - a lease that runs out (the instance died between claim and enqueue)
//     puts its members back in the due set for any instance to take. A
//     member enqueued twice that way is one message: the outbox ignores a
//     second Enqueue of an ID.
//
// Consent (STOP) is checked again by the outbox at send time for Bulk
// messages; quiet hours and the daily cap are the outbox's too.
//
// This package talks to the adapters through their contract (package
// adapters), and to consent and the outbox through small interfaces over
// their types (both leaf packages); it must not import flows, ussd or the
// transports: cmd/ussdgw wires it to them.
package reminders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/msisdn"
)

// Config is the scheduler's configuration. Redis, Consent, Queue and
// Adapters are required.
type Config struct {
	Redis    redis.UniversalClient
	Prefix   string // key prefix, e.g. "ussdgw:"
	Consent  Consent
	Queue    Queue
	Adapters Caller

	Adapter string // the health adapter's name; default "health"
	Service string // the flow id messages are sent for; default "health"
	Topic   string // the consent topic; default "health:reminders"

	// Days are the days before a due date to remind on, 0 being the day
	// itself. Default [2, 0]: two days before, and on the day.
	Days []int
	// SendAt is the local time of day reminders go out, "09:00" (the
	// default) or "9"; "00:00" is midnight.
	SendAt string
	// Location is the service's time zone; nil is UTC.
	Location *time.Location
	// Text renders the service's "reminder" message in lang with vars
	// item, date, days, when and schedule; nil or false uses the built-in
	// text (English, French, Swahili).
	Text func(lang string, vars map[string]string) (string, bool)

	SyncEvery time.Duration // default 5m
	// Horizon is how far ahead a sync schedules: a reminder due later is
	// added by a later sync, which keeps the due set to about a week of
	// reminders whatever the number of subscribers. Default 8 days.
	Horizon time.Duration
	Tick    time.Duration // claim at least this often; default 30s
	Lease   time.Duration // how long a claim is held; default 2m
	Batch   int           // members claimed at once; default 200

	Now func() time.Time
	Log *slog.Logger
}

// Scheduler schedules and sends the reminders. Its methods are safe for
// concurrent use, and any number of Schedulers (in one process or many)
// may share a Redis.
type Scheduler struct {
	c                      Config
	hour, min              int // of SendAt
	due, lease, done, lock string
	wake                   chan struct{}
}

// New checks c, fills in its defaults and returns a Scheduler.
func New(c Config) (*Scheduler, error) {
	var errs []error
	if c.Redis == nil {
		errs = append(errs, errors.New("reminders: Redis is required"))
	}
	if c.Consent == nil {
		errs = append(errs, errors.New("reminders: Consent is required"))
	}
	if c.Queue == nil {
		errs = append(errs, errors.New("reminders: Queue is required"))
	}
	if c.Adapters == nil {
		errs = append(errs, errors.New("reminders: Adapters is required"))
	}
	if c.Days == nil {
		c.Days = []int{2, 0}
	}
	if err := checkDays(c.Days); err != nil {
		errs = append(errs, err)
	}
	if c.SendAt == "" {
		c.SendAt = "09:00"
	}
	hour, minute, err := ParseClock(c.SendAt)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.Days = slices.Clone(c.Days)
	slices.SortFunc(c.Days, func(a, b int) int { return b - a }) // largest first
	if c.Adapter == "" {
		c.Adapter = "health"
	}
	if c.Service == "" {
		c.Service = "health"
	}
	if c.Topic == "" {
		c.Topic = "health:reminders"
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.SyncEvery <= 0 {
		c.SyncEvery = 5 * time.Minute
	}
	if c.Horizon <= 0 {
		c.Horizon = 8 * 24 * time.Hour
	}
	if c.Tick <= 0 {
		c.Tick = 30 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	// One hash tag: the scripts touch these keys together, so they must
	// share a Redis Cluster slot.
	base := c.Prefix + "reminders:{" + c.Service + "}:"
	return &Scheduler{
		c:     c,
		hour:  hour,
		min:   minute,
		due:   base + "due",
		lease: base + "lease",
		done:  base + "done",
		lock:  base + "sync-lock",
		wake:  make(chan struct{}, 1),
	}, nil
}

func checkDays(days []int) error {
	if len(days) == 0 {
		return errors.New("reminders: no reminder days given")
	}
	seen := map[int]bool{}
	for _, d := range days {
		if d < 0 || d > 60 {
			return fmt.Errorf("reminders: %d days before is out of range (0 to 60)", d)
		}
		if seen[d] {
			return fmt.Errorf("reminders: %d days before is given twice", d)
		}
		seen[d] = true
	}
	return nil
}

// ParseDays reads a -reminder-days setting: days before the due date,
// separated by commas, 0 being the day itself ("2,0").
func ParseDays(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("reminder days %q: %q is not a number of days", s, f)
		}
		out = append(out, n)
	}
	if err := checkDays(out); err != nil {
		return nil, fmt.Errorf("reminder days %q: %w", s, err)
	}
	return out, nil
}

// ParseClock reads a local time of day, as SendAt and the -reminder-hour
// setting take it: "9", "09" or "09:30".
func ParseClock(s string) (hour, minute int, err error) {
	h, m, hasMin := strings.Cut(strings.TrimSpace(s), ":")
	hour, err1 := strconv.Atoi(h)
	if hasMin {
		minute, err = strconv.Atoi(m)
	}
	if err1 != nil || err != nil || hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return 0, 0, fmt.Errorf("reminders: send time %q: want a time of day like 09:00", s)
	}
	return hour, minute, nil
}

// Wake makes the claim loop look at the due set now.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run syncs and claims until ctx ends. It returns nil when ctx ends;
// errors of a pass are logged and the pass is retried at its next turn.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.syncLoop(ctx) })
	s.claimLoop(ctx)
	wg.Wait()
	return nil
}

func (s *Scheduler) syncLoop(ctx context.Context) {
	t := time.NewTicker(s.c.SyncEvery)
	defer t.Stop()
	for {
		// One instance syncs per interval; the others would only repeat its
		// work (adding is idempotent, so a lost lock costs nothing but time).
		ok, err := s.c.Redis.SetNX(ctx, s.lock, "1", s.c.SyncEvery*9/10).Result()
		switch {
		case err != nil && ctx.Err() == nil:
			s.c.Log.Warn("reminders: sync lock", "err", err)
		case ok:
			if n, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.c.Log.Warn("reminders: sync", "added", n, "err", err)
			} else if n > 0 {
				s.c.Log.Info("reminders: scheduled", "added", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Scheduler) claimLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
		if _, err := s.Claim(ctx); err != nil && ctx.Err() == nil {
			s.c.Log.Warn("reminders: claiming", "err", err)
		}
		timer.Reset(s.nextWake(ctx))
	}
}

// nextWake is how long until the earliest due member or lease deadline,
// at most Tick.
func (s *Scheduler) nextWake(ctx context.Context) time.Duration {
	wait := s.c.Tick
	now := s.c.Now()
	for _, key := range []string{s.due, s.lease} {
		zs, err := s.c.Redis.ZRangeWithScores(ctx, key, 0, 0).Result()
		if err != nil || len(zs) == 0 {
			continue
		}
		at := time.Unix(int64(zs[0].Score), 0)
		wait = min(wait, max(at.Sub(now), 10*time.Millisecond))
	}
	return wait
}

// member is one reminder: an item of a user's schedule, due on date,
// sent days before it.
type member struct {
	msisdn, schedule, item, date string
	days                         int
}

func (m member) String() string {
	return m.msisdn + "|" + m.schedule + "|" + m.item + "|" + m.date + "|" + strconv.Itoa(m.days)
}

func parseMember(s string) (member, bool) {
	f := strings.Split(s, "|")
	if len(f) != 5 {
		return member{}, false
	}
	d, err := strconv.Atoi(f[4])
	if err != nil || f[0] == "" || f[1] == "" || f[2] == "" {
		return member{}, false
	}
	if _, err := time.Parse(time.DateOnly, f[3]); err != nil {
		return member{}, false
	}
	return member{msisdn: f[0], schedule: f[1], item: f[2], date: f[3], days: d}, true
}

// id is the outbox idempotency key of a member.
func (m member) id() string {
	sum := sha256.Sum256([]byte(m.String()))
	return "reminder-" + hex.EncodeToString(sum[:16])
}

// ID is the outbox message ID of the reminder of item (of msisdn's
// schedule) due on date (2026-12-03), sent daysBefore it: with it the
// outbox's Status tells what became of that reminder.
func ID(msisdn, schedule, item, date string, daysBefore int) string {
	return member{msisdn: msisdn, schedule: schedule, item: item, date: date, days: daysBefore}.id()
}

// dueDay is the item's date at 00:00 in loc.
func dueDay(date string, loc *time.Location) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, date, loc)
}

// sendAt is when the reminder days before date goes out.
func (s *Scheduler) sendAt(date time.Time, days int) time.Time {
	y, mo, d := date.Date()
	return time.Date(y, mo, d-days, s.hour, s.min, 0, 0, s.c.Location)
}

// superseded reports whether a reminder days before date is not worth
// sending at now: when the day of a nearer reminder of the same item
// (fewer days before) has come, that one goes out (or went out) instead.
// After an outage, or for a subscription made late, the user gets one
// reminder, the nearest, rather than two on the same day.
func (s *Scheduler) superseded(date time.Time, days int, now time.Time) bool {
	left := s.daysLeft(date, now)
	for _, d := range s.c.Days {
		if d < days && d >= left {
			return true
		}
	}
	return false
}

// daysLeft is the number of calendar days from now's date to date, in loc.
func (s *Scheduler) daysLeft(date time.Time, now time.Time) int {
	y, mo, d := now.In(s.c.Location).Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	y, mo, d = date.Date()
	return int(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Sub(today) / (24 * time.Hour))
}

// mask hides all but the last 3 digits of a number, for logs.
func mask(m string) string { return msisdn.Mask(m) }

// warnOnce logs a failing dependency once per pass, not once per user.
func (s *Scheduler) warnOnce(seen map[string]bool, what string, err error, attrs ...any) {
	if seen[what] {
		return
	}
	seen[what] = true
	s.c.Log.Warn("reminders: "+what, append(attrs, "err", err)...)
}
