package bridge_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd"
)

// brokenSessions fails every step: a panic for one subscriber, an error
// without a screen for the others.
type brokenSessions struct{}

func (brokenSessions) Handle(_ context.Context, req ussd.Request) (ussd.Response, error) {
	if strings.HasSuffix(string(req.MSISDN), "11") {
		panic("broken")
	}
	return ussd.Response{}, errors.New("broken")
}

func (brokenSessions) Abort(context.Context, msisdn.MSISDN, string) error { return nil }

// TestMOKeywords: a keyword without an SMS dialogue gets the service's
// help, HELP the list, a keyword with a dialogue opens it, a reply
// continues it.
func TestMOKeywords(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254711000001"
	tests := []struct {
		text, want string
	}{
		{"news", "News: dial *501# for today's headlines."},
		{"HELP", "Send a keyword:\nNEWS - News (*501#)\nSHOP - Shop (*500#)"},
		{"what?", "Send a keyword:\nNEWS - News (*501#)\nSHOP - Shop (*500#)"},
		{"SHOP", "Welcome to the shop\n1. Fruits\n2. Price of the day\n3. Send me the list"},
		{"1", "Pick a fruit"},
		{"2", "How many bananas?"},
		{"4", "Order placed: 4 bananas."},
	}
	for _, tt := range tests {
		from, status := r.moText(msisdn, tt.text)
		if status != 0 {
			t.Fatalf("%q: status %#x", tt.text, status)
		}
		if m := r.sms(from, msisdn); !strings.HasPrefix(m.Str("text"), tt.want) || m.Str("src") != "500" {
			t.Errorf("%q: reply %q from %s, want %q", tt.text, m.Str("text"), m.Str("src"), tt.want)
		}
	}
}

// TestMOConcatenated: the parts of one MO, on different binds and out of
// order (UDH 8-bit, then SAR), are reassembled before routing: one reply.
func TestMOConcatenated(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254711000002"
	parts := []string{"NEWS ", "please, all of ", "it"}
	from := r.smsc.Mark()
	for _, i := range []int{2, 0, 1} {
		udh := fmt.Sprintf("050003%02x%02x%02x", 0x42, len(parts), i+1)
		_, status := r.mo(msisdn, map[string]any{"esm_class": 0x40},
			map[string]string{"short_message": udh + hex.EncodeToString([]byte(parts[i]))})
		if status != 0 {
			t.Fatalf("part %d: status %#x", i+1, status)
		}
	}
	if m := r.sms(from, msisdn); m.Str("text") != "News: dial *501# for today's headlines." {
		t.Errorf("reply %q", m.Str("text"))
	}
	sar := r.smsc.Mark()
	for i, p := range []string{"SH", "OP"} {
		_, status := r.mo(msisdn, map[string]any{"sar_msg_ref_num": 0x0102, "sar_total_segments": 2, "sar_segment_seqnum": i + 1},
			map[string]string{"short_message": hex.EncodeToString([]byte(p))})
		if status != 0 {
			t.Fatalf("sar part %d: status %#x", i+1, status)
		}
	}
	if m := r.sms(sar, msisdn); !strings.HasPrefix(m.Str("text"), "Welcome to the shop") {
		t.Errorf("sar reply %q", m.Str("text"))
	}
	r.smsc.Sync()
	if n := len(r.smsc.Filter(from, func(e nodetest.Event) bool {
		return e.Str("ev") == "message" && e.Str("dst") == msisdn && !e.Has("ussd")
	})); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
	// A malformed header is refused for good.
	if _, status := r.mo(msisdn, map[string]any{"esm_class": 0x40}, map[string]string{"short_message": "09000301"}); status != 0x65 {
		t.Errorf("bad UDH: status %#x, want ESME_RX_P_APPN", status)
	}
}

// TestMONotLost: when the reply cannot go out, the MO is refused with a
// temporary status (the SMSC delivers it again); delivered again, it is
// answered.
func TestMONotLost(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254711000003"
	r.smsc.Do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 1, "status": 0x0B}}})
	if _, status := r.moText(msisdn, "NEWS"); status != 0x64 {
		t.Fatalf("status %#x, want ESME_RX_T_APPN", status)
	}
	from, status := r.moText(msisdn, "NEWS")
	if status != 0 {
		t.Fatalf("again: status %#x", status)
	}
	if m := r.sms(from, msisdn); !strings.HasPrefix(m.Str("text"), "News:") {
		t.Errorf("reply %q", m.Str("text"))
	}
}

