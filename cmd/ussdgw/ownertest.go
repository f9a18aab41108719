package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/fixtures"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd/transcript"
)

// ussdgw test plays a service owner's transcripts (ussd/transcript's
// format) against their flows and gateway config, through the gateway as
// wire builds it, with adapters answered from a fixtures file where the
// owner gives one (adapters/fixtures). It needs neither Go, Redis nor an
// SMSC: sessions and the push side are in memory, SMS are collected for
// "@ sms", and the config's smpp: section and redis_url are left out.
// docs/testing-services.md is the owner's guide.

// defaultNow is the clock transcripts start at, unless -now or the
// fixtures' now: say otherwise: screens that show dates stay the same
// from one run to the next.
var defaultNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// placeholderSecret stands in for a ${NAME} secret the environment does
// not have: stubbed adapters never send it.
const placeholderSecret = "unset-in-ussdgw-test"

// ownerTest is one run of ussdgw test.
type ownerTest struct {
	s        *settings
	paths    []string // transcript files or folders; none: <flows>/transcripts
	fixtures string   // the fixtures file; "": fixtures.yaml beside each transcript, if there is one
	update   bool
	now      time.Time // zero: the fixtures' now:, else defaultNow
	stdout   io.Writer
	log      *slog.Logger

	// redisPrefix, with s.RedisURL, runs on Redis (this package's tests):
	// each transcript gets keys of its own under it.
	redisPrefix string
}

// ownerTestFlags are ussdgw test's flags, for the command and its help.
type ownerTestFlags struct {
	config, flows, fixtures, now *string
	budget                       *time.Duration
	update, verbose              *bool
}

func newOwnerTestFlags(fs *flag.FlagSet) ownerTestFlags {
	return ownerTestFlags{
		config:   fs.String("config", "", "the gateway config file: its flows:, adapters: and step_budget are used; redis_url and smpp: are not (env USSDGW_CONFIG)"),
		flows:    fs.String("flows", "", "the flows folder, if not the config's (env USSDGW_FLOWS; default ./flows-examples)"),
		fixtures: fs.String("fixtures", "", "the adapters' answers (default: fixtures.yaml beside the transcripts, when there is one)"),
		now:      fs.String("now", "", "the time transcripts start at, like 2026-11-27T09:00:00Z (default: the fixtures' now:, else that time)"),
		budget:   fs.Duration("step-budget", 0, "time allowed for one step, as for the gateway (default: the config's, else 4s); an @ slow adapter takes a little longer"),
		update:   fs.Bool("update", false, "write what the gateway shows into the transcripts instead of comparing (fills in missing screens; read them after)"),
		verbose:  fs.Bool("v", false, "show the gateway's log (adapter failures, timeouts) on stderr"),
	}
}

