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
	"github.com/ussdgw/ussdgw/metrics"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
)

func main() {
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

	// What a shutdown runs, phase by phase (see shutdown): each list in
	// the order to call it.
	intake  []func(context.Context) error // 1: stop taking new work where the peer can send it elsewhere
	drain   []func(context.Context) error // 2: answer every step already acknowledged, wait for late results
	workers []func(context.Context) error // 3: background consumers stop; what they had not finished stays for another instance
	closers []func()                      // 4: unbind, stop adapters, close stores
}

// wire builds the gateway from its settings, in dependency order: store,
// adapters (which keep per-user data in the store), flows (checked against
// the adapters), the session managers, the SMPP binds and the HTTP handler.
// On failure what was opened is closed again; closing runs in reverse:
// stop taking SMPP traffic and finish the USSD steps in flight, wait for
// late results (which may still go out as SMS), unbind, stop the
// adapters, close the store.
func wire(ctx context.Context, s *settings, log *slog.Logger, o wireOptions) (a *app, err error) {
	a = &app{}
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
	logGuards(log, guards)
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
	a.closers = append(a.closers, closeStore)
	a.reg, err = buildAdapters(s, store, log, o.now)
	if err != nil {
		return a, err
	}
	a.set, err = flows.Load(s.Flows, flows.Options{Adapters: a.reg.Names(), Ops: a.reg.Ops()})
	if err != nil {
		return a, fmt.Errorf("loading flows from %s:\n%w", fullPath(s.Flows), err)
	}
	if err := a.reg.Start(ctx); err != nil {
		return a, err
	}
	a.closers = append([]func(){func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.reg.Stop(sctx); err != nil {
			log.Error("stopping adapters", "err", err)
		}
	}}, a.closers...)
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
	p, closePush, err := openPush(ctx, s, log, o.now, a.set)
	if err != nil {
		return a, err
	}
	a.push, a.consent = p, p.consent
	watchQueue(a.metrics, p.queue)
	a.closers = append([]func(){closePush}, a.closers...)
	var stopQueue func()
	if smppCfg != nil {
		q := a.push.queue
		// The delivery status of MT SMS: the same Redis and keys, without
		// the USSD guard (see bridge.Deps.StatusKV).
		var statusKV smpp.KV
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
			}})
		if err != nil {
			return a, err
		}
		a.intake = append(a.intake, a.hub.StopReceiving)
		a.closers = append([]func(){func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.hub.Close(sctx); err != nil {
				log.Error("closing smpp connections", "err", err)
			}
		}}, a.closers...)
		// MT SMS go through the outbox: accepted once in Redis, sent by
		// the queue. It stops in phase 3, after the session managers
		// (whose late results it queues) and before the binds close; what
		// it had taken and not sent stays pending for another instance.
		a.workers = append(a.workers, func(context.Context) error {
			if stopQueue != nil {
				stopQueue()
			}
			return nil
		})
		smsRoute, replyRoute = q.Messenger("flow"), q.Messenger("reply")
	}
	if smsRoute, err = a.studioSMS(s, smsRoute, o.now); err != nil {
		return a, err
	}
	base := ussd.Config{
		Store: store, Flows: a.set, Adapters: caller, SMS: smsRoute,
		SessionTimeout: s.SessionTimeout, ResumeWindow: resume, StepBudget: s.StepBudget,
		Now: o.now, Log: log, Consent: a.consent,
	}
	base.Limiter, base.MaxInput = s.limiter(store), s.MaxInput
	base.Observe = a.metrics.Step
	if a.analytics = newAnalytics(s, a, store, log, o.now); a.analytics != nil {
		base.Analytics = a.analytics
	}
	a.manager = ussd.NewManager(base)
	a.drain = append(a.drain, closeManager(a.manager))
	var health func(context.Context) map[string]any
	var groups func() []gateway.BindGroup
	if a.hub != nil {
		smsManager := ussd.NewManager(bridge.SMSSessions(base, smppCfg.MO))
		a.drain = append([]func(context.Context) error{closeManager(smsManager)}, a.drain...)
		if err := a.hub.Start(bridge.Routes{USSD: metrics.Transport(a.manager, "smpp"), SMS: &sms.Router{Manager: smsManager, Reply: replyRoute, Consent: a.consent}}); err != nil {
			return a, err
		}
		stopQueue = a.push.run(a.guardSimulated(a.hub), log)
		if err := a.startReminders(s, log); err != nil {
			return a, err
		}
		a.drain = append([]func(context.Context) error{a.hub.Drain}, a.drain...)
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
	a.gw = gateway.New(gateway.Config{Manager: a.manager, Log: log, Ready: readyFn, Details: health, Guards: guards, BindGroups: groups,
		API: wireAPI(ctx, a, s, log, o.now)})
	a.handler = a.metrics.HTTP(a.gw)
	if a.handler, err = a.mountStudio(ctx, s, log, o.now, a.handler); err != nil {
		return a, err
	}
	return a, nil
}

