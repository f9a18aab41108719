package bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
)

// TestUSSDProfiles runs one whole dialogue in each profile against the
// node USSDC, through the flows engine and Redis: the dial with a
// shortcut-free code, three replies, the END; each screen with the
// profile's op and session TLVs.
func TestUSSDProfiles(t *testing.T) {
	t.Parallel()
	type sig struct {
		op  int
		its string // "" when absent
		umr int
	}
	tests := []struct {
		name     string
		profile  string
		edit     func(*smpp.USSDConfig)
		open     dm
		reply    func(text string) dm
		cont     sig
		end      sig
		dialText string
	}{
		{name: "spec", profile: "spec",
			open:  dm{op: 0x01, text: "*500#", its: "1234"},
			reply: func(s string) dm { return dm{op: 0x12, text: s, its: "1236"} },
			cont:  sig{op: 0x02, its: "1236"}, end: sig{op: 0x11, its: "1236"}},
		{name: "tata", profile: "tata",
			open:  dm{op: 0x01, text: "*500#", its: "2a10"},
			reply: func(s string) dm { return dm{op: 0x02, text: s, its: "2a10"} },
			cont:  sig{op: 0x02, its: "2a10"}, end: sig{op: 0x02, its: "2a11"}},
		{name: "mica", profile: "mica",
			open:  dm{op: 0x01, text: "*500#", umr: 77},
			reply: func(s string) dm { return dm{op: 0x12, text: s, umr: 77} },
			cont:  sig{op: 0x02, umr: 77}, end: sig{op: 0x11, umr: 77}},
		{name: "sixdee", profile: "sixdee",
			open:  dm{op: 0x01, text: "", its: "5678"}, // the code is in destination_addr
			reply: func(s string) dm { return dm{op: 0x12, text: s, its: "5678"} },
			cont:  sig{op: 0x02, its: "5678"}, end: sig{op: 0x11, its: "5679"}},
		{name: "custom: 6D's 0x17, keyed by msisdn, dc 0", profile: "sixdee",
			edit: func(u *smpp.USSDConfig) {
				end, dc := uint8(0x17), uint8(0x00)
				u.EndOp, u.DataCoding, u.SessionKey, u.EndBy = &end, &dc, "msisdn", "op"
			},
			open:  dm{op: 0x01, text: "*500#"},
			reply: func(s string) dm { return dm{op: 0x12, text: s, dc: 0x01} },
			cont:  sig{op: 0x02}, end: sig{op: 0x17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tt.profile, func(c *bridge.Config) {
				for i := range c.Connections {
					if tt.edit != nil {
						tt.edit(&c.Connections[i].USSD)
					}
				}
			})
			const msisdn = "254700000001"
			check := func(e nodetest.Event, want sig, text string) {
				t.Helper()
				if e.Num("ussd_service_op") != want.op || e.Str("its_session_info") != want.its || e.Num("user_message_reference") != want.umr {
					t.Errorf("screen %q: op %#x its %q umr %d, want %+v", e.Str("text"), e.Num("ussd_service_op"), e.Str("its_session_info"), e.Num("user_message_reference"), want)
				}
				if !strings.Contains(e.Str("text"), text) || e.Str("src") != "500" {
					t.Errorf("screen %q from %s, want %q from 500", e.Str("text"), e.Str("src"), text)
				}
			}
			s := r.step(msisdn, tt.open)
			check(s, sig{op: tt.cont.op, its: tt.open.its, umr: tt.cont.umr}, "Welcome to the shop\n1. Fruits")
			check(r.step(msisdn, tt.reply("1")), tt.cont, "Pick a fruit")
			check(r.step(msisdn, tt.reply("2")), tt.cont, "How many bananas?")
			check(r.step(msisdn, tt.reply("3")), tt.end, "Order placed: 3 bananas.")
		})
	}
}

// TestUSSDShortcutAndUnknownCode: *500*1*2# opens the service and applies
// 1 and 2; an unknown code gets an END screen.
func TestUSSDShortcutAndUnknownCode(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	if s := r.step("254700000002", dm{op: 1, text: "*500*1*2#", its: "0100"}); !strings.HasPrefix(s.Str("text"), "How many bananas?") || s.Num("ussd_service_op") != 2 {
		t.Errorf("shortcut screen %v", s)
	}
	if s := r.step("254700000003", dm{op: 1, text: "*999#", its: "0200"}); s.Num("ussd_service_op") != 0x11 || !strings.Contains(s.Str("text"), "Unknown service") {
		t.Errorf("unknown code screen %v", s)
	}
}

