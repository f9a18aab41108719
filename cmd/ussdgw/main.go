// Command ussdgw runs the SMS/USSD gateway: it loads the flows, keeps
// sessions in Redis (or in memory), and serves the USSD callback, health
// and the rest of the HTTP side. The wiring: it may import anything of ours
// and nothing imports it.
//
//	ussdgw [flags]           run the gateway
//	ussdgw lint [-config FILE] [-format json] [dir|file]   check flows and config, exit 1 on any problem
//	ussdgw test [dir]        play transcripts against the flows, adapters from fixtures
//	ussdgw broadcast ...     start a broadcast through the API and follow it
//	ussdgw apikey ...        create, list and revoke API keys
//	ussdgw deny add|remove MSISDN, ussdgw deny list   the deny-list (Redis)
//	ussdgw flow-schema       print the JSON Schema of flow files, for editors
//	ussdgw config-reference  print the settings table the README carries
//
// Every flag also reads from USSDGW_<NAME> and the -config file; run
// ussdgw -h for the list, ussdgw help COMMAND for a command's (commands.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/builtin"
	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/kv"
	"github.com/ussdgw/ussdgw/lifecycle"
	"github.com/ussdgw/ussdgw/metrics"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/reload"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
)

// gcPercent is the garbage collector's target when GOGC is not set. The
// gateway allocates per message (PDUs, Redis replies) and keeps a small
// live heap, so Go's default (100) spends about a fifth of its CPU on
// collections during a broadcast; 300 gives that back for some 35 MB
// more resident memory (cmd/loadtest/push/README.md, "Figures").
const gcPercent = 300

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal starts the graceful shutdown; a second one
		// means "now".
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "ussdgw: second signal: exiting without finishing the shutdown")
		os.Exit(1)
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "ussdgw:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run is main without the process: tests call it. ready, when not nil,
// receives the listening address once the gateway serves.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return runCommand(ctx, args, getenv, stdout, stderr) // commands.go
	}
	if wantsHelp(args) {
		gatewayHelp(stdout)
		return nil
	}
	s, err := parseSettings("ussdgw", args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := newLogger(s, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, s, log, ready)
}

func newLogger(s *settings, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", s.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch s.LogFormat {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: use text or json", s.LogFormat)
	}
	if testLogHook != nil {
		h = testLogHook(h)
	}
	return slog.New(h), nil
}

// testLogHook, when set (by this package's tests only), wraps the handler
// of every logger newLogger makes: the tests check each line, at every
// level, for phone numbers shown whole.
var testLogHook func(slog.Handler) slog.Handler

// wireOptions are what tests change in the wiring: the clock, a wrapper
// around the adapters, and where SMS go when there is no SMSC.
type wireOptions struct {
	now  func() time.Time
	wrap func(flows.Caller) flows.Caller
	sms  flows.Messenger
}

// app is the wired gateway: what serve runs and what tests drive.
type app struct {
	set      *flows.Set
	store    ussd.Store
	reg      *adapters.Registry
	manager  *ussd.Manager
	consent  *consent.Registry
	hub      *bridge.Hub // nil without an smpp: section
	push     *push       // the outbox and its Redis
	metrics  *metrics.Metrics
	handler  http.Handler
	gw       *gateway.Server // handler's gateway part: Details for the authenticated health
	studio   *studioPart     // studio.go: the workbench; nil when off
	storeStr string

	analytics *analytics.Store // nil: off (analytics.go)

	// life starts and stops the gateway's parts (package lifecycle): the
	// stores, adapters, SMPP binds, session managers, background workers
	// and listeners, each stopping in the phases of shutdown.
	life *lifecycle.Group
	// reloader keeps the flows current (reload.go); managers are the
	// session managers it swaps them into.
	reloader *reload.Reloader
	managers []*ussd.Manager
}

