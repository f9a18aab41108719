package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/metrics"
	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/smpp/bridge"
)

// metricsSettings are the Prometheus listener's settings.
type metricsSettings struct {
	// MetricsListen is where /metrics is served; empty: nowhere. Off by
	// default: Prometheus's own default port is 9090, a fixed port would
	// stop a second instance on the host, and the default run should open
	// only the port the README shows.
	MetricsListen string
	MetricsPublic bool

	// redisHooks are added to the session store's Redis client before its
	// first command (the metrics' failed-command counter).
	redisHooks []redis.Hook
}

func (m *metricsSettings) metricsOptions() []option {
	return []option{
		{name: "metrics-listen", usage: "address for Prometheus /metrics, e.g. 127.0.0.1:9464 (empty: off; loopback only unless -metrics-public)", str: &m.MetricsListen},
		{name: "metrics-public", usage: "let -metrics-listen use a non-loopback address (the series show traffic, services and SMSC binds)", flag: &m.MetricsPublic},
	}
}

// newMetrics returns the gateway's metrics and registers their Redis hook
// for openStore.
func newMetrics(s *settings, o wireOptions) *metrics.Metrics {
	m := metrics.New(metrics.Options{SessionTimeout: s.SessionTimeout, Now: o.now})
	s.redisHooks = []redis.Hook{m.RedisHook()} // this wiring's metrics only
	return m
}

// watchSMPP exports the binds' and the bridge's counters, read at each
// scrape.
func watchSMPP(m *metrics.Metrics, h *bridge.Hub) {
	m.WatchSMPP(func() metrics.SMPP {
		var s metrics.SMPP
		for _, b := range h.Binds() {
			st := b.Client.Status()
			s.Binds = append(s.Binds, metrics.Bind{Name: st.Name, Group: b.Group, Status: st, Tally: b.Client.Tally()})
		}
		c := h.Counters()
		s.Totals = metrics.Totals{MTSent: c.MTSent, MTFailed: c.MTFailed, MOHandled: c.MOHandled, MOFailed: c.MOFailed,
			USSDAborts: c.USSDAborts, USSDRefused: c.USSDRefused, USSDDead: c.USSDDead}
		return s
	})
}

// watchQueue exports the outbox's statistics, read at each scrape.
func watchQueue(m *metrics.Metrics, q *mtq.Queue) {
	m.WatchQueue(func(ctx context.Context) (metrics.Queue, error) {
		st, err := q.Stats(ctx)
		if err != nil {
			return metrics.Queue{}, err
		}
		return metrics.Queue{Depth: map[string]int64{"high": st.High, "bulk": st.Bulk}, Oldest: st.Oldest, Delayed: st.Delayed, Dead: st.Dead}, nil
	})
}

// serveMetrics starts the metrics listener when -metrics-listen is set
// and returns its address ("" when off) and a function that stops it.
func serveMetrics(s *settings, m *metrics.Metrics, log *slog.Logger) (string, func(), error) {
	if s.MetricsListen == "" {
		return "", func() {}, nil
	}
	if err := metrics.CheckListen(s.MetricsListen, s.MetricsPublic); err != nil {
		return "", nil, err
	}
	if s.MetricsPublic {
		log.Warn("metrics listen on a non-loopback address (-metrics-public): keep the port behind a firewall", "addr", s.MetricsListen)
	}
	ln, err := net.Listen("tcp", s.MetricsListen)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
	addr := ln.Addr().String()
	log.Info("metrics listening", "addr", "http://"+addr+"/metrics")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	return addr, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// The bridge takes the metrics' wrapper of the session manager.
var _ bridge.Sessions = metrics.Sessions(nil)
