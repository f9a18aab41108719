package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

var phases = []string{"intake", "drain", "close"}

// trace records what the parts did, in order.
type trace struct {
	mu     sync.Mutex
	events []string
}

func (t *trace) add(s string) {
	t.mu.Lock()
	t.events = append(t.events, s)
	t.mu.Unlock()
}

func (t *trace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.events, " ")
}

// spec describes a part for the table: failStart makes its Start fail;
// stops lists the phases it stops in; failStop the phases whose stop fails.
type spec struct {
	name      string
	failStart bool
	stops     []string
	failStop  []string
	badPhase  bool // names a phase the group does not have
}

func (s spec) part(tr *trace) Part {
	p := Part{Name: s.name, Stop: map[string]func(context.Context) error{}}
	p.Start = func(context.Context) error {
		tr.add("start:" + s.name)
		if s.failStart {
			return errors.New("boom")
		}
		return nil
	}
	for _, ph := range s.stops {
		fail := false
		for _, f := range s.failStop {
			fail = fail || f == ph
		}
		p.Stop[ph] = func(context.Context) error {
			tr.add(ph + ":" + s.name)
			if fail {
				return errors.New("stuck work")
			}
			return nil
		}
	}
	if s.badPhase {
		p.Stop["later"] = func(context.Context) error { return nil }
	}
	return p
}

// The lifecycle's contract, case by case: the order parts start and stop
// in, what a failed start undoes, and what a failing stop reports.
func TestGroup(t *testing.T) {
	all := []string{"intake", "drain", "close"}
	cases := []struct {
		name     string
		batches  [][]spec // each a call of Start
		startErr string   // of the last Start call
		// after the starts, Shutdown runs (when startErr is "")
		want     string // the trace
		stopErr  string
		warnLogs []string
	}{
		{
			name: "start in order, stop in reverse phase by phase",
			batches: [][]spec{{
				{name: "store", stops: []string{"close"}},
				{name: "smpp", stops: all},
				{name: "http", stops: []string{"intake", "drain"}},
			}},
			want: "start:store start:smpp start:http " +
				"intake:http intake:smpp drain:http drain:smpp close:smpp close:store",
		},
		{
			name: "a part without Start or stops is fine",
			batches: [][]spec{{
				{name: "a", stops: []string{"drain"}},
				{name: "b"},
			}},
			want: "start:a start:b drain:a",
		},
		{
			name: "a failed start undoes the parts started before it, not itself nor later ones",
			batches: [][]spec{{
				{name: "store", stops: []string{"close"}},
				{name: "smpp", stops: all},
				{name: "http", failStart: true, stops: all},
				{name: "never", stops: all},
			}},
			startErr: "starting http: boom",
			want:     "start:store start:smpp start:http intake:smpp drain:smpp close:smpp close:store",
		},
		{
			name: "a failed start undoes the parts of earlier Start calls too",
			batches: [][]spec{
				{{name: "store", stops: []string{"close"}}},
				{{name: "http", failStart: true}},
			},
			startErr: "starting http: boom",
			want:     "start:store start:http close:store",
		},
		{
			name: "a part stopping in an unknown phase is refused before it starts",
			batches: [][]spec{{
				{name: "store", stops: []string{"close"}},
				{name: "odd", badPhase: true},
			}},
			startErr: `starting odd: it stops in phase "later"`,
			want:     "start:store close:store",
		},
		{
			name: "a failing stop is reported with its part and phase; later phases still run",
			batches: [][]spec{{
				{name: "store", stops: []string{"close"}},
				{name: "manager", stops: []string{"drain"}, failStop: []string{"drain"}},
				{name: "http", stops: []string{"intake", "drain"}},
			}},
			want:     "start:store start:manager start:http intake:http drain:http drain:manager close:store",
			stopErr:  "manager: stuck work",
			warnLogs: []string{`level=WARN msg="shutdown phase" phase=drain`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tr trace
			var logs bytes.Buffer
			g := New(Config{Phases: phases, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			var err error
			for _, batch := range tc.batches {
				var parts []Part
				for _, s := range batch {
					parts = append(parts, s.part(&tr))
				}
				err = g.Start(context.Background(), parts...)
			}
			if tc.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.startErr) {
					t.Fatalf("start error %v, want %q", err, tc.startErr)
				}
				if got := tr.String(); got != tc.want {
					t.Errorf("trace\n got %s\nwant %s", got, tc.want)
				}
				if n := len(g.Names()); n != 0 {
					t.Errorf("%d parts left after the undo", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = g.Shutdown(5 * time.Second)
			if tc.stopErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.stopErr != "" && (err == nil || !strings.Contains(err.Error(), tc.stopErr)) {
				t.Errorf("shutdown error %v, want %q", err, tc.stopErr)
			}
			if got := tr.String(); got != tc.want {
				t.Errorf("trace\n got %s\nwant %s", got, tc.want)
			}
			for _, ph := range phases {
				if n := strings.Count(logs.String(), "phase="+ph+" took="); n != 1 {
					t.Errorf("phase %s logged %d times:\n%s", ph, n, logs.String())
				}
			}
			for _, w := range tc.warnLogs {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("no %q in the log:\n%s", w, logs.String())
				}
			}
			// Stopping is once: another Shutdown or Close does nothing,
			// and nothing starts any more.
			before := tr.String()
			if err := g.Shutdown(time.Second); err != nil {
				t.Errorf("second shutdown: %v", err)
			}
			g.Close()
			if err := g.Start(context.Background(), spec{name: "late"}.part(&tr)); err == nil {
				t.Error("a part started after the shutdown")
			}
			if tr.String() != before {
				t.Errorf("parts ran again: %s", tr.String())
			}
		})
	}
}

// The phases share the shutdown's deadline.
func TestShutdownDeadline(t *testing.T) {
	g := New(Config{Phases: phases, Log: slog.New(slog.DiscardHandler)})
	var deadlines []time.Time
	stop := func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		deadlines = append(deadlines, d)
		return nil
	}
	start := time.Now()
	if err := g.Start(context.Background(), Part{Name: "p", Stop: map[string]func(context.Context) error{"intake": stop, "close": stop}}); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(deadlines) != 2 || !deadlines[0].Equal(deadlines[1]) || deadlines[0].Before(start.Add(time.Minute)) {
		t.Errorf("deadlines %v", deadlines)
	}
}

// A stop that ignores its context cannot hold the process: the watchdog
// returns Grace past the timeout and says so.
func TestShutdownWatchdog(t *testing.T) {
	var logs bytes.Buffer
	g := New(Config{Phases: phases, Grace: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	stuck := make(chan struct{})
	defer close(stuck)
	err := g.Start(context.Background(), Part{Name: "stubborn", Stop: map[string]func(context.Context) error{
		"drain": func(context.Context) error { <-stuck; return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = g.Shutdown(100 * time.Millisecond)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Errorf("shutdown with a stuck stop: %v", err)
	}
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Errorf("the watchdog fired after %s, want about 150ms", took)
	}
	if !strings.Contains(logs.String(), "shutdown watchdog") {
		t.Errorf("no watchdog line:\n%s", logs.String())
	}
}

// Start is safe from several goroutines (the race detector checks).
func TestConcurrentStart(t *testing.T) {
	g := New(Config{Phases: phases, Log: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_ = g.Start(context.Background(), Part{Name: fmt.Sprint(i)})
		})
	}
	wg.Wait()
	if n := len(g.Names()); n != 8 {
		t.Errorf("%d parts", n)
	}
	g.Close()
}