// wire builds the gateway from its settings, in dependency order, each
// piece a part of a.life: store, adapters (which keep per-user data in the
// store), flows (checked against the adapters), the push side, the
// session managers, the SMPP binds, the background workers and the HTTP
// handler. On failure what was started is stopped again, in reverse.
func wire(ctx context.Context, s *settings, log *slog.Logger, o wireOptions) (a *app, err error) {
	a = &app{life: newLife(log)}
	a.metrics = newMetrics(s, o)
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	guards, err := s.guards()
	if err != nil {
		return a, err
	}
	routes, err := s.httpRoutes(guards[gateway.AfricasTalking])
	if err != nil {
		return a, err
	}
	logCallbacks(log, guards, routes)
	var smppCfg *bridge.Config
	if s.smpp != nil {
		c, err := decodeSMPP(s.file, s.smpp)
		if err != nil {
			return a, err
		}
		smppCfg = &c
	}
	redis.SetLogger(newRedisLog(log.With("comp", "redis")))
	store, storeName, readyFn, closeStore, err := openStore(ctx, s)
	if err != nil {
		return a, err
	}
	a.store, a.storeStr = store, storeName
	readyFn = s.protect(store, readyFn, log)
	if err := a.life.Start(ctx, closeOnly("session store", closeStore)); err != nil {
		return a, err
	}
	a.reg, err = buildAdapters(s, store, log, o.now)
	if err != nil {
		return a, err
	}
	a.set, err = loadFlows(s.Flows, a.reg)
	if err != nil {
		return a, fmt.Errorf("loading flows from %s:\n%w", fullPath(s.Flows), err)
	}
	a.reloader = a.newReloader(s.Flows, log, a.set)
	if err := a.life.Start(ctx, lifecycle.Part{Name: "adapters", Start: a.reg.Start,
		Stop: stops{phaseClose: closing(log, "stopping adapters", a.reg.Stop)}}); err != nil {
		return a, err
	}
	resume := s.ResumeWindow
	if resume == 0 {
		resume = -1 // the manager reads 0 as "default"
	}
	var caller flows.Caller = a.metrics.Adapters(a.reg)
	if o.wrap != nil {
		caller = o.wrap(caller)
	}
	var smsRoute flows.Messenger = o.sms
	var replyRoute flows.Messenger
	p, closePush, err := openPush(ctx, s, log, o.now, a.flows)
	if err != nil {
		return a, err
	}
	a.push, a.consent = p, p.consent
	watchQueue(a.metrics, p.queue)
	if err := a.life.Start(ctx, closeOnly("push store", closePush)); err != nil {
		return a, err
	}
	if smppCfg != nil {
		q := a.push.queue
		// The delivery status of MT SMS: the same Redis and keys, without
		// the USSD guard (see bridge.Deps.StatusKV).
		var statusKV kv.Store
		if rs, ok := store.(*ussd.RedisStore); ok {
			plain := ussd.NewRedisStore(rs.Client(), s.RedisPrefix)
			if s.RedisPipeline == "on" {
				if err := plain.AutoPipeline(); err != nil {
					return a, err
				}
			}
			statusKV = plain
		}
		a.hub, err = bridge.New(*smppCfg, bridge.Deps{KV: store, StatusKV: statusKV, Prefix: "smpp:", StepTimeout: s.StepBudget + 2*time.Second, Log: log,
			OnReceipt: func(ctx context.Context, ref string, delivered bool, reason string) {
				if err := q.Receipt(ctx, ref, delivered, reason); err != nil {
					log.Warn("receipt not recorded in the outbox", "ref", msisdn.Text(ref), "err", err)
				}
			},
			ReceiptFor: q.ReceiptFor})
		if err != nil {
			return a, err
		}
		smsRoute, replyRoute = q.Messenger("flow"), q.Messenger("reply")
	}
	if smsRoute, err = a.studioSMS(s, smsRoute, o.now); err != nil {
		return a, err
	}
	base := ussd.Config{
		Store: store, Flows: a.set, Adapters: caller, SMS: smsRoute,
		SessionTimeout: s.SessionTimeout, ResumeWindow: resume, StepBudget: s.StepBudget,
		Now: o.now, Log: log, Consent: a.consent, Refresh: a.reloader.Refresh,
	}
	base.Limiter, base.MaxInput = s.limiter(store), s.MaxInput
	base.Observe = a.metrics.Step
	if a.analytics = newAnalytics(s, a, store, log, o.now); a.analytics != nil {
		base.Analytics = a.analytics
	}
	a.manager = ussd.NewManager(base)
	a.managers = append(a.managers, a.manager)
	// The managers wait for their late results in phase 2, after the
	// steps in flight (which may start late work) are answered.
	if err := a.life.Start(ctx, lifecycle.Part{Name: "ussd sessions", Stop: stops{phaseDrain: a.manager.Close}}); err != nil {
		return a, err
	}
	var health func(context.Context) map[string]any
	var groups func() []gateway.BindGroup
	if a.hub != nil {
		smsManager := ussd.NewManager(bridge.SMSSessions(base, smppCfg.MO))
		a.managers = append(a.managers, smsManager)
		if err := a.life.Start(ctx, lifecycle.Part{Name: "sms sessions", Stop: stops{phaseDrain: smsManager.Close}}); err != nil {
			return a, err
		}
		closeHub := closing(log, "closing smpp connections", a.hub.Close)
		routes := bridge.Routes{USSD: metrics.Transport(a.manager, "smpp"), SMS: &sms.Router{Manager: smsManager, Reply: replyRoute, Consent: a.consent}}
		if err := a.life.Start(ctx, lifecycle.Part{Name: "smpp",
			Start: func(context.Context) error {
				if err := a.hub.Start(routes); err != nil {
					_ = closeHub(ctx)
					return err
				}
				return nil
			},
			Stop: stops{phaseIntake: a.hub.StopReceiving, phaseDrain: a.hub.Drain, phaseClose: closeHub},
		}); err != nil {
			return a, err
		}
		// MT SMS go through the outbox: accepted once in Redis, sent by
		// the queue. It stops in phase 3, after the session managers
		// (whose late results it queues) and before the binds close; what
		// it had taken and not sent stays pending for another instance.
		var stopQueue func()
		if err := a.life.Start(ctx, lifecycle.Part{Name: "outbox",
			Start: func(context.Context) error { stopQueue = a.push.run(a.guardSimulated(a.hub), log); return nil },
			Stop:  stops{phaseRelease: func(context.Context) error { stopQueue(); return nil }},
		}); err != nil {
			return a, err
		}
		if err := a.startReminders(ctx, s, log); err != nil {
			return a, err
		}
		for _, c := range smppCfg.Connections {
			ussdProfile := "none"
			if c.USSD.Profile != "" {
				ussdProfile = c.USSD.Profile
			}
			log.Info("smpp connection", "bind", c.Name, "group", c.GroupName(), "address", c.Address, "bind_type", string(c.Bind), "ussd", ussdProfile)
		}
		health = func(ctx context.Context) map[string]any {
			return map[string]any{"smpp": a.hub.Health(ctx), "outbox": a.push.health(ctx)}
		}
		watchSMPP(a.metrics, a.hub)
		groups = func() []gateway.BindGroup {
			var out []gateway.BindGroup
			for _, g := range a.hub.Groups() {
				out = append(out, gateway.BindGroup{Name: g.Name, Bound: g.Bound, Total: g.Total, USSD: g.USSD, SMS: g.SMS})
			}
			return out
		}
	}
	apiHandler, err := wireAPI(ctx, a, s, log, o.now)
	if err != nil {
		return a, err
	}
	if err := a.life.Start(ctx, a.reloadParts(s, log)...); err != nil {
		return a, err
	}
	a.gw = gateway.New(gateway.Config{Manager: a.manager, Log: log, Ready: readyFn, Details: health, Guards: guards, Routes: routes, BindGroups: groups,
		API: apiHandler, ReadyDetails: a.flowsReady})
	a.handler = a.metrics.HTTP(a.gw)
	if a.handler, err = a.mountStudio(ctx, s, log, o.now, a.handler); err != nil {
		return a, err
	}
	return a, nil
}

