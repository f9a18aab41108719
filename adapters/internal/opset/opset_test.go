package opset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
)

func TestSet(t *testing.T) {
	s := New(Op{OpSpec: adapters.OpSpec{Name: "get", Required: []string{"id"}},
		Fn: func(_ context.Context, p map[string]string) (adapters.Result, error) { return p["id"], nil }})
	tests := []struct {
		ctx  context.Context
		req  adapters.Request
		kind adapters.Kind
		msg  string
	}{
		{context.Background(), adapters.Request{Op: "get", Params: map[string]string{"id": "x"}}, 0, ""},
		{context.Background(), adapters.Request{Op: "get", Params: map[string]string{"id": " "}}, adapters.KindInvalid, "invalid: get: missing param id"},
		{context.Background(), adapters.Request{Op: "put"}, adapters.KindInvalid, `invalid: unknown op "put" (known: get)`},
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	tests = append(tests, struct {
		ctx  context.Context
		req  adapters.Request
		kind adapters.Kind
		msg  string
	}{expired, adapters.Request{Op: "get"}, adapters.KindTimeout, "timeout: context deadline exceeded"})
	for _, tt := range tests {
		_, err := s.Call(tt.ctx, tt.req)
		if adapters.KindOf(err) != tt.kind || (err != nil && err.Error() != tt.msg) {
			t.Errorf("%v: %v, want %v %q", tt.req, err, tt.kind, tt.msg)
		}
	}
	if ops := s.Ops(); len(ops) != 1 || ops[0].Name != "get" {
		t.Errorf("Ops = %v", ops)
	}
}

func TestMSISDN(t *testing.T) {
	for in, want := range map[string]string{"+254 700 000001": "254700000001", "0712345678": "0712345678", "12": "", "2547x0000001": "", "": ""} {
		got, err := MSISDN(map[string]string{"msisdn": in})
		if got != want || (want == "") != (err != nil) {
			t.Errorf("MSISDN(%q) = %q, %v", in, got, err)
		}
		if err != nil && in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("the error repeats the MSISDN: %v", err)
		}
	}
}

func TestStoreErr(t *testing.T) {
	err := StoreErr(context.Background(), "reading progress", errors.New("key quiz:{254700000001}:x: broken pipe"), "254700000001")
	if adapters.KindOf(err) != adapters.KindUnavailable || err.Error() != "unavailable: reading progress: key quiz:{***001}:x: broken pipe" {
		t.Errorf("StoreErr = %v", err)
	}
	if k := adapters.KindOf(StoreErr(context.Background(), "x", fmt.Errorf("get: %w", context.DeadlineExceeded), "")); k != adapters.KindTimeout {
		t.Errorf("kind %v", k)
	}
}
