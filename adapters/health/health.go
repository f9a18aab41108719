// Package health is the health-reminders adapter (kind "health"): care
// schedules as data (antenatal contacts by gestational week, child
// immunisations by age in weeks), the registration of a pregnancy's due
// date (or last period) or a child's birth date per MSISDN, and the next
// due item with its date. It must not import flows, ussd or a transport:
// flows call it, not the other way round.
//
// Schedules come from a document (see Doc and
// flows-examples/data/health.yaml) read from a file or fetched from a
// back-end URL. Registrations are kept in the gateway's KV store under
// "health:{<msisdn>}:<schedule>". Names are localized by the "lang" param.
// See adapters/README.md for each op.
package health

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the tz setting must work on hosts without zoneinfo

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
)

// Config is the configuration of a health instance.
type Config struct {
	source.Config `yaml:",inline"`
	// TZ is the time zone that decides what "today" is. Default UTC.
	TZ string `yaml:"tz"`
	// Keep is how long a registration is kept after its schedule's last
	// item. Default 8 weeks (1344h).
	Keep time.Duration `yaml:"keep"`
}

func defaults() *Config { return &Config{TZ: "UTC", Keep: 8 * 7 * 24 * time.Hour} }

// Kind returns the factory of the "health" kind. It needs Deps.KV.
func Kind() adapters.Factory {
	return adapters.Define(defaults, func(c *Config, in adapters.Instance) (adapters.Adapter, error) {
		return New(*c, in)
	})
}

// Doc is the data document.
type Doc struct {
	Langs     []string   `yaml:"langs" json:"langs"`
	Schedules []Schedule `yaml:"schedules" json:"schedules"`
}

// Schedule is a list of items due some weeks after an anchor date.
type Schedule struct {
	ID   string    `yaml:"id" json:"id"`
	Name i18n.Text `yaml:"name" json:"name"`
	// Anchor is what week 0 is: "lmp" (the last menstrual period; a
	// registration may give the due date, 40 weeks later, instead) or
	// "birth".
	Anchor string `yaml:"anchor" json:"anchor"`
	Items  []Item `yaml:"items" json:"items"`
}

// Item is one visit or vaccination.
type Item struct {
	ID   string    `yaml:"id" json:"id"`
	Week int       `yaml:"week" json:"week"`
	Name i18n.Text `yaml:"name" json:"name"`
}

type data struct {
	langs     []string
	schedules []*schedule
	schedule  map[string]*schedule
}

type schedule struct {
	id     string
	anchor string
	name   i18n.Text
	items  []item
	list   map[string][]any          // lang → [{id, name, week}]
	info   map[string]map[string]any // lang → {id, name, items}
	weeks  int                       // the last item's week
}