// close stops every part at once, each phase in turn, for a wire that
// failed half-way and for tests.
func (a *app) close() { a.life.Close() }

// serve runs the wired gateway until ctx ends, then stops it in reverse
// order: stop taking requests and finish those in flight, wait for late
// results, stop adapters, close the store.
func serve(ctx context.Context, s *settings, log *slog.Logger, ready chan<- string) (err error) {
	if err := metrics.CheckListen(s.MetricsListen, s.MetricsPublic); err != nil {
		return err // before anything binds or connects
	}
	a, err := wire(ctx, s, log, wireOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	for _, f := range a.set.Flows() {
		log.Info("serving service", "service", f.ID, "file", f.File, "codes", strings.Join(f.Codes, " "),
			"keywords", strings.Join(f.Keywords, " "), "languages", strings.Join(f.Languages, " "), "version", f.Version)
	}
	if err := s.checkDebug(log); err != nil {
		return err
	}
	_, stopMetrics, err := serveMetrics(s, a.metrics, log)
	if err != nil {
		return err
	}
	if err := a.life.Start(ctx, closeOnly("metrics listener", stopMetrics)); err != nil {
		return err
	}
	srv := gateway.NewHTTPServer(a.handler, s.StepBudget+5*time.Second)
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	errc := make(chan error, 1)
	if err := a.life.Start(ctx, httpPart(srv, ln, func() { a.gw.SetDown(true) }, errc)); err != nil {
		return err
	}
	log.Info("gateway listening", "addr", "http://"+ln.Addr().String(), "store", a.storeStr, "outbox", a.push.name,
		"session_timeout", s.SessionTimeout, "resume_window", s.ResumeWindow, "adapters", strings.Join(a.reg.Names(), " "))
	if s.DebugListen != "" {
		go func() {
			// net/http/pprof registers on the default mux, which nothing else uses.
			log.Info("profiler listening", "addr", "http://"+s.DebugListen+"/debug/pprof/")
			// No write timeout: a CPU profile takes its time.
			dbg := gateway.NewHTTPServer(http.DefaultServeMux, 0)
			dbg.Addr = s.DebugListen
			if err := dbg.ListenAndServe(); err != nil {
				log.Error("profiler", "err", err)
			}
		}()
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	return a.shutdown(s.ShutdownTimeout)
}

// shutdown stops the gateway without losing work, in phases, each logged
// once with how long it took (package lifecycle runs them):
//
//  1. stop taking new work where the peer can send it elsewhere: /healthz
//     says "down"; every SMPP connection ends its receiving bind (a
//     transmitter stays for the answers), so the SMSC routes new
//     dialogues to the other instances of the bind group; the HTTP
//     listener closes (the aggregator's load balancer retries elsewhere);
//  2. answer every step already acknowledged: the HTTP requests in
//     progress and the USSD steps in flight over SMPP, then the
//     managers' late results;
//  3. hand queue entries back: background consumers stop, and what they
//     had taken and not finished stays pending in Redis for another
//     instance;
//  4. close: unbind the transmitters, stop the adapters, close the stores
//     (each with 10 s of its own, whatever the earlier phases left).
//
// The phases share one deadline, timeout. A watchdog a little past it
// returns even when a phase ignores its context; main then exits.
func (a *app) shutdown(timeout time.Duration) error { return a.life.Shutdown(timeout) }

// redisLog sends go-redis's own messages (failed dials while Redis is
// down, say) to the gateway's log instead of stderr, one line per 10 s at
// most: during an outage go-redis says the same thing on every dial, and
// the store already logs the outage when it starts and ends.
type redisLog struct {
	log     *slog.Logger
	lim     *rate.Limiter
	dropped atomic.Int64
}

func newRedisLog(log *slog.Logger) *redisLog {
	return &redisLog{log: log, lim: rate.NewLimiter(rate.Every(10*time.Second), 1)}
}

func (l *redisLog) Printf(ctx context.Context, format string, v ...any) {
	if !l.lim.Allow() {
		l.dropped.Add(1)
		return
	}
	var args []any
	if n := l.dropped.Swap(0); n > 0 {
		args = append(args, "similar_lines_dropped", n)
	}
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)), args...)
}

