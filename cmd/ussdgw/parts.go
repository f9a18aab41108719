package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ussdgw/ussdgw/lifecycle"
)

// The phases of the gateway's shutdown, in order (see app.shutdown). Each
// part of the gateway (package lifecycle) says what it does in the phases
// it takes part in; within a phase the parts stop in the reverse of their
// start order.
const (
	// Stop taking new work where the peer can send it elsewhere: the
	// SMPP receiving binds end, the HTTP listener closes.
	phaseIntake = "stop taking new work"
	// Answer every step already acknowledged (SMPP steps in flight, HTTP
	// requests in progress), then wait for the managers' late results.
	phaseDrain = "answer acknowledged steps"
	// Background consumers stop; what they had taken and not finished
	// stays pending in Redis for another instance.
	phaseRelease = "hand queue entries back"
	// Unbind the transmitters, stop the adapters, close the stores.
	phaseClose = "close"
)

// newLife returns the gateway's (empty) lifecycle.
func newLife(log *slog.Logger) *lifecycle.Group {
	return lifecycle.New(lifecycle.Config{
		Phases: []string{phaseIntake, phaseDrain, phaseRelease, phaseClose},
		Log:    log,
	})
}

// stops builds a Part's Stop from phase/func pairs.
type stops = map[string]func(context.Context) error

// closing is a close-phase stop that gets its own 10 s whatever is left
// of the shutdown's deadline (the earlier phases may have used it all; a
// store must still be closed), and logs its error as what it was doing
// rather than failing the phase.
func closing(log *slog.Logger, what string, f func(context.Context) error) func(context.Context) error {
	return func(context.Context) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f(ctx); err != nil {
			log.Error(what, "err", err)
		}
		return nil
	}
}

// closeOnly is a part that only closes (what it is was opened by then).
func closeOnly(name string, f func()) lifecycle.Part {
	return lifecycle.Part{Name: name, Stop: stops{phaseClose: func(context.Context) error { f(); return nil }}}
}

// httpPart serves srv on ln. srv.Shutdown closes the listener at once and
// then waits for the requests in progress: it starts in phase 1 (intake)
// and is waited for in phase 2 (drain). down, when set, runs first in
// phase 1 (the gateway's /healthz says "down" while the phases run).
// errc receives Serve's error when it fails.
func httpPart(srv *http.Server, ln net.Listener, down func(), errc chan<- error) lifecycle.Part {
	httpDone := make(chan error, 1)
	return lifecycle.Part{
		Name: "http",
		Start: func(context.Context) error {
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					errc <- err
				}
			}()
			return nil
		},
		Stop: stops{
			phaseIntake: func(ctx context.Context) error {
				if down != nil {
					down()
				}
				go func() { httpDone <- srv.Shutdown(ctx) }()
				return nil
			},
			phaseDrain: func(ctx context.Context) error {
				if err := <-httpDone; err != nil {
					return fmt.Errorf("finishing http requests: %w", err)
				}
				return nil
			},
		},
	}
}

// workerPart runs a background consumer (the outbox, the reminders, the
// alerts) until phase 3 of the shutdown cancels its context, and waits for
// it to return: by then every step is answered and every late result
// handed over, and the binds are still up for the sends in progress. What
// it had taken and not finished stays in Redis for another instance.
func workerPart(name string, run func(context.Context) error) lifecycle.Part {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	return lifecycle.Part{
		Name:  name,
		Start: func(context.Context) error { go func() { done <- run(ctx) }(); return nil },
		Stop: stops{phaseRelease: func(wait context.Context) error {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			case <-wait.Done():
				return fmt.Errorf("did not stop: %w", wait.Err())
			}
		}},
	}
}