type item struct {
	id   string
	week int
	name map[string]string // lang → name
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Load decodes and checks a health document.
func Load(name string, raw []byte, remote bool) (*data, error) {
	doc, ix, err := source.Decode[Doc](name, raw, remote)
	if err != nil {
		return nil, err
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, ix.Problem(path, fmt.Sprintf(format, args...)))
	}
	if err := i18n.CheckLangs(doc.Langs); err != nil {
		bad("langs", "%v", err)
		return nil, errors.Join(errs...)
	}
	def := doc.Langs[0]
	d := &data{langs: doc.Langs, schedule: map[string]*schedule{}}
	for i, s := range doc.Schedules {
		p := yamlx.Item("schedules", i)
		if !idRE.MatchString(s.ID) {
			bad(yamlx.Join(p, "id"), "want a lower-case identifier, got %q", s.ID)
		} else if d.schedule[s.ID] != nil {
			bad(yamlx.Join(p, "id"), "schedule %q is defined twice", s.ID)
		}
		if err := s.Name.Check(doc.Langs); err != nil {
			bad(yamlx.Join(p, "name"), "%v", err)
		}
		if s.Anchor != "lmp" && s.Anchor != "birth" {
			bad(yamlx.Join(p, "anchor"), "want lmp or birth, got %q", s.Anchor)
		}
		if len(s.Items) == 0 {
			bad(yamlx.Join(p, "items"), "required")
		}
		sc := &schedule{id: s.ID, anchor: s.Anchor, name: s.Name, list: map[string][]any{}, info: map[string]map[string]any{}}
		seen := map[string]bool{}
		for j, it := range s.Items {
			q := yamlx.Item(yamlx.Join(p, "items"), j)
			if !idRE.MatchString(it.ID) || seen[it.ID] {
				bad(yamlx.Join(q, "id"), "want a lower-case identifier not used before in the schedule, got %q", it.ID)
			}
			seen[it.ID] = true
			if it.Week < 0 || it.Week > 520 {
				bad(yamlx.Join(q, "week"), "want 0 to 520")
			}
			if j > 0 && it.Week < s.Items[j-1].Week {
				bad(yamlx.Join(q, "week"), "items must be in the order they fall due")
			}
			if err := it.Name.Check(doc.Langs); err != nil {
				bad(yamlx.Join(q, "name"), "%v", err)
			}
			x := item{id: it.ID, week: it.Week, name: map[string]string{}}
			for _, l := range doc.Langs {
				x.name[l] = it.Name.In(l, def)
			}
			sc.items = append(sc.items, x)
			sc.weeks = max(sc.weeks, it.Week)
		}
		for _, l := range doc.Langs {
			sc.info[l] = map[string]any{"id": sc.id, "name": s.Name.In(l, def), "items": len(sc.items)}
			for _, it := range sc.items {
				sc.list[l] = append(sc.list[l], map[string]any{"id": it.id, "name": it.name[l], "week": it.week})
			}
		}
		d.schedules = append(d.schedules, sc)
		d.schedule[s.ID] = sc
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// Adapter answers schedule questions and keeps registrations. It is safe
// for concurrent use.
type Adapter struct {
	source.Served[data]
	kv   adapters.KV
	loc  *time.Location
	keep time.Duration
	now  func() time.Time
}

var (
	_ adapters.Adapter   = (*Adapter)(nil)
	_ adapters.Starter   = (*Adapter)(nil)
	_ adapters.Stopper   = (*Adapter)(nil)
	_ adapters.Describer = (*Adapter)(nil)
)

// New returns a health adapter; a data file is read and checked now.
func New(c Config, in adapters.Instance) (*Adapter, error) {
	in.Deps = in.Deps.WithDefaults()
	var errs []error
	loc, err := time.LoadLocation(c.TZ)
	if err != nil {
		errs = append(errs, adapters.FieldErrorf("tz", "unknown time zone %q", c.TZ))
	}
	if c.Keep < 0 {
		errs = append(errs, adapters.FieldErrorf("keep", "must not be negative"))
	}
	if in.KV == nil {
		errs = append(errs, errors.New("needs the gateway's store for registrations, and none was given"))
	}
	src, err := source.New(c.Config, in, Load)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newAdapter(src, in.KV, loc, c.Keep, in.Now), nil
}

func newAdapter(src *source.Source[data], kv adapters.KV, loc *time.Location, keep time.Duration, now func() time.Time) *Adapter {
	a := &Adapter{Served: source.Served[data]{Src: src}, kv: kv, loc: loc, keep: keep, now: now}
	user := []string{"msisdn", "schedule"}
	a.Table = opset.New(
		opset.Op{OpSpec: adapters.OpSpec{Name: "schedules", Optional: []string{"lang"}}, Fn: a.schedules},
		opset.Op{OpSpec: adapters.OpSpec{Name: "schedule", Required: []string{"schedule"}, Optional: []string{"lang"}}, Fn: a.scheduleItems},
		opset.Op{OpSpec: adapters.OpSpec{Name: "register", Required: []string{"msisdn", "schedule", "date"}, Optional: []string{"date_is", "lang"}}, Fn: a.register},
		opset.Op{OpSpec: adapters.OpSpec{Name: "status", Required: user, Optional: []string{"lang"}}, Fn: a.status},
		opset.Op{OpSpec: adapters.OpSpec{Name: "next", Required: user, Optional: []string{"lang"}}, Fn: a.next},
		opset.Op{OpSpec: adapters.OpSpec{Name: "upcoming", Required: user, Optional: []string{"limit", "lang"}}, Fn: a.upcoming},
		opset.Op{OpSpec: adapters.OpSpec{Name: "unregister", Required: user}, Fn: a.unregister},
	)
	return a
}

func (a *Adapter) data(p map[string]string) (*data, string, error) {
	d := a.Src.Current()
	if d == nil {
		return nil, "", source.NotLoaded
	}
	return d, i18n.Pick(p["lang"], d.langs), nil
}

func (d *data) lookup(id string) (*schedule, error) {
	if s, ok := d.schedule[id]; ok {
		return s, nil
	}
	return nil, opset.NotFound("no schedule %q", id)
}

// today is the current civil date in the configured zone, at 00:00 UTC so
// that adding days never meets a DST change.
func (a *Adapter) today() time.Time {
	y, m, dd := a.now().In(a.loc).Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

var dateLayouts = []string{"2006-01-02", "2/1/2006", "2-1-2006", "2.1.2006", "02012006", "2006/1/2"}

// parseDate reads a date as people type it on a phone: 2026-11-20,
// 20/11/2026, 20-11-2026, 20.11.2026 or 20112026 (day first).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

const day = 24 * time.Hour

// A registration is stored as "1 <anchor> <given>": the format version,
// the schedule's week 0 (the LMP or the birth, as 2026-05-25), and what
// the user gave ("due", "lmp" or "birth").
func encodeRecord(anchor time.Time, given string) []byte {
	return []byte("1 " + anchor.Format(time.DateOnly) + " " + given)
}

func decodeRecord(b []byte) (time.Time, string, error) {
	v, rest, _ := strings.Cut(string(b), " ")
	date, given, _ := strings.Cut(rest, " ")
	if v != "1" || given == "" {
		return time.Time{}, "", errors.New("unknown record format")
	}
	anchor, err := time.Parse(time.DateOnly, date)
	return anchor, given, err
}

func key(msisdn, sched string) string { return "health:{" + msisdn + "}:" + sched }

func (a *Adapter) schedules(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(d.schedules))
	for i, s := range d.schedules {
		out[i] = s.info[lang]
	}
	return out, nil
}

func (a *Adapter) scheduleItems(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	s, err := d.lookup(p["schedule"])
	if err != nil {
		return nil, err
	}
	return s.list[lang], nil
}

func (a *Adapter) register(ctx context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	msisdn, err := opset.MSISDN(p)
	if err != nil {
		return nil, err
	}
	s, err := d.lookup(p["schedule"])
	if err != nil {
		return nil, err
	}
	date, ok := parseDate(p["date"])
	if !ok {
		return nil, opset.Invalid("date", "want a date like 20/11/2026")
	}
	given := p["date_is"]
	if given == "" {
		given = map[string]string{"lmp": "due", "birth": "birth"}[s.anchor]
	}
	today := a.today()
	var anchor time.Time
	switch {
	case s.anchor == "birth" && given == "birth":
		if date.After(today) {
			return nil, opset.Invalid("date", "a birth date cannot be in the future")
		}
		if date.Before(today.AddDate(-5, 0, 0)) {
			return nil, opset.Invalid("date", "more than 5 years ago")
		}
		anchor = date
	case s.anchor == "lmp" && given == "due":
		if date.After(today.Add(42 * 7 * day)) {
			return nil, opset.Invalid("date", "a due date is at most 42 weeks away")
		}
		if date.Before(today.Add(-2 * 7 * day)) {
			return nil, opset.Invalid("date", "a due date more than 2 weeks ago")
		}
		anchor = date.Add(-280 * day)
	case s.anchor == "lmp" && given == "lmp":
		if date.After(today) {
			return nil, opset.Invalid("date", "a last period cannot be in the future")
		}
		if date.Before(today.Add(-42 * 7 * day)) {
			return nil, opset.Invalid("date", "a last period more than 42 weeks ago")
		}
		anchor = date
	default:
		return nil, opset.Invalid("date_is", "the %s schedule takes %s", s.id, map[string]string{"lmp": "due or lmp", "birth": "birth"}[s.anchor])
	}
	rec := encodeRecord(anchor, given)
	end := anchor.Add(time.Duration(s.weeks)*7*day + a.keep)
	ttl := max(end.Sub(today), day)
	if err := a.kv.Set(ctx, key(msisdn, s.id), rec, ttl); err != nil {
		return nil, opset.StoreErr(ctx, "saving registration", err, msisdn)
	}
	return a.statusOf(s, anchor, given, lang, today), nil
}

// load returns the user's anchor date for s, or KindNotFound.
func (a *Adapter) load(ctx context.Context, p map[string]string) (*schedule, time.Time, string, string, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, time.Time{}, "", "", err
	}
	msisdn, err := opset.MSISDN(p)
	if err != nil {
		return nil, time.Time{}, "", "", err
	}
	s, err := d.lookup(p["schedule"])
	if err != nil {
		return nil, time.Time{}, "", "", err
	}
	vals, err := a.kv.Get(ctx, key(msisdn, s.id))
	if err != nil {
		return nil, time.Time{}, "", "", opset.StoreErr(ctx, "reading registration", err, msisdn)
	}
	if len(vals) == 0 || vals[0] == nil {
		return nil, time.Time{}, "", "", opset.NotFound("not registered for %s", s.id)
	}
	anchor, given, err := decodeRecord(vals[0])
	if err != nil {
		return nil, time.Time{}, "", "", &adapters.Error{Kind: adapters.KindUnavailable, Msg: "reading registration", Err: err}
	}
	return s, anchor, given, lang, nil
}

// statusOf is the registration as a result: the schedule, the date the
// user gave, the current week, and the next item if any is left.
func (a *Adapter) statusOf(s *schedule, anchor time.Time, given, lang string, today time.Time) map[string]any {
	date := anchor
	if given == "due" {
		date = anchor.Add(280 * day)
	}
	out := map[string]any{
		"schedule": s.id,
		"name":     s.info[lang]["name"],
		"date":     date.Format(time.DateOnly),
		"date_is":  given,
		"week":     int(today.Sub(anchor) / (7 * day)),
		"done":     true,
	}
	if it, due, ok := s.nextAfter(anchor, today); ok {
		out["done"] = false
		out["next_id"] = it.id
		out["next"] = it.name[lang]
		out["next_date"] = due.Format(time.DateOnly)
		out["next_days"] = int(due.Sub(today) / day)
	}
	return out
}

// nextAfter returns the first item due on or after today.
func (s *schedule) nextAfter(anchor, today time.Time) (item, time.Time, bool) {
	for _, it := range s.items {
		due := anchor.Add(time.Duration(it.week) * 7 * day)
		if !due.Before(today) {
			return it, due, true
		}
	}
	return item{}, time.Time{}, false
}

func (a *Adapter) status(ctx context.Context, p map[string]string) (adapters.Result, error) {
	s, anchor, given, lang, err := a.load(ctx, p)
	if err != nil {
		return nil, err
	}
	return a.statusOf(s, anchor, given, lang, a.today()), nil
}

func (a *Adapter) next(ctx context.Context, p map[string]string) (adapters.Result, error) {
	s, anchor, _, lang, err := a.load(ctx, p)
	if err != nil {
		return nil, err
	}
	today := a.today()
	it, due, ok := s.nextAfter(anchor, today)
	if !ok {
		return nil, opset.NotFound("the %s schedule is complete", s.id)
	}
	return map[string]any{
		"schedule": s.id,
		"id":       it.id,
		"name":     it.name[lang],
		"date":     due.Format(time.DateOnly),
		"days":     int(due.Sub(today) / day),
		"week":     it.week,
		"now_week": int(today.Sub(anchor) / (7 * day)),
	}, nil
}

func (a *Adapter) upcoming(ctx context.Context, p map[string]string) (adapters.Result, error) {
	limit := 20
	if l := p["limit"]; l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 20 {
			return nil, opset.Invalid("limit", "want a number from 1 to 20")
		}
		limit = n
	}
	s, anchor, _, lang, err := a.load(ctx, p)
	if err != nil {
		return nil, err
	}
	today := a.today()
	out := []any{}
	for _, it := range s.items {
		due := anchor.Add(time.Duration(it.week) * 7 * day)
		if due.Before(today) || len(out) == limit {
			continue
		}
		out = append(out, map[string]any{"id": it.id, "name": it.name[lang], "date": due.Format(time.DateOnly), "week": it.week})
	}
	return out, nil
}

func (a *Adapter) unregister(ctx context.Context, p map[string]string) (adapters.Result, error) {
	s, _, _, _, err := a.load(ctx, p)
	if err != nil {
		return nil, err
	}
	msisdn, _ := opset.MSISDN(p)
	if err := a.kv.Set(ctx, key(msisdn, s.id), nil, 0); err != nil {
		return nil, opset.StoreErr(ctx, "removing registration", err, msisdn)
	}
	return map[string]any{"schedule": s.id, "removed": true}, nil
}
