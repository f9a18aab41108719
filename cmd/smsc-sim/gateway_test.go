package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	benchflow "github.com/ussdgw/ussdgw/cmd/loadtest/flows"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/smsc"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// startRealGateway binds the gateway's SMPP side as cmd/ussdgw wires it
// (bridge.Hub, the session manager, sessions in Redis) to srv, serving
// the load test's flow (cmd/loadtest/flows/bench.yaml).
func startRealGateway(t *testing.T, srv *smsc.Server, binds int) {
	t.Helper()
	red := storetest.Redis(t)
	store := ussd.NewRedisStore(red.Client, red.Prefix)
	set, err := flows.Load("../loadtest/flows", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := logcheck.Wrap(t, slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set, Log: log})
	cfg := bridge.Defaults()
	for i := range binds {
		c := smpp.Defaults()
		c.Name, c.Group, c.Address, c.SystemID, c.Password = "sim-"+string(rune('a'+i)), "sim", srv.Addr(), "ussdgw", "secret"
		c.Sources = []smpp.Source{{Addr: "777"}}
		c.Reconnect = smpp.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
		c.USSD.Profile = srv.Profile().Name
		cfg.Connections = append(cfg.Connections, c)
	}
	h, err := bridge.New(cfg, bridge.Deps{KV: store, Prefix: red.Prefix + "smpp:", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(bridge.Routes{USSD: m}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = m.Close(ctx)
	})
}

// TestLoadAgainstGateway plays the load test's dialogues in every profile
// against the gateway's own SMPP side, two binds taking turns: every
// screen is the one the flow shows.
func TestLoadAgainstGateway(t *testing.T) {
	for name, p := range smsc.Profiles {
		t.Run(name, func(t *testing.T) {
			srv, err := smsc.Start(smsc.Config{Profile: p, Logger: logcheck.New(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			startRealGateway(t, srv, 2)
			inputs := []string{"1", "2", "3"}
			expect, err := benchflow.Expect(inputs)
			if err != nil {
				t.Fatal(err)
			}
			res, err := load(t.Context(), srv, loadConfig{
				code: benchflow.Code, inputs: inputs, expect: expect,
				concurrency: 10, sessions: 100, timeout: 5 * time.Second,
				msisdnBase: 254720000000, binds: 2, bindWait: 10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sessions != 100 || res.Steps != 400 || res.Mismatches+res.Errors != 0 {
				t.Errorf("%d sessions, %d steps, %d mismatches, %d errors (%s)", res.Sessions, res.Steps, res.Mismatches, res.Errors, res.FirstError)
			}
		})
	}
}

// TestShellAgainstGateway: a person's dialogue through the gateway,
// ending on its END screen.
func TestShellAgainstGateway(t *testing.T) {
	out := &syncBuffer{}
	sh := &shell{out: out, msisdn: "254720000099", shortcode: "777", wait: 5 * time.Second}
	srv, err := smsc.Start(smsc.Config{OnMessage: sh.onMessage, OnSubmit: sh.onSubmit, Logger: logcheck.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sh.srv = srv
	startRealGateway(t, srv, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.WaitBound(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"*777#", "2", "1", "3"} {
		sh.do(ctx, line)
	}
	waitFor(t, out, benchScreen(t))
	waitFor(t, out, benchScreen(t, "2", "1", "3")+"\n-- session ended --")
	if sh.sess != nil {
		t.Error("session still open")
	}
}