// ownerTestCmd is `ussdgw test [flags] [DIR|FILE...]`.
func ownerTestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ussdgw test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := newOwnerTestFlags(fs)
	fs.Usage = func() { commandHelp(stderr, "test") }
	paths, err := parseMixed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return errUsage
	}
	var gwArgs []string
	for name, v := range map[string]string{"config": *f.config, "flows": *f.flows} {
		if v != "" {
			gwArgs = append(gwArgs, "-"+name, v)
		}
	}
	if *f.budget != 0 {
		gwArgs = append(gwArgs, "-step-budget", f.budget.String())
	}
	s, err := parseSettings("ussdgw test", gwArgs, getenv, stderr)
	if err != nil {
		return err
	}
	s.RedisURL = ""
	o := &ownerTest{s: s, paths: paths, fixtures: *f.fixtures, update: *f.update, stdout: stdout,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if *f.verbose {
		o.log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if *f.now != "" {
		if o.now, err = time.Parse(time.RFC3339, *f.now); err != nil {
			return fmt.Errorf("-now %q: give a time like 2026-11-27T09:00:00Z", *f.now)
		}
	}
	failed, err := o.run(ctx)
	if err != nil {
		return err
	}
	if failed > 0 {
		return errUsage // the report is on stdout
	}
	return nil
}

// run plays every transcript and reports on o.stdout; it returns how many
// failed. An error is a problem with the setup (no transcripts, a bad
// fixtures file), not with a transcript.
func (o *ownerTest) run(ctx context.Context) (failed int, err error) {
	// What a test run must not touch: the SMSC, the production Redis, the
	// per-number limits (transcripts dial often), the listeners.
	o.s.smpp = nil
	o.s.LimitDials, o.s.LimitSteps = 0, 0
	o.s.MetricsListen, o.s.DebugListen = "", ""
	o.s.lookupEnv = func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		return placeholderSecret, true
	}
	files, err := o.files()
	if err != nil {
		return 0, err
	}
	loaded := map[string]*fixtures.Set{}
	passed := 0
	for i, file := range files {
		fx, err := o.fixturesFor(file, loaded)
		if err != nil {
			return failed, err
		}
		ok, err := o.file(ctx, i, file, fx)
		if err != nil {
			return failed, err
		}
		if ok {
			passed++
		} else {
			failed++
		}
	}
	if o.update {
		fmt.Fprintf(o.stdout, "%d transcript(s) written; read the screens before you commit them\n", passed)
		if failed > 0 {
			fmt.Fprintf(o.stdout, "%d could not be played to the end and were left as they were\n", failed)
		}
		return failed, nil
	}
	fmt.Fprintf(o.stdout, "%d passed, %d failed\n", passed, failed)
	return failed, nil
}

// files lists the transcripts: *.txt in each folder named, or the file.
func (o *ownerTest) files() ([]string, error) {
	paths := o.paths
	if len(paths) == 0 {
		paths = []string{filepath.Join(o.s.Flows, "transcripts")}
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("transcripts: %s: %w", fullPath(p), pathless(err))
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, "*.txt"))
		if len(m) == 0 {
			return nil, fmt.Errorf("no transcripts (*.txt) in %s", fullPath(p))
		}
		files = append(files, m...)
	}
	return files, nil
}