// TestUSSDReplyOnSecondBind: the dialogue opens on one bind and continues
// on the other; each screen leaves on the bind its deliver_sm came on.
func TestUSSDReplyOnSecondBind(t *testing.T) {
	t.Parallel()
	r := newRig(t, "tata")
	const msisdn = "254700000004"
	a, b := r.sessions[0], r.sessions[1]
	if s := r.step(msisdn, dm{op: 1, text: "*500#", its: "0700", session: a}); s.Num("session") != a {
		t.Errorf("first screen left on session %d, want %d", s.Num("session"), a)
	}
	s := r.step(msisdn, dm{op: 0x12, text: "1", its: "0700", session: b})
	if s.Num("session") != b || !strings.HasPrefix(s.Str("text"), "Pick a fruit") {
		t.Errorf("second screen %q on session %d, want Pick a fruit on %d", s.Str("text"), s.Num("session"), b)
	}
	// The bind it came on goes down during the step: the screen leaves on
	// the other.
	const other = "254700000014"
	r.step(other, dm{op: 1, text: "*500#", its: "0800", session: a})
	r.adapters.delay.Store(int64(200 * time.Millisecond))
	from, tag := r.ussdFrom(other, dm{op: 0x12, text: "2", its: "0800", session: b})
	r.smsc.Response(from, tag, 5*time.Second)
	r.smsc.Do(map[string]any{"cmd": "set", "password": "changed"}) // b cannot bind again
	r.smsc.Do(map[string]any{"cmd": "close", "session": b})
	s = r.screen(from, other)
	if s.Num("session") != a || s.Str("text") != "Price of the day: 120 a kilo." {
		t.Errorf("screen %q on session %d, want the price on %d", s.Str("text"), s.Num("session"), a)
	}
	r.smsc.Do(map[string]any{"cmd": "set", "password": "secret"})
}

// TestUSSDSMSCDropsMidSession: the SMSC closes every connection in the
// middle of a dialogue; after the rebind the next reply continues it.
func TestUSSDSMSCDropsMidSession(t *testing.T) {
	t.Parallel()
	r := newRig(t, "mica")
	const msisdn = "254700000005"
	r.step(msisdn, dm{op: 1, text: "*500#", umr: 9})
	r.step(msisdn, dm{op: 0x12, text: "1", umr: 9})
	from := r.smsc.Mark()
	r.smsc.Do(map[string]any{"cmd": "close"})
	r.smsc.WaitCount(from, 2, 5*time.Second, "rebind", nodetest.IsEv("bind"))
	if s := r.step(msisdn, dm{op: 0x12, text: "1", umr: 9}); !strings.HasPrefix(s.Str("text"), "How many apples?") {
		t.Errorf("after the rebind: %q", s.Str("text"))
	}
}

// TestUSSDCollidingSequence: the user's reply comes as a deliver_sm with
// the sequence number of our screen's submit_sm, before its response. It
// must not be taken for that response: both are served.
func TestUSSDCollidingSequence(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254700000006"
	r.smsc.Do(map[string]any{"cmd": "set", "collide": map[string]any{
		"fields": map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "500", "data_coding": 0x0F, "ussd_service_op": 0x12},
		"hex":    map[string]string{"short_message": hexOf("1"), "its_session_info": "3300"},
	}})
	from, _ := r.ussdFrom(msisdn, dm{op: 1, text: "*500#", its: "3300"})
	resp := r.smsc.WaitFor(from, 5*time.Second, "collide response", func(e nodetest.Event) bool { return e.Str("tag") == "collide" })
	if resp.Str("command") != "deliver_sm_resp" || resp.Num("status") != 0 {
		t.Errorf("the colliding deliver_sm was answered %v", resp)
	}
	screens := r.smsc.WaitCount(from, 2, 5*time.Second, "screens", func(e nodetest.Event) bool {
		return e.Str("ev") == "submit_sm" && e.Str("dst") == msisdn
	})
	if !strings.HasPrefix(screens[0].Str("text"), "Welcome") || !strings.HasPrefix(screens[1].Str("text"), "Pick a fruit") {
		t.Errorf("screens %q, %q", screens[0].Str("text"), screens[1].Str("text"))
	}
	if st := r.hub.Clients()[0].Status().Counters.Unmatched + r.hub.Clients()[1].Status().Counters.Unmatched; st != 0 {
		t.Errorf("%d responses matched nothing", st)
	}
}

