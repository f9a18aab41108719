// Package alerts sends price alerts: it keeps the last price of each
// commodity at each market in Redis, and when a new price comes (from the
// API) it enqueues one bulk SMS to every subscriber of the topic
// prices:<commodity>:<market> whose threshold the change passes, in the
// subscriber's language. It also sends the daily digest: one SMS a day,
// at the service's digest time in its time zone, summarising the day's
// prices of a subscriber's topics, claimed in Redis so that one instance
// of the gateway sends it. It sits beside the transports: it may import the
// stores, flows and the codecs, and nothing below the transports (ussd,
// flows, adapters, stores) may import it.
//
// It reads the consent registry and writes to the outbox through small
// interfaces, and renders texts from the services' flows. It must not
// import transports (gateway, smpp) or the API.
package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/flows"
)

// Config configures Alerts.
type Config struct {
	Redis   redis.UniversalClient
	Prefix  string // of every key, e.g. "ussdgw:"
	Consent Consent
	Outbox  Outbox
	Flows   func() *flows.Set // the services, to render texts in their languages
	// Names returns the commodity's and the market's names in lang (the
	// prices adapter's); nil or !ok: the ids, made readable.
	Names func(ctx context.Context, commodity, market, lang string) (crop, mkt string, ok bool)
	Batch int // messages per Enqueue, default 1000
	// AbandonFor is how long the cancel of a failed alert is retried
	// while Redis does not answer (1 minute).
	AbandonFor time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// Alerts sends price alerts and digests. It is safe for concurrent use.
type Alerts struct {
	cfg Config
	log *slog.Logger
}

// New returns Alerts over cfg.
func New(cfg Config) *Alerts {
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AbandonFor <= 0 {
		cfg.AbandonFor = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Alerts{cfg: cfg, log: cfg.Log.With("comp", "alerts")}
}

// Price is a new price of a commodity at a market. Ids are lower case,
// as the prices adapter and the subscription topics spell them.
type Price struct {
	Commodity string  `json:"commodity"`
	Market    string  `json:"market"`
	Price     float64 `json:"price"`
	Currency  string  `json:"currency"`
	Unit      string  `json:"unit"`
	Date      string  `json:"date"` // YYYY-MM-DD; empty = today (UTC)
}

// Topic is the subscription topic of the price's commodity and market.
func (p Price) Topic() string { return "prices:" + p.Commodity + ":" + p.Market }

// Run is what one new price did.
type Run struct {
	ID          string   `json:"id"` // the outbox group of its messages
	Topic       string   `json:"topic"`
	Previous    *float64 `json:"previous"` // nil: the first price of the pair, the baseline
	ChangePct   float64  `json:"change_pct"`
	Subscribers int      `json:"subscribers"` // of the topic
	Matched     int      `json:"matched"`     // whose threshold the change passed
	Queued      int      `json:"queued"`      // messages newly enqueued
	Dups        int      `json:"duplicates"`  // already enqueued before (a retried call)
	Skipped     int      `json:"skipped"`     // subscribers of a service no longer loaded
}

// InvalidError is a price the caller must correct.
type InvalidError struct{ Field, Msg string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

var (
	idRE       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Normalize checks p and returns it with ids lower-cased, the currency
// upper-cased and the date filled in.
func (a *Alerts) Normalize(p Price) (Price, error) {
	p.Commodity = strings.ToLower(strings.TrimSpace(p.Commodity))
	p.Market = strings.ToLower(strings.TrimSpace(p.Market))
	p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
	p.Unit = strings.TrimSpace(p.Unit)
	p.Date = strings.TrimSpace(p.Date)
	switch {
	case !idRE.MatchString(p.Commodity):
		return p, &InvalidError{"commodity", fmt.Sprintf("%q is not a commodity id (lower-case letters, digits, _), e.g. maize", p.Commodity)}
	case !idRE.MatchString(p.Market):
		return p, &InvalidError{"market", fmt.Sprintf("%q is not a market id (lower-case letters, digits, _), e.g. eldoret", p.Market)}
	case !(p.Price > 0) || math.IsInf(p.Price, 0) || p.Price > 1e12:
		return p, &InvalidError{"price", "want a number above 0"}
	case p.Currency != "" && !currencyRE.MatchString(p.Currency):
		return p, &InvalidError{"currency", fmt.Sprintf("%q is not an ISO 4217 code such as KES", p.Currency)}
	case len(p.Unit) > 32:
		return p, &InvalidError{"unit", "at most 32 characters"}
	}
	if p.Date == "" {
		p.Date = a.cfg.Now().UTC().Format(time.DateOnly)
	} else if _, err := time.Parse(time.DateOnly, p.Date); err != nil {
		return p, &InvalidError{"date", fmt.Sprintf("%q is not a date like 2026-11-30", p.Date)}
	}
	return p, nil
}

// Keys share the hash tag {prices}, so the swap script may touch the pair
// and the index of pairs on a Redis Cluster.
func (a *Alerts) priceKey(commodity, market string) string {
	return a.cfg.Prefix + "alerts:{prices}:" + commodity + ":" + market
}
func (a *Alerts) pairsKey() string { return a.cfg.Prefix + "alerts:{prices}" }

// swap stores the new price and returns the previous one, atomically, so
// that two instances fed the same change do not both alert (the second
// sees no change).
var swap = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'price')
local oldDate = redis.call('HGET', KEYS[1], 'date')
redis.call('HSET', KEYS[1], 'price', ARGV[1], 'currency', ARGV[2], 'unit', ARGV[3], 'date', ARGV[4], 'at', ARGV[5], 'prev', old or '', 'prev_date', oldDate or '')
redis.call('SADD', KEYS[2], ARGV[6])
return old
`)

// Price records a new price and alerts the subscribers of its topic whose
// threshold the change passes. The first price of a pair is the baseline:
// nothing is sent. The change is in percent of the previous price;
// a subscriber's "threshold" param (percent, default 0 = any change) is
// compared with its absolute value.
func (a *Alerts) Price(ctx context.Context, p Price) (Run, error) {
	p, err := a.Normalize(p)
	if err != nil {
		return Run{}, err
	}
	run := Run{ID: "alert_" + randomID(), Topic: p.Topic()}
	now := a.cfg.Now()
	at := now.UTC().Format(time.RFC3339Nano)
	prevRaw, err := swap.Run(ctx, a.cfg.Redis, []string{a.priceKey(p.Commodity, p.Market), a.pairsKey()},
		fmtNum(p.Price), p.Currency, p.Unit, p.Date, at, p.Commodity+":"+p.Market).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Run{}, fmt.Errorf("storing the price of %s: %w", run.Topic, err)
	}
	if prevRaw == "" {
		return run, nil
	}
	prev, err := strconv.ParseFloat(prevRaw, 64)
	if err != nil || prev <= 0 {
		return run, nil // an unreadable previous price: this one is the new baseline
	}
	run.Previous = &prev
	change := (p.Price - prev) / prev * 100
	run.ChangePct = roundPct(change)
	if p.Price == prev {
		return run, nil
	}
	set := a.cfg.Flows()
	names := a.namer()
	b := a.batcher(ctx, &run)
	err = a.cfg.Consent.Subscribers(ctx, run.Topic, func(msisdn string, s Subscription) error {
		run.Subscribers++
		if math.Abs(change) < threshold(s.Params) {
			return nil
		}
		run.Matched++
		vars := names.vars(ctx, p, s.Lang)
		vars["label"], vars["previous"] = label(s, p), fmtNum(prev)
		vars["change"] = fmtChange(run.ChangePct)
		text, ok := render(set, s.Service, "price_alert", s.Lang, vars)
		if !ok {
			run.Skipped++
			return nil
		}
		return b.add(Message{ID: run.ID + ":" + msisdn, MSISDN: msisdn, Text: text, Service: s.Service,
			Kind: "alert", Priority: Bulk, Group: run.ID})
	})
	if err == nil {
		err = b.flush()
	} else {
		b.wg.Wait() // batches under way are cancelled with the rest
	}
	if err != nil {
		a.abandon(run, p, at, err)
		return run, fmt.Errorf("alerting the subscribers of %s (what was queued is cancelled, the previous price restored): %w", run.Topic, err)
	}
	a.log.Info("price alert", "run", run.ID, "topic", run.Topic, "change_pct", run.ChangePct,
		"subscribers", run.Subscribers, "matched", run.Matched, "queued", run.Queued, "dups", run.Dups)
	return run, nil
}

// restore puts the previous price back, unless the price changed again
// since (another price came): the stored one is still this run's (price
// and time) and was preceded by one.
var restore = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'price', 'at', 'prev', 'prev_date')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or not f[3] or f[3] == '' then return 0 end
redis.call('HSET', KEYS[1], 'price', f[3], 'date', f[4] or '', 'prev', '', 'prev_date', '')
return 1
`)

// abandon undoes an alert whose intake failed, so that the intake is all
// or nothing, as a broadcast's: the messages it queued are cancelled (the
// outbox fails them "cancelled" when their turn comes) and the previous
// price is put back, so that the same price sent again alerts again
// rather than finding no change. Redis may be what failed: it is retried
// every quarter second for up to cfg.AbandonFor (1 minute); the caller
// is not kept waiting past the first try.
func (a *Alerts) abandon(run Run, p Price, at string, cause error) {
	a.log.Error("price alert failed; cancelling what it queued", "run", run.ID, "topic", run.Topic, "err", cause)
	try := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.cfg.Outbox.Cancel(ctx, run.ID); err != nil {
			return fmt.Errorf("cancelling alert %s: %w", run.ID, err)
		}
		if err := restore.Run(ctx, a.cfg.Redis, []string{a.priceKey(p.Commodity, p.Market)}, fmtNum(p.Price), at).Err(); err != nil {
			return fmt.Errorf("restoring the previous price of %s: %w", run.Topic, err)
		}
		return nil
	}
	if try() == nil {
		return
	}
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		deadline := time.After(a.cfg.AbandonFor)
		for {
			select {
			case <-deadline:
				a.log.Error("gave up cancelling a failed price alert: what it queued may be sent", "run", run.ID)
				return
			case <-t.C:
			}
			err := try()
			if err == nil {
				a.log.Info("cancelled what a failed price alert had queued", "run", run.ID)
				return
			}
			a.log.Debug("cancelling a failed price alert; trying again", "run", run.ID, "err", err)
		}
	}()
}

