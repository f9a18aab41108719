// Package opset dispatches an adapter call to the function of its op,
// after the checks every built-in adapter makes the same way: the context
// is not already done, the op exists, the required params are present, and
// an MSISDN param looks like one. It must not import flows, ussd or a
// transport: flows call it, not the other way round.
package opset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/msisdn"
)

// Func runs one op with the call's params.
type Func func(ctx context.Context, p map[string]string) (adapters.Result, error)

// Op is an op's spec and its function.
type Op struct {
	adapters.OpSpec
	Fn Func
}

// Set is a fixed set of ops. It is safe for concurrent use.
type Set struct {
	ops   map[string]Op
	specs []adapters.OpSpec
	names string
}

// New returns the set of ops.
func New(ops ...Op) *Set {
	s := &Set{ops: map[string]Op{}}
	var names []string
	for _, op := range ops {
		s.ops[op.Name] = op
		s.specs = append(s.specs, op.OpSpec)
		names = append(names, op.Name)
	}
	slices.Sort(names)
	s.names = strings.Join(names, ", ")
	return s
}

// Ops returns the specs of the ops, for adapters.Describer.
func (s *Set) Ops() []adapters.OpSpec { return slices.Clone(s.specs) }

// Call checks req and runs its op.
func (s *Set) Call(ctx context.Context, req adapters.Request) (adapters.Result, error) {
	if err := CtxErr(ctx); err != nil {
		return nil, err
	}
	op, ok := s.ops[req.Op]
	if !ok {
		return nil, adapters.Errorf(adapters.KindInvalid, "unknown op %q (known: %s)", req.Op, s.names)
	}
	for _, name := range op.Required {
		if strings.TrimSpace(req.Params[name]) == "" {
			return nil, adapters.Errorf(adapters.KindInvalid, "%s: missing param %s", req.Op, name)
		}
	}
	return op.Fn(ctx, req.Params)
}

// CtxErr returns nil while ctx is live, else its error classified:
// KindTimeout for a passed deadline, KindUnavailable for a cancellation.
func CtxErr(ctx context.Context) error {
	err := ctx.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return &adapters.Error{Kind: adapters.KindTimeout, Err: err}
	}
	return &adapters.Error{Kind: adapters.KindUnavailable, Err: err}
}

// MSISDN returns the msisdn param as digits only (a leading + and spaces
// dropped), or a KindInvalid error that does not repeat it.
func MSISDN(p map[string]string) (string, error) {
	s := strings.TrimPrefix(strings.ReplaceAll(strings.TrimSpace(p["msisdn"]), " ", ""), "+")
	if len(s) < 7 || len(s) > 15 {
		return "", adapters.Errorf(adapters.KindInvalid, "param msisdn: not a phone number")
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return "", adapters.Errorf(adapters.KindInvalid, "param msisdn: not a phone number")
		}
	}
	return s, nil
}

// Invalid returns a KindInvalid error about param name.
func Invalid(name, format string, args ...any) error {
	return &adapters.Error{Kind: adapters.KindInvalid, Msg: "param " + name + ": " + fmt.Sprintf(format, args...)}
}

// NotFound returns a KindNotFound error with a formatted message.
func NotFound(format string, args ...any) error {
	return &adapters.Error{Kind: adapters.KindNotFound, Msg: fmt.Sprintf(format, args...)}
}

// StoreErr classifies err from a KV call made doing what: KindTimeout once
// ctx's deadline has passed, else KindUnavailable. The text of err is kept
// as the cause, with hide (the caller's MSISDN) masked out of it.
func StoreErr(ctx context.Context, what string, err error, hide string) error {
	kind := adapters.KindUnavailable
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		kind = adapters.KindTimeout
	}
	msg := err.Error()
	if hide != "" {
		msg = strings.ReplaceAll(msg, hide, Mask(hide))
	}
	return &adapters.Error{Kind: kind, Msg: what, Err: errors.New(msg)}
}

// Mask hides all but the last three digits of an MSISDN (msisdn.Mask:
// "***001"), for the rare log line or error that names one.
func Mask(m string) string { return msisdn.Mask(m) }
