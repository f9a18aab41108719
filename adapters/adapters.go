// Package adapters is the contract between flows and the back-ends that feed
// them: market prices, health schedules, quizzes, job listings, or any HTTP
// API. A flow's action node names an adapter and an operation; the engine
// calls it through this package and branches on the outcome. It must not
// import flows, ussd or a transport: flows call adapters, not the other way
// round.
//
// This package holds only the contract: the Adapter interface, the error
// kinds every adapter reports, the optional lifecycle interfaces, the
// Registry, and the typed configuration of instances (Kinds, Define,
// Build). Each back-end lives in its own package below this one and knows
// nothing about menus, sessions or transports; adaptertest checks that an
// adapter keeps the contract. README.md is the reference of the built-in
// kinds.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Adapter is a back-end a flow can call.
//
// Call must honour ctx: return promptly (with an error of KindTimeout) once
// its deadline passes, and leave no work running that outlives the call
// unless it owns that work (a cache refresh, say). Call must be safe for
// concurrent use. It must not put secrets (tokens, passwords) in errors.
type Adapter interface {
	Call(ctx context.Context, req Request) (Result, error)
}

// Request is one call of an adapter from a flow.
type Request struct {
	// Op is the operation, as the flow names it (e.g. "latest", "list").
	Op string
	// Params are the flow's templated parameters, already rendered.
	Params map[string]string
}

// Result is the structured data an adapter returns: a JSON-like tree of
// map[string]any, []any, string, bool, float64, int, or nil. The engine
// flattens it into flow variables (price.value, jobs.1.title, jobs.count).
// A nil result, an empty map or an empty list is an "empty" outcome.
//
// Map keys are lower-case identifiers ([a-z][a-z0-9_]*). The items of a
// list are all scalars or all maps; a map in a list has at least "id" and
// "name" (a dynamic menu lists them by name). Strings are short and
// pre-formatted for a phone screen ("3,200", "2026-11-20", "+4%").
//
// A Result is read-only: callers must not modify it, so an adapter may
// hand the same value to many calls (a pre-built answer, a cache entry).
type Result = any

// Kind classifies an adapter failure; flows branch on it.
type Kind int

// The kinds of failure. Everything an adapter returns that is not one of
// these classifies as KindUnavailable.
const (
	KindNone        Kind = iota // not an error
	KindNotFound                // nothing matches the request (the flow's "empty" branch)
	KindInvalid                 // the request itself is wrong (bad parameter)
	KindUnavailable             // the back-end failed or is down
	KindTimeout                 // the deadline passed first
)

var kindNames = [...]string{"none", "not_found", "invalid", "unavailable", "timeout"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an adapter failure with its kind.
type Error struct {
	Kind Kind
	Msg  string // what went wrong, safe to log (no secrets, no PII)
	Err  error  // the cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Kind.String() + ": " + e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Kind.String() + ": " + e.Msg
	case e.Err != nil:
		return e.Kind.String() + ": " + e.Err.Error()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted message. A %w verb
// wraps its operand as the cause.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// ErrNotFound is a ready-made KindNotFound error.
var ErrNotFound error = &Error{Kind: KindNotFound, Msg: "no match"}

// KindOf classifies err: nil is KindNone; an *Error anywhere in the chain
// gives its kind; context.DeadlineExceeded is KindTimeout; anything else,
// including context.Canceled, is KindUnavailable.
func KindOf(err error) Kind {
	if err == nil {
		return KindNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	return KindUnavailable
}

// Validator is implemented by adapters that can check their configuration
// and data before the gateway starts serving.
type Validator interface {
	Validate() error
}

// Starter is implemented by adapters that hold resources (files to watch,
// connections, background refreshes) to set up before serving. ctx bounds
// the start itself (a first fetch, say), not the life of what it starts:
// background work runs until Stop. Start on a started adapter does nothing.
type Starter interface {
	Start(ctx context.Context) error
}

// Stopper is implemented by adapters that must release what Start set up.
// Stop waits, within ctx, for the adapter's goroutines to end. Stop on a
// stopped (or never started) adapter does nothing.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Describer is implemented by adapters that know their operations, so
// that a flow loader can check an action's op and params statically.
type Describer interface {
	Ops() []OpSpec
}

// OpSpec describes one operation of an adapter. An adapter that answers a
// call without op (Request.Op "") declares an OpSpec with Name "".
type OpSpec struct {
	Name     string
	Required []string // params the op cannot do without (KindInvalid if empty)
	Optional []string // params it reads when present
}

// KV is the per-user storage some adapters keep (health registrations,
// quiz progress). The gateway's session store satisfies it. Keys put the
// user's part in braces ("quiz:{254700000001}:farming") so that one user's
// keys share a Redis Cluster slot. Implementations are safe for concurrent
// use.
type KV interface {
	// Get returns the values of keys, in order; a missing key gives a nil entry.
	Get(ctx context.Context, keys ...string) ([][]byte, error)
	// Set stores val under key for ttl (0: no expiry); a nil val deletes key.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Swap stores val under key if its current value is old (nil old: key
	// must be absent) and reports whether it did.
	Swap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error)
}
