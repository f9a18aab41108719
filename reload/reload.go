// Package reload keeps the flows a gateway serves current without a
// restart. On a change in the flows directory (watched with fsnotify and
// debounced), on SIGHUP or on an API call, it loads and checks the whole
// set again, with the same loading and checks the gateway starts with and
// `ussdgw lint` runs, and swaps the new set in only when it is valid. An
// invalid edit is refused: the set loaded before keeps serving, and the
// reason is logged and kept (Status) for /readyz, the API and the
// workbench. See docs/reload.md. It imports only flows
// (never ussd or a transport: the caller swaps the set in).
//
// It knows flows only: it must not import the session layer or the
// transports; Config.Apply is how the gateway swaps a set in.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ussdgw/ussdgw/flows"
)

// Config configures a Reloader.
type Config struct {
	// Dir is the flows directory Watch watches.
	Dir string
	// Load loads and checks the flows (the gateway: flows.Load with the
	// adapters' names). Required.
	Load func() (*flows.Set, error)
	// Apply swaps a new, valid set in (the session managers' SetFlows).
	// Required. Calls are serialized.
	Apply func(*flows.Set)
	// Debounce is how long Watch waits after the last change before it
	// reloads (250 ms): an editor's save is several events, a copy of a
	// directory many.
	Debounce time.Duration
	// RefreshEvery bounds how often Refresh reloads (1 s).
	RefreshEvery time.Duration
	// Kept, when set, lists the versions replaced by reloads that are
	// still kept for sessions that began on them (Status.Kept).
	Kept func() []KeptVersion
	Now  func() time.Time
	Log  *slog.Logger
}

// Causes of a reload, as Status reports them.
const (
	CauseStart   = "start"
	CauseFile    = "file change"
	CauseSignal  = "SIGHUP"
	CauseAPI     = "api"
	CauseRefresh = "unknown flow version" // a session began on a version not loaded here
)

// Status is what the flows now served are and how the last reload went.
type Status struct {
	// Generation counts the sets swapped in since the start (0: the set
	// loaded at the start); Attempts counts every reload tried.
	Generation int64 `json:"generation"`
	Attempts   int64 `json:"attempts"`
	// LoadedAt and Cause are when and why the set served was swapped in.
	LoadedAt time.Time `json:"loaded_at"`
	Cause    string    `json:"cause"`
	// Services maps each service served to its version (a hash of its
	// file: flows.Flow.Version).
	Services map[string]string `json:"services"`
	// Refused is the last reload's refusal, while the files on disk are
	// still not valid (nil once a reload succeeds).
	Refused *Refusal `json:"refused,omitempty"`
	// Kept are the versions replaced by reloads that sessions in
	// progress may still run on (Config.Kept).
	Kept []KeptVersion `json:"kept"`
}

// KeptVersion is a flow version a reload replaced, kept for the sessions
// that began on it.
type KeptVersion struct {
	Service  string    `json:"service"`
	Version  string    `json:"version"`
	File     string    `json:"file"`
	Replaced time.Time `json:"replaced"`
	LastUsed time.Time `json:"last_used"`
}