// TestDataSMAndUnsupported: a data_sm MO is routed like a deliver_sm;
// PDUs an ESME does not serve are refused; the binds stay up and USSD
// still works.
func TestDataSMAndUnsupported(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	const msisdn = "254711000004"
	from, status := r.mo(msisdn, map[string]any{"command": "data_sm"}, map[string]string{"message_payload": hexOf("news")})
	if status != 0 {
		t.Fatalf("data_sm: status %#x", status)
	}
	if m := r.sms(from, msisdn); !strings.HasPrefix(m.Str("text"), "News:") {
		t.Errorf("data_sm reply %q", m.Str("text"))
	}
	for _, cmd := range []string{"query_sm", "cancel_sm", "replace_sm"} {
		from := r.smsc.Mark()
		tag := r.smsc.Send(cmd, map[string]any{"message_id": "1", "source_addr": "500"}, nil)
		if st := r.smsc.Response(from, tag, 5*time.Second).Num("status"); st != 0x03 {
			t.Errorf("%s: status %#x, want ESME_RINVCMDID", cmd, st)
		}
	}
	r.smsc.Sync()
	if n := len(r.smsc.Filter(0, nodetest.IsEv("bind"))); n != 2 {
		t.Errorf("%d binds, want the first 2", n)
	}
	if s := r.step(msisdn, dm{op: 1, text: "*500#", its: "0100"}); !strings.HasPrefix(s.Str("text"), "Welcome") {
		t.Errorf("USSD after unsupported PDUs: %q", s.Str("text"))
	}
}

// TestMTConcatenated: long MT SMS reassembled by the peer equal what was
// sent: GSM 7-bit with extension characters, UCS-2 with surrogate pairs.
func TestMTConcatenated(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	texts := map[string]string{
		"254711000010": strings.Repeat("Price {maize} [KES] ~1,200 € | ^ \\ ", 12),
		"254711000011": strings.Repeat("Bei ya mahindi 🌽 ni 1,200 💰. ", 9),
	}
	for msisdn, text := range texts {
		from := r.smsc.Mark()
		if err := r.hub.Send(t.Context(), msisdn, text); err != nil {
			t.Fatal(err)
		}
		m := r.sms(from, msisdn)
		if m.Str("text") != text || m.Num("parts") < 2 {
			t.Errorf("%s: %d parts, text\n%q\nwant\n%q", msisdn, m.Num("parts"), m.Str("text"), text)
		}
	}
}

// TestMTBatchSurvivesDropAndThrottle: a batch of MT SMS while the SMSC
// drops the connection and then throttles: every message arrives.
func TestMTBatchSurvivesDropAndThrottle(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec")
	send := func(n int, prefix string) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := r.hub.Send(t.Context(), fmt.Sprintf("2547120%05d", i), fmt.Sprintf("%s %d", prefix, i)); err != nil {
					t.Errorf("%s %d: %v", prefix, i, err)
				}
			})
		}
		wg.Wait()
		r.smsc.Sync()
		got := map[string]bool{}
		for _, e := range r.smsc.Filter(0, nodetest.IsEv("message")) {
			got[e.Str("text")] = true
		}
		for i := range n {
			if !got[fmt.Sprintf("%s %d", prefix, i)] {
				t.Errorf("%s %d never reached the SMSC", prefix, i)
			}
		}
	}
	r.smsc.Do(map[string]any{"cmd": "set", "drop_after": 7})
	send(20, "drop")
	r.smsc.Do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 4, "status": 0x58}}})
	send(10, "throttle")
	throttled := int64(0)
	for _, c := range r.hub.Clients() {
		throttled += c.Status().Counters.Throttled
	}
	if throttled != 4 {
		t.Errorf("%d throttle answers seen, want 4", throttled)
	}
}

// TestDLRRoundTrip: an MT SMS's delivery receipt lands in the store
// (Redis) under the reference SendSMS returned; the SMSC gives decimal ids
// and hex ones in receipts, and the binds say so.
func TestDLRRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRig(t, "spec", func(c *bridge.Config) {
		for i := range c.Connections {
			c.Connections[i].ReceiptIDs = smpp.ReceiptIDsReceiptHex
		}
	})
	r.smsc.Do(map[string]any{"cmd": "set", "dlr": map[string]any{"mode": "text", "id": "hex"}})
	ctx := t.Context()
	ref, err := r.hub.SendSMS(ctx, "254711000020", strings.Repeat("two parts ", 20))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok, err := r.hub.Lookup(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if ok && st.Delivery() == smpp.DeliveryDelivered {
			if len(st.Parts) != 2 {
				t.Errorf("status %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivered status for %s: %+v %v", ref, st, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok, _ := r.hub.Lookup(ctx, "nope"); ok {
		t.Error("unknown ref found")
	}
}