// openStore opens Redis when a URL is given, else an in-memory store.
func openStore(ctx context.Context, s *settings) (ussd.Store, string, func(context.Context) error, func(), error) {
	if s.RedisURL == "" {
		ms := ussd.NewMemoryStore()
		return ms, "memory (single instance; set -redis-url to share sessions)", nil, func() { ms.Close() }, nil
	}
	c, err := ussd.NewRedisClient(s.RedisURL)
	if err != nil {
		return nil, "", nil, nil, err
	}
	for _, h := range s.redisHooks {
		c.AddHook(h)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, "", nil, nil, fmt.Errorf("redis at %s does not answer: %w", redactURL(s.RedisURL), err)
	}
	ready := func(ctx context.Context) error { return c.Ping(ctx).Err() }
	store := ussd.NewRedisStore(c, s.RedisPrefix)
	name := "redis " + redactURL(s.RedisURL)
	switch s.RedisPipeline {
	case "on":
		if _, cluster := c.(*redis.ClusterClient); cluster {
			// One autopipelined batch spans the masters: a dead master
			// would hold up the others' commands (all sessions failed
			// while 1 of 3 masters was down, against a third without).
			name += " (not autopipelined on a Cluster)"
			break
		}
		if err := store.AutoPipeline(); err != nil {
			c.Close()
			return nil, "", nil, nil, err
		}
		name += " (autopipelined)"
	case "off":
	default:
		c.Close()
		return nil, "", nil, nil, fmt.Errorf("-redis-autopipeline %q: use on or off", s.RedisPipeline)
	}
	return store, name, ready, func() { c.Close() }, nil
}