// batcher enqueues messages by cfg.Batch, up to inFlight batches at a
// time: the scan of subscribers and the outbox's Lua enqueue overlap.
type batcher struct {
	a   *Alerts
	ctx context.Context
	run *Run
	buf []Message
	sem chan struct{}
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

const inFlight = 4

func (a *Alerts) batcher(ctx context.Context, run *Run) *batcher {
	return &batcher{a: a, ctx: ctx, run: run, buf: make([]Message, 0, a.cfg.Batch), sem: make(chan struct{}, inFlight)}
}

func (b *batcher) add(m Message) error {
	b.buf = append(b.buf, m)
	if len(b.buf) >= b.a.cfg.Batch {
		return b.send()
	}
	return nil
}

func (b *batcher) send() error {
	if err := b.failed(); err != nil {
		return err
	}
	if len(b.buf) == 0 {
		return nil
	}
	batch := b.buf
	b.buf = make([]Message, 0, b.a.cfg.Batch)
	b.sem <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.sem; b.wg.Done() }()
		_, dups, err := b.a.cfg.Outbox.Enqueue(b.ctx, batch...)
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil {
			if b.err == nil {
				b.err = err
			}
			return
		}
		b.run.Queued += len(batch) - dups
		b.run.Dups += dups
	}()
	return nil
}