// TestUSSDAbortThenResume: the network aborts a dialogue (each profile's
// way); the next dial offers to continue it, and continuing does.
func TestUSSDAbortThenResume(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		profile          string
		open, one, abort dm
		redial           dm
	}{
		{"mica", dm{op: 1, text: "*500#", umr: 5}, dm{op: 0x12, text: "1", umr: 5}, dm{op: 0x81, umr: 5}, dm{op: 1, text: "*500#", umr: 6}},
		{"tata", dm{op: 1, text: "*500#", its: "4400"}, dm{op: 0x12, text: "1", its: "4400"}, dm{op: 0x12, its: "4401"}, dm{op: 1, text: "*500#", its: "4500"}},
		{"sixdee", dm{op: 1, text: "*500#", its: "4600"}, dm{op: 0x12, text: "1", its: "4600"}, dm{op: 0x81, its: "4600"}, dm{op: 1, text: "*500#", its: "4700"}},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tt.profile)
			const msisdn = "254700000007"
			r.step(msisdn, tt.open)
			r.step(msisdn, tt.one)
			from, tag := r.ussdFrom(msisdn, tt.abort)
			if resp := r.smsc.Response(from, tag, 5*time.Second); resp.Num("status") != 0 {
				t.Fatalf("abort answered %v", resp)
			}
			s := r.step(msisdn, tt.redial)
			if !strings.HasPrefix(s.Str("text"), "You have an unfinished session.") {
				t.Fatalf("redial screen %q, want the resume offer", s.Str("text"))
			}
			cont := tt.redial
			cont.op, cont.text = 0x12, "1"
			if tt.profile == "tata" {
				cont.op = 0x02
			}
			if s := r.step(msisdn, cont); !strings.HasPrefix(s.Str("text"), "Pick a fruit") {
				t.Errorf("continued at %q", s.Str("text"))
			}
		})
	}
}

// TestUSSDRefusedScreen: the USSDC refuses a screen (the dialogue is gone
// on its side): not retried, and the next dial offers to resume.
func TestUSSDRefusedScreen(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254700000008"
	r.step(msisdn, dm{op: 1, text: "*500#", its: "5100"})
	r.smsc.Do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 1, "status": 0x45}}})
	from, _ := r.ussdFrom(msisdn, dm{op: 0x12, text: "1", its: "5100"})
	r.smsc.WaitFor(from, 5*time.Second, "refused screen", func(e nodetest.Event) bool { return e.Str("ev") == "answered" && e.Num("status") == 0x45 })
	// The step records the abort after the refusal and only then counts
	// as done: wait for that, not for a guessed delay.
	deadline := time.After(5 * time.Second)
	for r.hub.Steps() != 0 {
		select {
		case <-deadline:
			t.Fatalf("%d ussd steps still in flight", r.hub.Steps())
		case <-time.After(time.Millisecond):
		}
	}
	r.smsc.Sync()
	if n := len(r.smsc.Filter(from, func(e nodetest.Event) bool { return e.Str("ev") == "submit_sm" && e.Str("dst") == msisdn })); n != 1 {
		t.Errorf("%d submits of the refused screen, want 1 (no retry)", n)
	}
	if s := r.step(msisdn, dm{op: 1, text: "*500#", its: "5200"}); !strings.HasPrefix(s.Str("text"), "You have an unfinished session.") {
		t.Errorf("redial screen %q, want the resume offer", s.Str("text"))
	}
}

// TestUSSDLateSMS: an adapter slower than the step budget: the user gets
// the built-in END screen at once, and the result arrives as an SMS when
// the adapter answers.
func TestUSSDLateSMS(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254700000009"
	r.step(msisdn, dm{op: 1, text: "*500#", its: "6100"})
	r.adapters.slow.Store(true)
	start := time.Now()
	s := r.step(msisdn, dm{op: 0x12, text: "2", its: "6100"})
	if s.Num("ussd_service_op") != 0x11 || !strings.Contains(s.Str("text"), "We will send you the answer by SMS") {
		t.Errorf("late screen %v", s)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the late screen took %s", d)
	}
	m := r.sms(0, msisdn)
	if m.Str("text") != "Price of the day: 120 a kilo." || m.Str("src") != "500" {
		t.Errorf("late SMS %v", m)
	}
	// An sms node sends within the step.
	r.adapters.slow.Store(false)
	r.step(msisdn, dm{op: 1, text: "*500#", its: "6200"})
	from := r.smsc.Mark()
	if s := r.step(msisdn, dm{op: 0x12, text: "3", its: "6200"}); s.Str("text") != "The list is on its way by SMS." {
		t.Errorf("sms node screen %q", s.Str("text"))
	}
	if m := r.sms(from, msisdn); m.Str("text") != "Apples, bananas. Dial *500# to order." {
		t.Errorf("sms node message %v", m)
	}
}