// Refusal is why a new set of flows was not swapped in.
type Refusal struct {
	At    time.Time `json:"at"`
	Cause string    `json:"cause"`
	// Error is the whole error; Problems are its positioned problems,
	// one "file:line:col: path: message" each, file relative to Dir.
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

// Result is the outcome of one reload that swapped a set in or found
// nothing to change.
type Result struct {
	Status
	// Changed lists the services added, changed or removed, as
	// "id" with their new version, or "id (removed)"; empty when the
	// files were as loaded.
	Changed []string `json:"changed"`
}

// Reloader reloads the flows. It is safe for concurrent use.
type Reloader struct {
	cfg Config
	log *slog.Logger

	cur atomic.Pointer[flows.Set]

	mu          sync.Mutex // one reload at a time
	st          Status
	lastAttempt time.Time
	next        chan struct{} // closed when the attempt in progress (or the next one) ends
}

// New returns a Reloader serving initial, the set loaded at the start.
func New(cfg Config, initial *flows.Set) *Reloader {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 250 * time.Millisecond
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Reloader{cfg: cfg, log: cfg.Log.With("comp", "reload"), next: make(chan struct{})}
	r.cur.Store(initial)
	r.st = Status{LoadedAt: cfg.Now(), Cause: CauseStart, Services: versions(initial)}
	return r
}

// Current returns the set now served.
func (r *Reloader) Current() *flows.Set { return r.cur.Load() }

// Status returns the state of the flows and of the last reload.
func (r *Reloader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

// snapshot is a copy of the status with the kept versions; r.mu held.
func (r *Reloader) snapshot() Status {
	st := r.st.clone()
	st.Kept = r.kept()
	return st
}

func (r *Reloader) kept() []KeptVersion {
	if r.cfg.Kept == nil {
		return []KeptVersion{}
	}
	out := r.cfg.Kept()
	for i := range out {
		out[i].File = r.relative(out[i].File)
	}
	if out == nil {
		out = []KeptVersion{}
	}
	return out
}

func (s Status) clone() Status {
	c := s
	c.Services = make(map[string]string, len(s.Services))
	for k, v := range s.Services {
		c.Services[k] = v
	}
	if s.Refused != nil {
		ref := *s.Refused
		ref.Problems = append([]string(nil), s.Refused.Problems...)
		c.Refused = &ref
	}
	return c
}

// Next returns a channel closed when the next reload attempt ends (or the
// one in progress): tests and tools wait on it instead of sleeping. Take
// it before causing the change, then read Status.
func (r *Reloader) Next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// ErrRefused marks a reload whose flows were not valid: the set served
// before is still served.
var ErrRefused = errors.New("flows not reloaded")

// Reload loads and checks the flows and swaps them in when they are
// valid. When they are not, the set served before goes on, the refusal is
// logged and kept in Status, and the error wraps ErrRefused.
func (r *Reloader) Reload(ctx context.Context, cause string) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(ctx, cause)
}

func (r *Reloader) reload(ctx context.Context, cause string) (res Result, err error) {
	now := r.cfg.Now()
	r.lastAttempt = now
	r.st.Attempts++
	defer func() {
		close(r.next)
		r.next = make(chan struct{})
	}()
	if err := ctx.Err(); err != nil {
		return Result{Status: r.snapshot()}, err
	}
	set, lerr := r.cfg.Load()
	if lerr != nil {
		ref := &Refusal{At: now, Cause: cause, Error: lerr.Error()}
		for _, e := range flows.Errors(lerr) {
			ref.Problems = append(ref.Problems, r.relative(e.Error()))
		}
		r.st.Refused = ref
		n := len(ref.Problems)
		if n == 0 {
			n = 1
		}
		r.log.Warn("flows not reloaded: the services loaded before keep serving", "cause", cause, "problems", n, "err", lerr)
		return Result{Status: r.snapshot()}, fmt.Errorf("%w (%d problem(s)); the services loaded before keep serving:\n%w", ErrRefused, n, lerr)
	}
	r.st.Refused = nil
	old := r.cur.Load()
	changed := diff(old, set)
	if len(changed) == 0 {
		r.log.Debug("flows reloaded: no change", "cause", cause)
		return Result{Status: r.snapshot(), Changed: []string{}}, nil
	}
	r.cfg.Apply(set)
	r.cur.Store(set)
	r.st.Generation++
	r.st.LoadedAt, r.st.Cause, r.st.Services = now, cause, versions(set)
	r.log.Info("flows reloaded", "cause", cause, "generation", r.st.Generation, "changed", strings.Join(changed, " "))
	return Result{Status: r.snapshot(), Changed: changed}, nil
}

// Refresh reloads unless a reload was tried less than RefreshEvery ago,
// and returns the set now served: for a session that began on a flow
// version this instance has not loaded (another instance may have noticed
// a change first).
func (r *Reloader) Refresh(ctx context.Context) *flows.Set {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Now().Sub(r.lastAttempt) >= r.cfg.RefreshEvery {
		_, _ = r.reload(ctx, CauseRefresh) // a refusal is logged and kept
	}
	return r.cur.Load()
}

// relative shortens the flows directory off a problem's file name: the
// reports go to people who know the directory, and /readyz is public.
func (r *Reloader) relative(s string) string {
	if r.cfg.Dir == "" {
		return s
	}
	dir := filepath.Clean(r.cfg.Dir) + string(filepath.Separator)
	return strings.ReplaceAll(s, dir, "")
}

func versions(s *flows.Set) map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	for _, f := range s.Flows() {
		out[f.ID] = f.Version
	}
	return out
}

// diff lists the services of next that are new or of another version
// than in old, and those of old that next no longer has.
func diff(old, next *flows.Set) []string {
	before, after := versions(old), versions(next)
	out := []string{}
	for id, v := range after {
		if before[id] != v {
			out = append(out, id+"@"+v)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			out = append(out, id+" (removed)")
		}
	}
	sort.Strings(out)
	return out
}

// Watch watches Dir and reloads, Debounce after the last change to a flow
// file (*.yaml, *.yml; and Kubernetes' ..data link of a mounted
// ConfigMap), until ctx ends. It returns once the watch is set up; done
// is closed when it has stopped.
func (r *Reloader) Watch(ctx context.Context) (done <-chan struct{}, err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching the flows: %w", err)
	}
	if err := w.Add(r.cfg.Dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching the flows in %s: %w", r.cfg.Dir, err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(ev) {
					timer.Reset(r.cfg.Debounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflow loses events: reload to be sure.
				r.log.Warn("watching the flows", "err", err)
				timer.Reset(r.cfg.Debounce)
			case <-timer.C:
				_, _ = r.Reload(ctx, CauseFile) // a refusal is logged and kept
			}
		}
	}()
	return stopped, nil
}

func relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	switch filepath.Ext(base) {
	case ".yaml", ".yml":
		return !strings.HasPrefix(base, ".") // editors' hidden temporary copies
	}
	return base == "..data"
}