// closeManager returns a drain step that waits for the manager's late
// results.
func closeManager(m *ussd.Manager) func(context.Context) error { return m.Close }

// runWorker runs a background consumer (the outbox, the reminders) until
// phase 3 of the shutdown cancels its context and waits for it to return:
// by then every step is answered and every late result handed over, and
// the binds are still up for the sends in progress. What it had taken and
// not finished stays in Redis for another instance to reclaim.
func (a *app) runWorker(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	a.workers = append(a.workers, func(wait context.Context) error {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		case <-wait.Done():
			return fmt.Errorf("%s did not stop: %w", name, wait.Err())
		}
	})
}

// close runs every phase of the shutdown at once, each step with its own
// 10s, for a wire that failed half-way and for tests.
func (a *app) close() {
	for _, list := range [][]func(context.Context) error{a.intake, a.drain, a.workers} {
		for _, f := range list {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = f(ctx)
			cancel()
		}
	}
	a.intake, a.drain, a.workers = nil, nil, nil
	for _, c := range a.closers {
		c()
	}
	a.closers = nil
}

// serve runs the wired gateway until ctx ends, then stops it in reverse
// order: stop taking requests and finish those in flight, wait for late
// results, stop adapters, close the store.
func serve(ctx context.Context, s *settings, log *slog.Logger, ready chan<- string) error {
	if err := metrics.CheckListen(s.MetricsListen, s.MetricsPublic); err != nil {
		return err // before anything binds or connects
	}
	a, err := wire(ctx, s, log, wireOptions{})
	if err != nil {
		return err
	}
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
	defer stopMetrics()
	srv := gateway.NewHTTPServer(a.handler, s.StepBudget+5*time.Second)
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		a.close()
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	a.gw.SetDown(true) // /healthz and /readyz say so while the phases run
	return a.shutdown(srv, s.ShutdownTimeout, log)
}

// shutdown stops the gateway without losing work, in phases, each logged
// once with how long it took:
//
//  1. stop taking new work where the peer can send it elsewhere: every
//     SMPP connection ends its receiving bind (a transmitter stays for
//     the answers), so the SMSC routes new dialogues to the other
//     instances of the bind group; the HTTP listener closes (the
//     aggregator's load balancer retries elsewhere);
//  2. answer every step already acknowledged: the USSD steps in flight
//     over SMPP and the HTTP requests in progress, then the managers'
//     late results;
//  3. hand queue entries back: background consumers stop, and what they
//     had taken and not finished stays pending in Redis for another
//     instance;
//  4. close: unbind the transmitters, stop the adapters, close the stores.
//
// The phases share one deadline, timeout. A watchdog a little past it
// returns even when a phase ignores its context; main then exits.
func (a *app) shutdown(srv *http.Server, timeout time.Duration, log *slog.Logger) error {
	start := time.Now()
	log.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.phases(ctx, srv, log) }()
	watchdog := time.NewTimer(timeout + 2*time.Second)
	defer watchdog.Stop()
	select {
	case err := <-done:
		log.Info("shut down", "took", time.Since(start).Round(time.Millisecond))
		return err
	case <-watchdog.C:
		log.Error("shutdown watchdog: phases still running past the timeout; exiting anyway", "timeout", timeout)
		return fmt.Errorf("shutdown did not finish within %s", timeout)
	}
}

func (a *app) phases(ctx context.Context, srv *http.Server, log *slog.Logger) error {
	var failed []error
	phase := func(name string, fns ...func(context.Context) error) {
		t := time.Now()
		var errs []error
		for _, f := range fns {
			if err := f(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		took := time.Since(t).Round(time.Millisecond)
		if err := errors.Join(errs...); err != nil {
			failed = append(failed, err)
			log.Warn("shutdown phase", "phase", name, "took", took, "err", err)
			return
		}
		log.Info("shutdown phase", "phase", name, "took", took)
	}
	// srv.Shutdown closes the listeners at once and then waits for the
	// requests in progress: it starts with phase 1 and is waited for in 2.
	httpDone := make(chan error, 1)
	stopHTTP := func(ctx context.Context) error {
		go func() { httpDone <- srv.Shutdown(ctx) }()
		return nil
	}
	waitHTTP := func(ctx context.Context) error {
		if err := <-httpDone; err != nil {
			return fmt.Errorf("finishing http requests: %w", err)
		}
		return nil
	}
	phase("stop taking new work", append([]func(context.Context) error{stopHTTP}, a.intake...)...)
	phase("answer acknowledged steps", append([]func(context.Context) error{waitHTTP}, a.drain...)...)
	phase("hand queue entries back", a.workers...)
	t := time.Now()
	for _, c := range a.closers {
		c()
	}
	log.Info("shutdown phase", "phase", "close", "took", time.Since(t).Round(time.Millisecond))
	a.intake, a.drain, a.workers, a.closers = nil, nil, nil, nil
	return errors.Join(failed...)
}

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