func (b *batcher) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// flush sends what is left and waits for every batch.
func (b *batcher) flush() error {
	err := b.send()
	b.wg.Wait()
	if err != nil {
		return err
	}
	return b.failed()
}

// namer caches the names of a run's commodities and markets per
// language.
type namer struct {
	a     *Alerts
	cache map[string][2]string
}

func (a *Alerts) namer() *namer { return &namer{a: a, cache: map[string][2]string{}} }

// vars are the variables of a message about p in lang: crop and market
// (names), commodity_id, market_id, price, currency, unit, date.
func (n *namer) vars(ctx context.Context, p Price, lang string) map[string]string {
	k := p.Commodity + ":" + p.Market + ":" + lang
	nm, ok := n.cache[k]
	if !ok {
		nm = [2]string{readable(p.Commodity), readable(p.Market)}
		if n.a.cfg.Names != nil {
			if c, m, ok := n.a.cfg.Names(ctx, p.Commodity, p.Market, lang); ok {
				nm = [2]string{c, m}
			}
		}
		n.cache[k] = nm
	}
	return map[string]string{
		"crop": nm[0], "market": nm[1], "commodity_id": p.Commodity, "market_id": p.Market,
		"price": fmtNum(p.Price), "currency": p.Currency, "unit": p.Unit, "date": p.Date,
	}
}

// readable turns an id into a name: green_grams → Green grams.
func readable(id string) string {
	s := strings.ReplaceAll(id, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func threshold(params map[string]string) float64 {
	t, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(params["threshold"]), "%"), 64)
	if err != nil || t < 0 || math.IsNaN(t) {
		return 0
	}
	return t
}

func label(s Subscription, p Price) string {
	if s.Label != "" {
		return s.Label
	}
	return readable(p.Commodity) + " " + readable(p.Market)
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func fmtChange(pct float64) string {
	if pct > 0 {
		return "+" + strconv.FormatFloat(pct, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
}

func randomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
