package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	benchflow "github.com/ussdgw/ussdgw/cmd/loadtest/flows"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/smsc"
)

// loadConfig is one USSD load run.
type loadConfig struct {
	code        string        // the dialled code
	inputs      []string      // the user's answers, one per step after the dial
	expect      []string      // a substring each screen must contain; the last screen must end the session
	concurrency int           // sessions in progress at once
	sessions    int           // stop after this many sessions (0: only the duration)
	duration    time.Duration // stop after this long (0: only the session count)
	warmup      time.Duration // sessions run but are not measured for this long at the start
	timeout     time.Duration // wait for one screen
	msisdnBase  uint64        // phone numbers: base + worker*1000 + session%1000
	binds       int           // binds to wait for
	bindWait    time.Duration
}

// loadResult is what a run measured.
type loadResult struct {
	Elapsed    time.Duration
	Sessions   int64             // completed with every screen as expected
	Failed     int64             // sessions cut by an error or a mismatch
	Steps      int64             // screens received (measured phase)
	Mismatches int64             // screens that were not the expected one
	Errors     int64             // timeouts, refused deliver_sm, lost binds
	Latency    [][]time.Duration // per step, sorted
	CPU        time.Duration     // this process's CPU time in the measured window
	FirstError string
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsc-sim load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf simFlags
	sf.register(fs)
	var lc loadConfig
	inputs := fs.String("inputs", "1,2,3", "the answers after the dial, comma-separated")
	expect := fs.String("expect", "", "a substring of each screen, |-separated; the last screen must be an END (default: the first line of each screen cmd/loadtest/flows/bench.yaml shows for -inputs)")
	fs.StringVar(&lc.code, "code", benchflow.Code, "the USSD code dialled (cmd/loadtest/flows/bench.yaml)")
	fs.IntVar(&lc.concurrency, "concurrency", 100, "sessions in progress at once")
	fs.IntVar(&lc.sessions, "sessions", 0, "stop after this many sessions (0: run for -duration)")
	fs.DurationVar(&lc.duration, "duration", 10*time.Second, "stop after this long (0: run for -sessions)")
	fs.DurationVar(&lc.warmup, "warmup", 2*time.Second, "run this long before measuring")
	fs.DurationVar(&lc.timeout, "timeout", 5*time.Second, "how long to wait for one screen")
	fs.Uint64Var(&lc.msisdnBase, "msisdn-base", 0, "first phone number (0: a random 2547… number, so that runs do not share numbers)")
	fs.IntVar(&lc.binds, "binds", 1, "wait for this many binds of the gateway before starting")
	fs.DurationVar(&lc.bindWait, "bind-wait", 30*time.Second, "how long to wait for them")
	self := fs.Bool("self", false, "bind a built-in Go ESME (phase 1 smpp.Client) serving the bench menu instead of waiting for the gateway: measures the generator")
	selfWorkers := fs.Int("self-workers", 16, "inbound workers of the built-in ESME")
	cpuProfile := fs.String("cpuprofile", "", "write this process's CPU profile to the file")
	procs := fs.Int("procs", 1, "GOMAXPROCS of the generator: it shares the machine with the gateway and Redis, and one P spends less CPU per step than several that spin (0: Go's default)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: smsc-sim load [flags]

Plays the USSDC for a load test: listens, waits for the gateway to bind,
then runs -concurrency sessions at a time of one dial and the -inputs
answers each, and prints steps/s and the latency of each step (deliver_sm
sent to submit_sm received). Every screen is checked against -expect.

`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *procs > 0 && !*self {
		runtime.GOMAXPROCS(*procs)
	}
	lc.inputs = strings.Split(*inputs, ",")
	if *expect == "" {
		var err error
		if lc.expect, err = benchflow.Expect(lc.inputs); err != nil {
			return fmt.Errorf("the screens of the bench flow: %w", err)
		}
	} else {
		lc.expect = strings.Split(*expect, "|")
	}
	if len(lc.expect) != len(lc.inputs)+1 {
		return fmt.Errorf("-expect has %d screens for %d steps", len(lc.expect), len(lc.inputs)+1)
	}
	if lc.msisdnBase == 0 {
		lc.msisdnBase = 254700000000 + rand.Uint64N(90000000)
	}
	if lc.sessions == 0 && lc.duration == 0 {
		return fmt.Errorf("set -sessions or -duration")
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := smsc.Start(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *self {
		c, err := startSelfESME(srv, cfg.Profile, *selfWorkers)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
	} else {
		fmt.Fprintf(stdout, "waiting for %d bind(s) on %s (profile %s)\n", lc.binds, srv.Addr(), cfg.Profile.Name)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := load(ctx, srv, lc)
	if err != nil {
		return err
	}
	res.print(stdout, lc)
	if res.Mismatches > 0 || res.Errors > 0 {
		return fmt.Errorf("%d mismatches, %d errors (first: %s)", res.Mismatches, res.Errors, res.FirstError)
	}
	return nil
}

// startSelfESME binds a phase 1 smpp.Client serving the bench menu.
func startSelfESME(srv *smsc.Server, p smsc.Profile, workers int) (*smpp.Client, error) {
	cfg := smpp.Defaults()
	cfg.Name, cfg.Address, cfg.SystemID, cfg.Password = "self", srv.Addr(), "self", "self"
	cfg.Sources = []smpp.Source{{Addr: "777"}}
	cfg.Window = 500
	cfg.Inbound.Workers = workers
	cfg.Inbound.Queue = 4096
	c, err := smpp.New(cfg, smsc.ESMEHandler(p, benchMenu), smpp.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// benchMenu is what the gateway serves for cmd/loadtest/flows/bench.yaml:
// the flow's own screens, run through the flow engine.
func benchMenu(code string, inputs []string) (string, bool) { return benchflow.Menu(code, inputs) }

// load runs the sessions and measures them.
func load(ctx context.Context, srv *smsc.Server, lc loadConfig) (*loadResult, error) {
	bctx, cancel := context.WithTimeout(ctx, lc.bindWait)
	err := srv.WaitBound(bctx, lc.binds)
	cancel()
	if err != nil {
		return nil, err
	}
	steps := len(lc.inputs) + 1
	res := &loadResult{}
	var budget atomic.Int64 // sessions left to start, when -sessions is set
	budget.Store(int64(lc.sessions))
	// No session starts after the run's time is up, and those under way
	// are played to their end, so that none is left half-way in the
	// gateway's store (its next dial would be offered to resume it).
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	if lc.duration > 0 {
		var c2 context.CancelFunc
		stop, c2 = context.WithTimeout(stop, lc.warmup+lc.duration)
		defer c2()
	}
	// What happens before measureFrom is warm-up, and after measureTo
	// cool-down: not counted.
	measureFrom := time.Now().Add(lc.warmup)
	measureTo := time.Now().Add(100 * 365 * 24 * time.Hour)
	if lc.duration > 0 {
		measureTo = measureFrom.Add(lc.duration)
	}
	in := func(t time.Time) bool { return t.After(measureFrom) && !t.After(measureTo) }
	var last atomic.Int64 // UnixNano of the last counted session end
	var cpuFrom, cpuTo atomic.Int64
	t1 := time.AfterFunc(time.Until(measureFrom), func() { cpuFrom.Store(int64(cpuTime())) })
	defer t1.Stop()
	if lc.duration > 0 {
		t2 := time.AfterFunc(time.Until(measureTo), func() { cpuTo.Store(int64(cpuTime())) })
		defer t2.Stop()
	}
	var firstErr sync.Once
	var mu sync.Mutex
	lat := make([][]time.Duration, steps)
	var wg sync.WaitGroup
	for w := range lc.concurrency {
		wg.Go(func() {
			local := make([][]time.Duration, steps)
			var n uint64
			for stop.Err() == nil {
				if lc.sessions > 0 && budget.Add(-1) < 0 {
					break
				}
				msisdn := fmt.Sprint(lc.msisdnBase + uint64(w)*1000 + n%1000)
				n++
				err := session(ctx, srv, lc, msisdn, func(step int, sc smsc.Screen) {
					if in(sc.Submit.Received) {
						local[step] = append(local[step], sc.Latency)
					}
				})
				if ctx.Err() != nil {
					break // interrupted
				}
				now := time.Now()
				if !in(now) {
					continue
				}
				last.Store(now.UnixNano())
				switch {
				case errors.Is(err, errMismatch):
					atomic.AddInt64(&res.Mismatches, 1)
					atomic.AddInt64(&res.Failed, 1)
					firstErr.Do(func() { res.FirstError = err.Error() })
				case err != nil:
					atomic.AddInt64(&res.Errors, 1)
					atomic.AddInt64(&res.Failed, 1)
					firstErr.Do(func() { res.FirstError = err.Error() })
				default:
					atomic.AddInt64(&res.Sessions, 1)
				}
			}
			mu.Lock()
			for i := range local {
				lat[i] = append(lat[i], local[i]...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cpuTo.Load() == 0 {
		cpuTo.Store(int64(cpuTime()))
	}
	res.CPU = time.Duration(cpuTo.Load() - cpuFrom.Load())
	res.Elapsed = lc.duration
	if lc.duration == 0 {
		res.Elapsed = time.Unix(0, last.Load()).Sub(measureFrom)
	}
	if res.Elapsed <= 0 {
		return nil, fmt.Errorf("the run ended before the warm-up did")
	}
	for i := range lat {
		slices.Sort(lat[i])
		res.Steps += int64(len(lat[i]))
	}
	res.Latency = lat
	return res, nil
}

var errMismatch = errors.New("unexpected screen")

// session plays one dialogue; the error wraps errMismatch when a screen
// was not the expected one.
func session(ctx context.Context, srv *smsc.Server, lc loadConfig, msisdn string, seen func(int, smsc.Screen)) error {
	sctx, cancel := context.WithTimeout(ctx, lc.timeout*time.Duration(len(lc.inputs)+1))
	defer cancel()
	ss, err := srv.Dial(sctx, msisdn, lc.code)
	if err != nil {
		return err
	}
	defer ss.Close()
	for step := 0; step <= len(lc.inputs); step++ {
		if step > 0 {
			if err := ss.Reply(lc.inputs[step-1]); err != nil {
				return err
			}
		}
		sc, err := ss.Next(sctx)
		if err != nil {
			return err
		}
		seen(step, sc)
		if !strings.Contains(sc.Text, lc.expect[step]) || sc.End != (step == len(lc.inputs)) {
			kind := "continue"
			if sc.End {
				kind = "end"
			}
			return fmt.Errorf("%w: %s step %d (%q): want %q, got %s op 0x%02X %q", errMismatch, msisdn, step+1, lc.inputs[max(step-1, 0)], lc.expect[step], kind, sc.Op, sc.Text)
		}
	}
	return nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func (r *loadResult) print(w io.Writer, lc loadConfig) {
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "USSD load: %d concurrent sessions of %d steps (%s then %s), %.1fs measured\n",
		lc.concurrency, len(lc.inputs)+1, lc.code, strings.Join(lc.inputs, ", "), secs)
	fmt.Fprintf(w, "steps: %d = %.0f steps/s; sessions: %d completed = %.0f/s, %d failed; mismatches: %d; errors: %d\n",
		r.Steps, float64(r.Steps)/secs, r.Sessions, float64(r.Sessions)/secs, r.Failed, r.Mismatches, r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstError)
	}
	if r.CPU > 0 && r.Steps > 0 {
		fmt.Fprintf(w, "this process: %.2f cores, %.0fµs CPU per step\n", r.CPU.Seconds()/secs, float64(r.CPU.Microseconds())/float64(r.Steps))
	}
	fmt.Fprintf(w, "%-10s %9s %9s %9s %9s %9s\n", "step", "n", "p50", "p90", "p99", "max")
	var all []time.Duration
	for i, d := range r.Latency {
		name := "dial"
		if i > 0 {
			name = "reply " + lc.inputs[i-1]
		}
		all = append(all, d...)
		fmt.Fprintf(w, "%-10s %9d %9s %9s %9s %9s\n", name, len(d), ms(pct(d, .5)), ms(pct(d, .9)), ms(pct(d, .99)), ms(pct(d, 1)))
	}
	slices.Sort(all)
	fmt.Fprintf(w, "%-10s %9d %9s %9s %9s %9s\n", "all", len(all), ms(pct(all, .5)), ms(pct(all, .9)), ms(pct(all, .99)), ms(pct(all, 1)))
}
