// Package lifecycle starts and stops the parts of a process in one place:
// named parts start in order, a part that fails to start undoes the ones
// started before it, and a shutdown stops them in reverse order, phase by
// phase, under one deadline and a watchdog that returns even when a part
// ignores its context. It imports nothing of this
// module, so that any command can use it.
//
// A process declares its shutdown phases (for the gateway: stop taking new
// work, answer what was acknowledged, hand queue entries back, close) and
// each part says what it does in the phases it takes part in. Within a
// phase, parts stop in the reverse of their start order, so a part stops
// before the parts it was built on.
//
// It imports nothing of the module: it knows parts only by name.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Part is one thing a process starts and stops.
type Part struct {
	// Name names the part in errors and logs.
	Name string
	// Start starts it (nil: nothing to start, say for a part built
	// already that only needs stopping). A Start that fails cleans up
	// after itself: only the parts started before it are undone.
	Start func(ctx context.Context) error
	// Stop is what stopping the part does, by phase name; a part takes
	// no part in the phases it does not name. Each is called at most
	// once, with the shutdown's deadline.
	Stop map[string]func(ctx context.Context) error
}

// Config configures a Group.
type Config struct {
	// Phases are the shutdown's phases, in order. At least one.
	Phases []string
	// Grace is how long past the shutdown's deadline the watchdog waits
	// for the phases before Shutdown returns anyway (2 s).
	Grace time.Duration
	// UndoTimeout bounds undoing the parts when one fails to start, and
	// Close (10 s).
	UndoTimeout time.Duration
	Log         *slog.Logger
}

// Group is the parts of a process. It is safe for concurrent use.
type Group struct {
	cfg Config

	mu      sync.Mutex
	started []Part // in start order
	stopped bool
}

// New returns an empty group.
func New(cfg Config) *Group {
	if len(cfg.Phases) == 0 {
		panic("lifecycle: a group needs at least one phase")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.UndoTimeout <= 0 {
		cfg.UndoTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Group{cfg: cfg}
}

// Start starts parts in order and adds them to the group. When one fails,
// every part of the group started before it (by this call or an earlier
// one) is undone, all phases, in reverse; the error names the part. A
// group that is stopping or stopped starts nothing.
func (g *Group) Start(ctx context.Context, parts ...Part) error {
	for _, p := range parts {
		if err := g.start(ctx, p); err != nil {
			g.Close()
			return err
		}
	}
	return nil
}

func (g *Group) start(ctx context.Context, p Part) error {
	for phase := range p.Stop {
		if !slices.Contains(g.cfg.Phases, phase) {
			return fmt.Errorf("starting %s: it stops in phase %q, which is not one of %q", p.Name, phase, g.cfg.Phases)
		}
	}
	g.mu.Lock()
	stopped := g.stopped
	g.mu.Unlock()
	if stopped {
		return fmt.Errorf("starting %s: the process is stopping", p.Name)
	}
	if p.Start != nil {
		if err := p.Start(ctx); err != nil {
			return fmt.Errorf("starting %s: %w", p.Name, err)
		}
	}
	g.mu.Lock()
	g.started = append(g.started, p)
	g.mu.Unlock()
	return nil
}

// Names returns the names of the parts started, in start order.
func (g *Group) Names() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, len(g.started))
	for i, p := range g.started {
		out[i] = p.Name
	}
	return out
}

// take hands the started parts to one stop, once.
func (g *Group) take() []Part {
	g.mu.Lock()
	defer g.mu.Unlock()
	parts := g.started
	g.started, g.stopped = nil, true
	return parts
}

// Close stops every part at once, all phases under UndoTimeout, without
// logging the phases: for a start that failed half-way and for tests.
// Later calls do nothing.
func (g *Group) Close() {
	parts := g.take()
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.UndoTimeout)
	defer cancel()
	for _, phase := range g.cfg.Phases {
		_ = runPhase(ctx, parts, phase)
	}
}

// Shutdown stops the parts phase by phase, each phase logged once with how
// long it took (at WARN with its errors when one of its stops failed; the
// later phases run all the same). The phases share one deadline, timeout;
// a watchdog Grace past it returns even when a stop ignores its context,
// so that the process can exit. The error joins every stop's error.
// Later calls do nothing.
func (g *Group) Shutdown(timeout time.Duration) error {
	parts := g.take()
	log := g.cfg.Log
	start := time.Now()
	log.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var failed []error
		for _, phase := range g.cfg.Phases {
			t := time.Now()
			err := runPhase(ctx, parts, phase)
			took := time.Since(t).Round(time.Millisecond)
			if err != nil {
				failed = append(failed, err)
				log.Warn("shutdown phase", "phase", phase, "took", took, "err", err)
				continue
			}
			log.Info("shutdown phase", "phase", phase, "took", took)
		}
		done <- errors.Join(failed...)
	}()
	watchdog := time.NewTimer(timeout + g.cfg.Grace)
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

// runPhase runs one phase's stops of parts, in reverse start order, and
// joins their errors, each prefixed with its part's name.
func runPhase(ctx context.Context, parts []Part, phase string) error {
	var errs []error
	for i := len(parts) - 1; i >= 0; i-- {
		f := parts[i].Stop[phase]
		if f == nil {
			continue
		}
		if err := f(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", parts[i].Name, err))
		}
	}
	return errors.Join(errs...)
}
