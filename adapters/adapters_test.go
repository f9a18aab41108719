package adapters

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{nil, KindNone},
		{ErrNotFound, KindNotFound},
		{fmt.Errorf("looking up: %w", ErrNotFound), KindNotFound},
		{Errorf(KindInvalid, "bad crop %q", "x"), KindInvalid},
		{context.DeadlineExceeded, KindTimeout},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), KindTimeout},
		{context.Canceled, KindUnavailable},
		{errors.New("boom"), KindUnavailable},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrorfWraps(t *testing.T) {
	cause := errors.New("connection refused")
	err := Errorf(KindUnavailable, "calling prices: %w", cause)
	if !errors.Is(err, cause) {
		t.Error("Errorf lost the cause")
	}
	if got, want := err.Error(), "unavailable: calling prices: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

type fake struct {
	name string
	log  *[]string
	fail string // "start" or "stop" or "validate"
}

func (f *fake) Call(context.Context, Request) (Result, error) { return f.name, nil }
func (f *fake) Validate() error {
	if f.fail == "validate" {
		return errors.New("bad file")
	}
	return nil
}
func (f *fake) Start(context.Context) error {
	*f.log = append(*f.log, "start "+f.name)
	if f.fail == "start" {
		return errors.New("no data")
	}
	return nil
}
func (f *fake) Stop(context.Context) error {
	*f.log = append(*f.log, "stop "+f.name)
	return nil
}

func TestRegistryLifecycle(t *testing.T) {
	var log []string
	r := NewRegistry()
	for _, n := range []string{"prices", "jobs", "quiz"} {
		if err := r.Register(n, &fake{name: n, log: &log}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register("jobs", &fake{}); err == nil {
		t.Error("registering a name twice must fail")
	}
	if err := r.Register("Bad-Name", &fake{}); err == nil {
		t.Error("a name that is not an identifier must fail")
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"jobs", "prices", "quiz"}) {
		t.Errorf("Names = %v", got)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start prices", "start jobs", "start quiz", "stop quiz", "stop jobs", "stop prices"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("lifecycle = %v, want %v", log, want)
	}
	res, err := r.Call(context.Background(), "jobs", Request{})
	if err != nil || res != "jobs" {
		t.Errorf("Call = %v, %v", res, err)
	}
	if _, err := r.Call(context.Background(), "nope", Request{}); KindOf(err) != KindUnavailable {
		t.Errorf("unknown adapter: %v", err)
	}
}

func TestRegistryStartUndoes(t *testing.T) {
	var log []string
	r := NewRegistry()
	r.Register("a", &fake{name: "a", log: &log})
	r.Register("b", &fake{name: "b", log: &log, fail: "start"})
	r.Register("c", &fake{name: "c", log: &log})
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("Start must fail")
	}
	want := []string{"start a", "start b", "stop a"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("lifecycle = %v, want %v", log, want)
	}
}

func TestRegistryValidateAll(t *testing.T) {
	r := NewRegistry()
	r.Register("a", &fake{fail: "validate"})
	r.Register("b", &fake{fail: "validate"})
	err := r.Validate()
	if err == nil {
		t.Fatal("Validate must fail")
	}
	if got, want := err.Error(), "adapter a: bad file\nadapter b: bad file"; got != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}
}

// described is an adapter that declares its ops.
type described struct{ fake }

func (described) Ops() []OpSpec { return []OpSpec{{Name: "get", Required: []string{"id"}}} }

// TestRegistryOps: Ops gives the declared ops of the adapters that
// declare them, and leaves the others out (they are not checked).
func TestRegistryOps(t *testing.T) {
	r := NewRegistry()
	r.Register("plain", &fake{name: "plain"})
	r.Register("rich", &described{fake{name: "rich"}})
	ops := r.Ops()
	if _, ok := ops["plain"]; ok || len(ops) != 1 || len(ops["rich"]) != 1 || ops["rich"][0].Name != "get" {
		t.Errorf("Ops = %v", ops)
	}
	var nilReg *Registry
	if len(nilReg.Ops()) != 0 {
		t.Error("a nil registry has ops")
	}
}
