package bridge_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/sms"
	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// prices is the tests' adapter: a price of the day that can be made
// slower than any step budget.
type prices struct {
	slow  atomic.Bool
	delay atomic.Int64 // a delay within the step budget
	calls atomic.Int32
}

func (p *prices) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	p.calls.Add(1)
	time.Sleep(time.Duration(p.delay.Load()))
	if p.slow.Load() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(600 * time.Millisecond):
		}
	}
	return map[string]any{"price": "120"}, nil
}

// rig is a gateway's SMPP side against the node SMSC: two binds of one
// group, the real flows engine over testdata, sessions in Redis.
type rig struct {
	t        *testing.T
	smsc     *nodetest.SMSC
	hub      *bridge.Hub
	ussd     *ussd.Manager
	store    ussd.Store
	adapters *prices
	sessions []int // the SMSC's session ids of the binds, in bind order
}

// conn is a connection to the node SMSC with short timers.
func conn(name, addr, profile string) smpp.Config {
	c := smpp.Defaults()
	c.Name, c.Group, c.Address, c.SystemID, c.Password = name, "op", addr, "test", "secret"
	c.Sources = []smpp.Source{{Addr: "500", TON: 3, NPI: 0}}
	c.EnquireLink = 5 * time.Second
	c.Timeouts = smpp.Timeouts{Bind: 3 * time.Second, Response: 3 * time.Second, Write: 2 * time.Second}
	c.Reconnect = smpp.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.Retry = smpp.Retry{MaxAttempts: 6, Backoff: smpp.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}, DedupeWindow: time.Second}
	c.Inbound.HandlerTimeout = 3 * time.Second
	c.USSD.Profile = profile
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	return logcheck.Wrap(t, slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// newRig starts the SMSC and the Hub; edit changes the config first.
func newRig(t *testing.T, profile string, edit ...func(*bridge.Config)) *rig {
	t.Helper()
	smsc := nodetest.Start(t)
	red := storetest.Redis(t)
	store := ussd.NewRedisStore(red.Client, red.Prefix)
	set, err := flows.Load("testdata", flows.Options{Adapters: []string{"prices"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bridge.Defaults()
	cfg.Connections = []smpp.Config{conn("op-a", smsc.Addr(), profile), conn("op-b", smsc.Addr(), profile)}
	for _, e := range edit {
		e(&cfg)
	}
	log := testLogger(t)
	hub, err := bridge.New(cfg, bridge.Deps{KV: store, Prefix: "smpp:", StepTimeout: 3 * time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ad := &prices{}
	base := ussd.Config{Store: store, Flows: set, Adapters: ad, SMS: hub, StepBudget: 300 * time.Millisecond,
		LateTimeout: 5 * time.Second, Log: log}
	m := ussd.NewManager(base)
	router := &sms.Router{Manager: ussd.NewManager(bridge.SMSSessions(base, cfg.MO)), Reply: hub}
	if err := hub.Start(bridge.Routes{USSD: m, SMS: router}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Drain(ctx)
		_ = m.Close(ctx)
		if err := hub.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := hub.WaitBound(ctx); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, smsc: smsc, hub: hub, ussd: m, store: store, adapters: ad}
	for _, b := range smsc.WaitCount(0, len(cfg.Connections), 5*time.Second, "bind", nodetest.IsEv("bind")) {
		r.sessions = append(r.sessions, b.Num("session"))
	}
	return r
}

// dm is a USSD deliver_sm from the USSDC.
type dm struct {
	op      int
	text    string
	its     string // hex; "" for none
	umr     int    // 0 for none
	session int    // SMSC session to send on; 0: the newest
	dc      int    // default 0x0F
	dest    string // default "500"
}

// ussdFrom sends d from msisdn and returns the event index before it and
// the tag of its response.
func (r *rig) ussdFrom(msisdn string, d dm) (from int, tag string) {
	r.t.Helper()
	if d.dc == 0 {
		d.dc = 0x0F
	}
	if d.dest == "" {
		d.dest = "500"
	}
	fields := map[string]any{"service_type": "USSD", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": msisdn,
		"destination_addr": d.dest, "data_coding": d.dc, "ussd_service_op": d.op}
	hexes := map[string]string{"short_message": hex.EncodeToString([]byte(d.text))}
	if d.its != "" {
		hexes["its_session_info"] = d.its
	}
	if d.umr != 0 {
		fields["user_message_reference"] = d.umr
	}
	var opts []map[string]any
	if d.session != 0 {
		opts = append(opts, map[string]any{"session": d.session})
	}
	from = r.smsc.Mark()
	return from, r.smsc.Send("deliver_sm", fields, hexes, opts...)
}

// screen waits for the gateway's USSD submit_sm to msisdn after from.
func (r *rig) screen(from int, msisdn string) nodetest.Event {
	r.t.Helper()
	return r.smsc.WaitFor(from, 5*time.Second, "ussd screen to "+msisdn, func(e nodetest.Event) bool {
		return e.Str("ev") == "submit_sm" && e.Str("dst") == msisdn && e.Str("service_type") == "USSD"
	})
}

// step sends d and returns the screen that answers it, after checking the
// deliver_sm was accepted.
func (r *rig) step(msisdn string, d dm) nodetest.Event {
	r.t.Helper()
	from, tag := r.ussdFrom(msisdn, d)
	if resp := r.smsc.Response(from, tag, 5*time.Second); resp.Num("status") != 0 {
		r.t.Fatalf("deliver_sm answered with status %#x", resp.Num("status"))
	}
	return r.screen(from, msisdn)
}

// sms waits for a whole MT SMS to msisdn after from (as the SMSC
// reassembled it).
func (r *rig) sms(from int, msisdn string) nodetest.Event {
	r.t.Helper()
	return r.smsc.WaitFor(from, 5*time.Second, "sms to "+msisdn, func(e nodetest.Event) bool {
		return e.Str("ev") == "message" && e.Str("dst") == msisdn && !e.Has("ussd")
	})
}

// mo sends an MO SMS and returns the status the gateway answered.
func (r *rig) mo(msisdn string, fields map[string]any, hexes map[string]string) (from, status int) {
	r.t.Helper()
	f := map[string]any{"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": msisdn, "destination_addr": "500", "data_coding": 0}
	for k, v := range fields {
		f[k] = v
	}
	from = r.smsc.Mark()
	command := "deliver_sm"
	if c, ok := f["command"].(string); ok {
		command = c
		delete(f, "command")
	}
	tag := r.smsc.Send(command, f, hexes)
	return from, r.smsc.Response(from, tag, 5*time.Second).Num("status")
}

// moText sends text as a one-part MO SMS.
func (r *rig) moText(msisdn, text string) (from, status int) {
	return r.mo(msisdn, nil, map[string]string{"short_message": hex.EncodeToString([]byte(text))})
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }
