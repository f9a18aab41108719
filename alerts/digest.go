package alerts

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
)

// Run sends the daily digests until ctx ends: every tick it looks for the
// services whose digest time has come in their time zone and sends each
// one's digest once a day.
func (a *Alerts) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// catchUp is how late after its time a digest still goes out (an
// instance restarted at 07:20 sends the 07:00 digest; at 11:00 it does
// not, the day's news are stale).
const catchUp = 2 * time.Hour

// Tick sends the digests that are due now and not yet claimed. A digest
// is claimed per service and local day with SET NX, so of several
// instances one sends it; when sending fails the claim is released and the
// next tick tries again (message ids are per service, day and number, so
// the outbox drops what the failed try had queued already).
func (a *Alerts) Tick(ctx context.Context) {
	set := a.cfg.Flows()
	if set == nil {
		return
	}
	now := a.cfg.Now()
	for _, f := range set.Flows() {
		h, m, ok := f.DigestAt()
		if !ok {
			continue
		}
		local := now.In(f.Location())
		due := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, local.Location())
		if local.Before(due) || local.Sub(due) > catchUp {
			continue
		}
		day := local.Format(time.DateOnly)
		claim := a.cfg.Prefix + "alerts:digest:" + f.ID + ":" + day
		won, err := a.cfg.Redis.SetNX(ctx, claim, a.cfg.Now().UTC().Format(time.RFC3339), 48*time.Hour).Result()
		if err != nil {
			a.log.Error("claiming the daily digest", "service", f.ID, "err", err)
			continue
		}
		if !won {
			continue
		}
		run, err := a.Digest(ctx, f.ID, day)
		if err != nil {
			a.log.Error("sending the daily digest", "service", f.ID, "err", err)
			if err := a.cfg.Redis.Del(context.WithoutCancel(ctx), claim).Err(); err != nil {
				a.log.Error("releasing the daily digest claim", "service", f.ID, "err", err)
			}
			continue
		}
		a.log.Info("daily digest", "service", f.ID, "day", day, "subscribers", run.Matched, "queued", run.Queued, "dups", run.Dups)
	}
}

type digestEntry struct {
	lang  string
	items []digestItem
}

type digestItem struct {
	p      Price
	label  string
	change string // "+5.0%", "" without a previous price
}

// Digest sends service's digest of day (YYYY-MM-DD, for the group and
// message ids) now: to every subscriber of a price topic of the service
// with the param digest=yes, one SMS listing the prices of their topics
// updated in the last 24 hours. Numbers whose topics had no new price get
// nothing. It holds one entry per digest subscriber in memory.
func (a *Alerts) Digest(ctx context.Context, service, day string) (Run, error) {
	run := Run{ID: "digest:" + service + ":" + day}
	pairs, err := a.cfg.Redis.SMembers(ctx, a.pairsKey()).Result()
	if err != nil {
		return run, fmt.Errorf("listing prices: %w", err)
	}
	sort.Strings(pairs)
	since := a.cfg.Now().Add(-24 * time.Hour)
	entries := map[string]*digestEntry{}
	for _, pair := range pairs {
		c, m, _ := strings.Cut(pair, ":")
		rec, err := a.cfg.Redis.HGetAll(ctx, a.priceKey(c, m)).Result()
		if err != nil {
			return run, fmt.Errorf("reading the price of %s: %w", pair, err)
		}
		at, _ := time.Parse(time.RFC3339, rec["at"])
		if at.Before(since) {
			continue
		}
		p := Price{Commodity: c, Market: m, Currency: rec["currency"], Unit: rec["unit"], Date: rec["date"]}
		p.Price, _ = strconv.ParseFloat(rec["price"], 64)
		change := ""
		if prev, err := strconv.ParseFloat(rec["prev"], 64); err == nil && prev > 0 {
			change = fmtChange(roundPct((p.Price - prev) / prev * 100))
		}
		err = a.cfg.Consent.Subscribers(ctx, p.Topic(), func(msisdn string, s Subscription) error {
			if s.Service != service || !strings.EqualFold(s.Params["digest"], "yes") {
				return nil
			}
			e := entries[msisdn]
			if e == nil {
				e = &digestEntry{lang: s.Lang}
				entries[msisdn] = e
			}
			e.items = append(e.items, digestItem{p: p, label: label(s, p), change: change})
			return nil
		})
		if err != nil {
			return run, fmt.Errorf("reading the subscribers of %s: %w", p.Topic(), err)
		}
	}
	set := a.cfg.Flows()
	names := a.namer()
	numbers := make([]string, 0, len(entries))
	for n := range entries {
		numbers = append(numbers, n)
	}
	sort.Strings(numbers)
	b := a.batcher(ctx, &run)
	for _, n := range numbers {
		e := entries[n]
		run.Matched++
		text, ok := digestText(ctx, set, names, service, e)
		if !ok {
			run.Skipped++
			continue
		}
		if err := b.add(Message{ID: run.ID + ":" + n, MSISDN: n, Text: text, Service: service,
			Kind: "digest", Priority: Bulk, Group: run.ID}); err != nil {
			return run, fmt.Errorf("queueing the digest: %w", err)
		}
	}
	if err := b.flush(); err != nil {
		return run, fmt.Errorf("queueing the digest: %w", err)
	}
	return run, nil
}

// digestText renders the service's digest message for the first topic;
// the others follow in short ("; Beans at Kisumu KES 8400 (+5.0%)"), as
// many as fit in three SMS, then how many were left out.
func digestText(ctx context.Context, set *flows.Set, names *namer, service string, e *digestEntry) (string, bool) {
	first := e.items[0]
	vars := names.vars(ctx, first.p, e.lang)
	vars["change"], vars["label"] = first.change, first.label
	if first.change == "" {
		vars["change"] = "-"
	}
	head, ok := render(set, service, "digest", e.lang, vars)
	if !ok {
		return "", false
	}
	var rest []string
	for _, it := range e.items[1:] {
		line := strings.TrimSpace(it.label + " " + it.p.Currency + " " + fmtNum(it.p.Price))
		if it.change != "" {
			line += " (" + it.change + ")"
		}
		rest = append(rest, line)
	}
	for n := len(rest); n >= 0; n-- {
		text := head
		if n > 0 {
			text += " " + strings.Join(rest[:n], "; ")
		}
		if n < len(rest) {
			text += fmt.Sprintf(" +%d", len(rest)-n)
		}
		if l := gsm.Measure(text); (l.UCS2 && l.Units <= 201) || (!l.UCS2 && l.Units <= 459) {
			return text, true
		}
	}
	return head, true
}

func roundPct(f float64) float64 { return math.Round(f*10) / 10 }
