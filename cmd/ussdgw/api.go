package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/prices"
	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/api"
	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/ussd"
)

// apiCommand runs the API's subcommands: broadcast and apikey.
func apiCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if args[0] == "broadcast" {
		return broadcastCmd(ctx, args[1:], getenv, stdout, stderr)
	}
	return apikeyCmd(ctx, args[1:], getenv, stdout, stderr)
}

// redisClient opens and pings Redis at url.
func redisClient(ctx context.Context, url string) (redis.UniversalClient, error) {
	c, err := ussd.NewRedisClient(url)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", redactURL(url), err)
	}
	return c, nil
}

// wireAPI builds the API (for gateway.Config.API) over the push side and
// starts the price alerts: the daily digest ticker and, for each prices
// adapter, a watch of its data. It returns nil without a push side. What
// it starts is a part of a.life that stops in phase 3, before the push
// side closes.
func wireAPI(ctx context.Context, a *app, s *settings, log *slog.Logger, now func() time.Time) (http.Handler, error) {
	p := a.push
	if p == nil || p.client == nil {
		log.Info("API off: it needs the push side's Redis")
		return nil, nil
	}
	set := a.manager.Flows // the services now loaded
	al := alerts.New(alerts.Config{
		Redis: p.client, Prefix: s.RedisPrefix, Consent: p.consent, Outbox: p.queue, Flows: set,
		Names: priceNames(a.reg), Now: now, Log: log,
	})
	var watch []func() []alerts.Price
	for _, name := range a.reg.Names() {
		ad, _ := a.reg.Lookup(name)
		if q, ok := ad.(interface{ Quotes() []prices.Quote }); ok {
			watch = append(watch, func() []alerts.Price { return toPrices(q.Quotes()) })
		}
	}
	var an api.Analytics
	if a.analytics != nil {
		an = a.analytics
	}
	srv := api.New(api.Config{
		Keys: apikeys.New(p.client, s.RedisPrefix, nil), Redis: p.client, Prefix: s.RedisPrefix, Flows: set, Analytics: an,
		Consent: p.consent, Outbox: p.queue, Prices: al, Country: s.APICountry, Now: now, Log: log,
		AuditRetention: s.APIAuditRetention, RecordRetention: s.APIRecordRetention,
		RatePerMinute: s.APIRate, Refused: func() { a.metrics.Refused("api", "limited") }, Reload: a.reloader,
		// The gateway's details (binds, readiness; a.gw exists by the time a
		// request comes) and the queue's depth.
		Health: func(ctx context.Context) map[string]any {
			h := map[string]any{}
			if a.gw != nil {
				h = a.gw.Details(ctx)
			}
			if _, ok := h["outbox"]; !ok {
				h["outbox"] = p.health(ctx)
			}
			return h
		},
	})
	// Phase 3 of the shutdown, before the outbox (see app.shutdown): the
	// HTTP requests are finished by then.
	w := workerPart("api and price alerts", func(actx context.Context) error {
		var wg sync.WaitGroup
		wg.Go(func() { al.Run(actx, 30*time.Second) })
		for _, quotes := range watch {
			wg.Go(func() { al.Watch(actx, 30*time.Second, quotes) })
		}
		wg.Wait()
		srv.Close()
		return nil
	})
	if err := a.life.Start(ctx, w); err != nil {
		return nil, err
	}
	return srv, nil
}

// toPrices turns the prices adapter's data into prices to alert on.
func toPrices(qs []prices.Quote) []alerts.Price {
	if qs == nil {
		return nil
	}
	out := make([]alerts.Price, len(qs))
	for i, q := range qs {
		out[i] = alerts.Price{Commodity: q.Commodity, Market: q.Market, Price: q.Price, Currency: q.Currency, Unit: q.Unit, Date: q.Date}
	}
	return out
}

// priceNames names a commodity and a market in a language through the
// first prices adapter that knows them (its "latest" answer).
func priceNames(reg *adapters.Registry) func(ctx context.Context, commodity, market, lang string) (string, string, bool) {
	var names []string
	for _, n := range reg.Names() {
		ad, _ := reg.Lookup(n)
		if _, ok := ad.(*prices.Adapter); ok {
			names = append(names, n)
		}
	}
	return func(ctx context.Context, commodity, market, lang string) (string, string, bool) {
		for _, n := range names {
			res, err := reg.Call(ctx, n, adapters.Request{Op: "latest", Params: map[string]string{"commodity": commodity, "market": market, "lang": lang}})
			if err != nil {
				continue
			}
			if m, ok := res.(map[string]any); ok {
				c, _ := m["commodity"].(string)
				mk, _ := m["market"].(string)
				if c != "" && mk != "" {
					return c, mk, true
				}
			}
		}
		return "", "", false
	}
}
