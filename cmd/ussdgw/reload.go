package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/lifecycle"
	"github.com/ussdgw/ussdgw/reload"
)

// reloadSettings are the hot reload's settings, a part of settings.
type reloadSettings struct {
	FlowsWatch bool
}

func reloadDefaults() reloadSettings { return reloadSettings{FlowsWatch: true} }

func (r *reloadSettings) reloadOptions() []option {
	return []option{
		{name: "flows-watch", usage: "reload the flows when a file in the flows directory changes; off: only on SIGHUP or POST /api/v1/flows/reload (see docs/reload.md)", flag: &r.FlowsWatch},
	}
}

// loadFlows loads and checks the flows in dir as the gateway serves them:
// at the start and on every reload, against the adapters configured.
func loadFlows(dir string, reg *adapters.Registry) (*flows.Set, error) {
	return flows.Load(dir, flows.Options{Adapters: reg.Names(), Ops: reg.Ops()})
}

// newReloader keeps the flows of dir current in the session managers
// (added to a.managers as they are built); initial is the set loaded at
// the start.
func (a *app) newReloader(dir string, log *slog.Logger, initial *flows.Set) *reload.Reloader {
	return reload.New(reload.Config{
		Dir:  dir,
		Load: func() (*flows.Set, error) { return loadFlows(dir, a.reg) },
		Apply: func(set *flows.Set) {
			for _, m := range a.managers {
				m.SetFlows(set)
			}
		},
		Kept: a.keptVersions,
		Log:  log,
	}, initial)
}

// flows returns the services now served.
func (a *app) flows() *flows.Set { return a.reloader.Current() }

// keptVersions lists the flow versions kept for sessions in progress, of
// every session manager.
func (a *app) keptVersions() []reload.KeptVersion {
	var out []reload.KeptVersion
	for _, m := range a.managers {
		for _, k := range m.KeptVersions() {
			out = append(out, reload.KeptVersion{Service: k.Service, Version: k.Version, File: k.File, Replaced: k.Replaced, LastUsed: k.LastUsed})
		}
	}
	return out
}

// reloadParts watch the flows directory and reload on SIGHUP; both are
// set up before the gateway says it is ready. A watch that cannot be set
// up (a file system without notifications, the inotify limit) is logged
// and the gateway serves on: SIGHUP and the API still reload.
func (a *app) reloadParts(s *settings, log *slog.Logger) []lifecycle.Part {
	var stopWatch context.CancelFunc
	var watching <-chan struct{}
	watch := lifecycle.Part{
		Name: "flows watch",
		Start: func(context.Context) error {
			if !s.FlowsWatch {
				log.Info("the flows are not watched (flows-watch off): reload them with SIGHUP or POST /api/v1/flows/reload")
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			done, err := a.reloader.Watch(ctx)
			if err != nil {
				cancel()
				log.Warn("the flows are not watched: reload them with SIGHUP or POST /api/v1/flows/reload", "err", err)
				return nil
			}
			stopWatch, watching = cancel, done
			return nil
		},
		Stop: stops{phaseRelease: func(ctx context.Context) error {
			if stopWatch == nil {
				return nil
			}
			stopWatch()
			select {
			case <-watching:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
	}
	hups := make(chan os.Signal, 1)
	hup := workerPart("SIGHUP reload", func(ctx context.Context) error {
		defer signal.Stop(hups)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hups:
				_, _ = a.reloader.Reload(ctx, reload.CauseSignal) // a refusal is logged and kept
			}
		}
	})
	start := hup.Start
	hup.Start = func(ctx context.Context) error {
		signal.Notify(hups, syscall.SIGHUP) // before the gateway says it is ready
		return start(ctx)
	}
	return []lifecycle.Part{watch, hup}
}

// flowsReady is the flows' part of /readyz: the versions served and, while
// the files on disk are not valid, the problems of the refused reload.
// It never makes the gateway unready: the set loaded before still serves.
func (a *app) flowsReady() map[string]any {
	st := a.reloader.Status()
	f := map[string]any{"status": "ok", "generation": st.Generation, "services": st.Services}
	if st.Refused != nil {
		f["status"] = "reload refused"
		f["refused_at"] = st.Refused.At
		if len(st.Refused.Problems) > 0 {
			f["problems"] = st.Refused.Problems
		} else {
			f["problems"] = []string{"the flows could not be read; see the gateway's log"}
		}
	}
	return map[string]any{"flows": f}
}