// redactURL hides a password in a URL for logs.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "***" + u[at:]
}

// buildAdapters builds the adapters of the config file, or without one
// the built-in defaults over the data files shipped beside the flows.
func buildAdapters(s *settings, store ussd.Store, log *slog.Logger, now func() time.Time) (*adapters.Registry, error) {
	deps := adapters.Deps{KV: store, Logger: log, Now: now, LookupEnv: s.lookupEnv}
	section, file := s.adapters, s.file
	if file != "" {
		deps.Dir = fullPath(filepath.Dir(file))
	}
	if section == nil {
		if s.file != "" {
			return adapters.NewRegistry(), nil // a config file without adapters
		}
		section, file = defaultAdapters(s.Flows), "(built-in defaults)"
		deps.Dir = fullPath(s.Flows)
		if section == nil {
			return adapters.NewRegistry(), nil
		}
	}
	return adapters.Build(builtin.Kinds(), file, section, deps)
}

// defaultAdapters are used when there is no config file: one adapter of
// each domain kind over its demo data in <flows>/data, for the data files
// that exist there.
func defaultAdapters(flowsDir string) *yaml.Node {
	var b strings.Builder
	for _, name := range []string{"prices", "health", "quiz", "jobs"} {
		if _, err := os.Stat(filepath.Join(flowsDir, "data", name+".yaml")); err == nil {
			fmt.Fprintf(&b, "%s: {kind: %s, file: data/%s.yaml}\n", name, name, name)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		panic(err) // built here from constants
	}
	return doc.Content[0]
}