// TestUSSDBadInput: malformed USSD deliver_sm get an error status or an
// END screen; none loses the bind; a dialogue works after them.
func TestUSSDBadInput(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254700000010"
	refused := []struct {
		name   string
		fields map[string]any
		hexes  map[string]string
		status int
	}{
		{"no ussd_service_op", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "500", "data_coding": 0x0F},
			map[string]string{"short_message": hexOf("*500#")}, 0xC3},
		{"its_session_info of one octet", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "500", "ussd_service_op": 1},
			map[string]string{"short_message": hexOf("*500#"), "its_session_info": "01"}, 0xC2},
		{"unknown op", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "500", "ussd_service_op": 0x42},
			map[string]string{"short_message": hexOf("1"), "its_session_info": "0100"}, 0xC4},
		{"no source_addr", map[string]any{"service_type": "USSD", "destination_addr": "500", "ussd_service_op": 1},
			map[string]string{"short_message": hexOf("*500#"), "its_session_info": "0100"}, 0x0A},
	}
	for _, tt := range refused {
		from := r.smsc.Mark()
		tag := r.smsc.Send("deliver_sm", tt.fields, tt.hexes)
		if got := r.smsc.Response(from, tag, 5*time.Second).Num("status"); got != tt.status {
			t.Errorf("%s: status %#x, want %#x", tt.name, got, tt.status)
		}
	}
	ends := []struct {
		name string
		d    dm
		text string
	}{
		{"empty text and destination", dm{op: 1, its: "0200", dest: " "}, "dial again"},
		{"invalid GSM bytes", dm{op: 1, text: "\xff\x80\x1b", its: "0300", dest: "999"}, "Unknown service"},
		{"oversize text", dm{op: 1, text: strings.Repeat("*", 254), its: "0400"}, "Unknown service"},
	}
	for _, tt := range ends {
		if s := r.step(msisdn, tt.d); !strings.Contains(s.Str("text"), tt.text) || s.Num("ussd_service_op") != 0x11 {
			t.Errorf("%s: screen %v", tt.name, s)
		}
	}
	// A reply of 3000 octets in message_payload: read, bounded, rejected by the flow.
	r.step(msisdn, dm{op: 1, text: "*500#", its: "0500"})
	from := r.smsc.Mark()
	tag := r.smsc.Send("deliver_sm", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "500", "data_coding": 0x0F, "ussd_service_op": 0x12},
		map[string]string{"message_payload": hexOf(strings.Repeat("9", 3000)), "its_session_info": "0500"})
	if st := r.smsc.Response(from, tag, 5*time.Second).Num("status"); st != 0 {
		t.Errorf("oversize reply: status %#x", st)
	}
	if s := r.screen(from, msisdn); !strings.HasPrefix(s.Str("text"), "Invalid choice") {
		t.Errorf("oversize reply: screen %q", s.Str("text"))
	}
	// The binds never dropped, and the next dialogue works.
	r.smsc.Sync()
	if n := len(r.smsc.Filter(0, nodetest.IsEv("bind"))); n != 2 {
		t.Errorf("%d binds, want the first 2", n)
	}
	if s := r.step("254700000099", dm{op: 1, text: "*500#", its: "0600"}); !strings.HasPrefix(s.Str("text"), "Welcome") {
		t.Errorf("after bad input: %q", s.Str("text"))
	}
}

// TestUSSDStepPanicsOrFails: a session manager that fails or panics after
// the acknowledgement still answers, with the apology END.
func TestUSSDStepPanicsOrFails(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	_ = r.hub // the rig's hub serves the real manager; build one with a broken manager
	smsc := r.smsc
	cfg := bridge.Defaults()
	cfg.Connections = []smpp.Config{conn("broken", smsc.Addr(), "spec")}
	cfg.Connections[0].Group = "broken"
	h, err := bridge.New(cfg, bridge.Deps{KV: r.store, Log: testLogger(t), StepTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(bridge.Routes{USSD: brokenSessions{}}); err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if err := h.WaitBound(t.Context()); err != nil {
		t.Fatal(err)
	}
	smsc.Sync()
	session := smsc.Filter(0, nodetest.IsEv("bind"))[2].Num("session")
	for _, msisdn := range []string{"254700000011", "254700000012"} {
		s := r.step(msisdn, dm{op: 1, text: "*500#", its: "0100", session: session})
		if s.Num("ussd_service_op") != 0x11 || s.Str("text") != cfg.USSD.Apology {
			t.Errorf("%s: %v", msisdn, s)
		}
	}
}