// fixturesFor loads the fixtures a transcript runs with: -fixtures, else
// fixtures.yaml in its folder, else none.
func (o *ownerTest) fixturesFor(file string, loaded map[string]*fixtures.Set) (*fixtures.Set, error) {
	path := o.fixtures
	if path == "" {
		path = filepath.Join(filepath.Dir(file), "fixtures.yaml")
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	if fx, ok := loaded[path]; ok {
		return fx, nil
	}
	fx, err := fixtures.Load(path)
	if err != nil {
		return nil, err
	}
	loaded[path] = fx
	return fx, nil
}

// failure is what went wrong at one line of a transcript.
type failure struct {
	line int
	msg  string
}

// file plays one transcript on a gateway of its own and reports it.
func (o *ownerTest) file(ctx context.Context, i int, file string, fx *fixtures.Set) (bool, error) {
	steps, data, err := transcript.ReadFile(file)
	if err != nil {
		return false, err
	}
	start := o.now
	if start.IsZero() && fx != nil {
		start = fx.Now
	}
	if start.IsZero() {
		start = defaultNow
	}
	clock := transcript.NewClock(start)
	box := &outbox{}
	stubs := &stubbedAdapters{fx: fx}
	slow := &slowAdapters{slow: map[string]bool{}, delay: o.s.StepBudget + 200*time.Millisecond}
	s := *o.s
	if o.redisPrefix != "" {
		s.RedisPrefix = o.redisPrefix + strconv.Itoa(i) + ":"
	}
	a, err := wire(ctx, &s, o.log, wireOptions{
		now: clock.Now,
		wrap: func(c flows.Caller) flows.Caller {
			stubs.next = c
			slow.next = stubs
			return slow
		},
		sms: box,
	})
	if err != nil {
		return false, fmt.Errorf("the gateway does not start with this config and these flows:\n%w", err)
	}
	if fx != nil {
		for _, name := range fx.Adapters() {
			if !slices.Contains(a.reg.Names(), name) {
				a.close()
				return false, fmt.Errorf("%s: adapter %q is not in the config (it has: %s)", fx.File, name, strings.Join(a.reg.Names(), ", "))
			}
		}
	}
	p := &transcript.Player{M: a.manager, Clock: clock, Prefix: "t" + strconv.Itoa(i), Outbox: box.all,
		// A late result comes after the slow adapter's delay, which
		// follows the step budget (slowAdapters below).
		SMSWait: slow.delay + 3*time.Second,
		Before:  func(st transcript.Step) { stubs.line.Store(int64(st.Line)) },
		Hooks: map[string]func(string) error{
			"slow": func(name string) error { return slow.set(name, true) },
			"fast": func(name string) error { return slow.set(name, false) },
			// @ subscribed <msisdn> <service> <topic> [k=v ...]: that
			// subscription is in the consent registry, with those params
			// (and lang=).
			"subscribed": func(arg string) error { return checkSubscribed(a.consent, arg, true) },
			// @ unsubscribed <msisdn> <service> <topic>: it is not.
			"unsubscribed": func(arg string) error { return checkSubscribed(a.consent, arg, false) },
		}}
	results, playErr := p.Play(ctx, steps)
	a.close() // waits for late results
	var fails []failure
	for _, m := range stubs.takeMisses() {
		fails = append(fails, failure{m.line, fmt.Sprintf("no fixture answers %s; %s has for %s:%s",
			m.miss, fx.File, m.miss.Adapter, fx.Describe(m.miss.Adapter))})
	}
	if playErr != nil {
		line, msg := splitLine(playErr.Error())
		fails = append(fails, failure{line, msg})
	}
	if o.update {
		if playErr != nil {
			o.report(file, fails)
			return false, nil
		}
		out := transcript.Rewrite(data, results)
		if err := os.WriteFile(file, out, 0o644); err != nil {
			return false, err
		}
		changed := 0
		for _, r := range results {
			if r.Got != r.Step.Want {
				changed++
			}
		}
		fmt.Fprintf(o.stdout, "wrote %s (%d screen(s) changed)\n", file, changed)
		return true, nil
	}
	for _, r := range results {
		switch {
		case !r.Step.HasOut:
			fails = append(fails, failure{r.Step.Line, fmt.Sprintf("%s: no screen written after it (ussdgw test -update writes it in); the gateway shows:\n%s",
				stepText(r.Step), indent(r.Got, "      "))})
		case r.Got != r.Step.Want:
			fails = append(fails, failure{r.Step.Line, fmt.Sprintf("%s: the screen differs (- expected, + got):\n%s",
				stepText(r.Step), lineDiff(r.Step.Want, r.Got))})
		}
	}
	if len(fails) == 0 {
		fmt.Fprintf(o.stdout, "ok   %s (%d screens)\n", file, len(results))
		return true, nil
	}
	o.report(file, fails)
	return false, nil
}

func (o *ownerTest) report(file string, fails []failure) {
	slices.SortStableFunc(fails, func(a, b failure) int { return a.line - b.line })
	fmt.Fprintf(o.stdout, "FAIL %s\n", file)
	for _, f := range fails {
		fmt.Fprintf(o.stdout, "  %s:%d: %s\n", file, f.line, f.msg)
	}
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// splitLine takes the "line N: " the player puts first off a message.
func splitLine(msg string) (int, string) {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, msg[len(m[0]):]
	}
	return 0, msg
}

// stepText is the transcript line of a step, as written.
func stepText(st transcript.Step) string {
	switch st.Action {
	case "dial", "input":
		return "> " + st.Arg
	}
	return strings.TrimSpace("@ " + st.Action + " " + st.Arg)
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

// lineDiff shows want against got line by line: common lines as they are,
// the expected ones that are not there with -, what came instead with +.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// Longest common subsequence, then walk it.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "      "+a[i])
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "    - "+a[i])
			i++
		default:
			out = append(out, "    + "+b[j])
			j++
		}
	}
	return strings.Join(out, "\n")
}

