package adapters

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Registry holds the named adapter instances a gateway serves flows with.
// It is built as a value (in cmd/, or in a test with only what it needs);
// nothing registers itself. Register, Validate, Start and Stop are for
// setup and shutdown; Lookup and Call are safe for concurrent use once
// setup is done.
type Registry struct {
	adapters map[string]Adapter
	order    []string // registration order: started in it, stopped in reverse
	started  int      // how many of order have been started
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{adapters: map[string]Adapter{}}
}

// Register adds a under name. Names are lower-case identifiers; registering
// a name twice is an error.
func (r *Registry) Register(name string, a Adapter) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("registering adapter %q: name must match %s", name, nameRE)
	}
	if a == nil {
		return fmt.Errorf("registering adapter %q: nil adapter", name)
	}
	if _, dup := r.adapters[name]; dup {
		return fmt.Errorf("registering adapter %q: already registered", name)
	}
	r.adapters[name] = a
	r.order = append(r.order, name)
	return nil
}

// Lookup returns the adapter registered under name.
func (r *Registry) Lookup(name string) (Adapter, bool) {
	if r == nil {
		return nil, false
	}
	a, ok := r.adapters[name]
	return a, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	names := make([]string, 0, len(r.adapters))
	for n := range r.adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Ops returns the operations of every adapter that declares them
// (Describer), by name: what a flow loader checks actions against
// (flows.Options.Ops). Adapters that declare nothing are left out.
func (r *Registry) Ops() map[string][]OpSpec {
	out := map[string][]OpSpec{}
	if r == nil {
		return out
	}
	for name, a := range r.adapters {
		if d, ok := a.(Describer); ok {
			out[name] = d.Ops()
		}
	}
	return out
}

// Call calls the adapter registered under name. An unknown name is an
// error of KindUnavailable (the flow loader checks names, so this only
// happens when a registry is swapped under running flows).
func (r *Registry) Call(ctx context.Context, name string, req Request) (Result, error) {
	a, ok := r.Lookup(name)
	if !ok {
		return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("no adapter named %q", name)}
	}
	return a.Call(ctx, req)
}

// Validate runs Validate on every adapter that has it and returns all the
// failures at once.
func (r *Registry) Validate() error {
	var errs []error
	for _, name := range r.order {
		if v, ok := r.adapters[name].(Validator); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("adapter %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Start starts every adapter that has Start, in registration order. If one
// fails, those already started are stopped again (in reverse order) and the
// error is returned.
func (r *Registry) Start(ctx context.Context) error {
	for i, name := range r.order {
		if s, ok := r.adapters[name].(Starter); ok {
			if err := s.Start(ctx); err != nil {
				r.started = i
				stopErr := r.Stop(ctx)
				return errors.Join(fmt.Errorf("starting adapter %s: %w", name, err), stopErr)
			}
		}
	}
	r.started = len(r.order)
	return nil
}

// Stop stops the started adapters in reverse order and returns every
// failure at once.
func (r *Registry) Stop(ctx context.Context) error {
	var errs []error
	for i := r.started - 1; i >= 0; i-- {
		name := r.order[i]
		if s, ok := r.adapters[name].(Stopper); ok {
			if err := s.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stopping adapter %s: %w", name, err))
			}
		}
	}
	r.started = 0
	return errors.Join(errs...)
}