// stubbedAdapters answers the adapters the fixtures name and passes the
// other calls on; it notes which transcript line a call that no fixture
// matches came from.
type stubbedAdapters struct {
	next flows.Caller
	fx   *fixtures.Set
	line atomic.Int64

	mu     sync.Mutex
	misses []lineMiss
}

type lineMiss struct {
	line int
	miss fixtures.Miss
}

func (s *stubbedAdapters) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	if s.fx == nil || !s.fx.Stubs(name) {
		return s.next.Call(ctx, name, req)
	}
	res, err := s.fx.Call(ctx, name, req)
	if m := s.fx.TakeMisses(); len(m) > 0 {
		s.mu.Lock()
		for _, x := range m {
			s.misses = append(s.misses, lineMiss{int(s.line.Load()), x})
		}
		s.mu.Unlock()
	}
	return res, err
}

func (s *stubbedAdapters) takeMisses() []lineMiss {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.misses
	s.misses = nil
	return m
}

// outbox keeps the SMS the flows send, for "@ sms".
type outbox struct {
	mu   sync.Mutex
	sent []string
}

func (o *outbox) Send(_ context.Context, msisdn, text string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, text)
	return nil
}

func (o *outbox) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.sent...)
}

// slowAdapters makes the adapters named by "@ slow <name> [op]" take
// longer than the step budget (all their ops, or the one named), and
// "@ fast <name> [op]" undoes it. A slow call that outlives the step
// still answers after delay, as a slow back-end would: late_sms then
// sends the answer.
type slowAdapters struct {
	next  flows.Caller
	delay time.Duration
	mu    sync.Mutex
	slow  map[string]bool
}

func (s *slowAdapters) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	s.mu.Lock()
	slow := s.slow[name] || s.slow[name+" "+req.Op]
	s.mu.Unlock()
	if slow {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		// Both may be ready after a stall of the machine, and select
		// picks either: past the step's deadline, the answer is late,
		// whether or not ctx has been cancelled yet.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return nil, context.DeadlineExceeded
		}
	}
	return s.next.Call(ctx, name, req)
}

func (s *slowAdapters) set(name string, slow bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow[name] = slow
	return nil
}

// checkSubscribed checks the consent registry for "msisdn service topic
// [k=v...]" (lang=xx is the subscription's language, the others its params).
func checkSubscribed(reg *consent.Registry, arg string, want bool) error {
	f := strings.Fields(arg)
	if len(f) < 3 {
		return fmt.Errorf("want: msisdn service topic [k=v...], got %q", arg)
	}
	subs, err := reg.Subscriptions(context.Background(), f[0])
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.Service != f[1] || s.Topic != f[2] {
			continue
		}
		if !want {
			return fmt.Errorf("%s is still subscribed to %s/%s", f[0], f[1], f[2])
		}
		got := map[string]string{"lang": s.Lang}
		maps.Copy(got, s.Params)
		for _, kv := range f[3:] {
			k, v, _ := strings.Cut(kv, "=")
			if got[k] != v {
				return fmt.Errorf("subscription %s/%s of %s: %s=%q, want %q (all: %v)", f[1], f[2], f[0], k, got[k], v, got)
			}
		}
		if len(got) != len(f[3:]) {
			return fmt.Errorf("subscription %s/%s of %s has %v, the transcript names %v", f[1], f[2], f[0], got, f[3:])
		}
		return nil
	}
	if want {
		return fmt.Errorf("%s is not subscribed to %s/%s (has %+v)", f[0], f[1], f[2], subs)
	}
	return nil
}
