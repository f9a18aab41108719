package smpp

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNodeUnsupportedPDUs has the SMSC send PDUs an ESME does not serve,
// and one that is not SMPP at all: each gets the right answer (or none,
// for those without a response) and the bind stays up.
func TestNodeUnsupportedPDUs(t *testing.T) {
	smsc := startNodeSMSC(t)
	box := newInbox()
	c := startClient(t, testConfig(smsc.addr()), box)

	tests := []struct {
		command string
		fields  map[string]any
		hex     map[string]string
		resp    string // "" when the PDU has no response
		status  int
	}{
		{"data_sm", map[string]any{"source_addr": "254700000004", "destination_addr": "384", "data_coding": 0},
			map[string]string{"message_payload": fmt.Sprintf("%x", "via data sm")}, "data_sm_resp", 0},
		{"cancel_sm", map[string]any{"message_id": "1", "source_addr": "384", "destination_addr": "254700000004"}, nil, "cancel_sm_resp", 0x03},
		{"replace_sm", map[string]any{"message_id": "1", "source_addr": "384"}, map[string]string{"short_message": "41"}, "replace_sm_resp", 0x03},
		{"query_sm", map[string]any{"message_id": "1", "source_addr": "384"}, nil, "query_sm_resp", 0x03},
		{"submit_sm", map[string]any{"destination_addr": "384"}, map[string]string{"short_message": "41"}, "submit_sm_resp", 0x03},
		{"bind_transceiver", map[string]any{"system_id": "x", "password": "y"}, nil, "bind_transceiver_resp", 0x05},
		{"alert_notification", map[string]any{"source_addr": "254700000004", "esme_addr": "384"}, nil, "", 0},
		{"outbind", map[string]any{"system_id": "x", "password": "y"}, nil, "", 0},
	}
	for _, tt := range tests {
		from := smsc.mark()
		tag := smsc.send(tt.command, tt.fields, tt.hex)
		if tt.resp == "" {
			continue
		}
		r := smsc.waitFor(from, 5*time.Second, tt.command+" response", func(e event) bool { return e.Str("tag") == tag && e.Str("ev") == "response" })
		if r.Str("command") != tt.resp || r.Num("status") != tt.status {
			t.Errorf("%s: got %s status %#x, want %s status %#x", tt.command, r.Str("command"), r.Num("status"), tt.resp, tt.status)
		}
	}
	in := box.next(t, 5*time.Second)
	if text, _ := in.Text(); !in.DataSM || text != "via data sm" || in.Source.Addr != "254700000004" {
		t.Errorf("data_sm reached the handler as %+v %q", in, text)
	}

	// An unknown command id: generic_nack with ESME_RINVCMDID.
	from := smsc.mark()
	smsc.do(map[string]any{"cmd": "raw", "hex": "0000001000000999000000000000b0b0"})
	nack := smsc.waitFor(from, 5*time.Second, "generic_nack", func(e event) bool { return e.Str("ev") == "pdu" && e.Num("seq") == 0xb0b0 })
	if nack.Str("command") != "generic_nack" || nack.Num("status") != 0x03 {
		t.Errorf("unknown command answered with %v", nack)
	}

	// Still bound, on the first connection.
	from = smsc.mark()
	smsc.do(map[string]any{"cmd": "enquire_link"})
	r := smsc.waitFor(from, 5*time.Second, "enquire_link_resp", isEv("response"))
	if r.Str("command") != "enquire_link_resp" || r.Num("status") != 0 {
		t.Errorf("enquire_link answered with %v", r)
	}
	if st := c.Status(); st.Sessions[0].Binds != 1 || st.Sessions[0].Drops != 0 || st.Counters.Unsupported != 8 {
		t.Errorf("status %+v, want one bind, no drop, 8 unsupported PDUs", st)
	}
}

// TestNodeEnquireLink checks enquire_link both ways, and that a missing
// enquire_link_resp makes us drop the connection and bind again.
func TestNodeEnquireLink(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfg := testConfig(smsc.addr())
	cfg.EnquireLink = 20 * time.Millisecond
	cfg.Timeouts.Response = 200 * time.Millisecond
	c := startClient(t, cfg, newInbox())

	smsc.waitCount(0, 3, 5*time.Second, "enquire_link", isEv("enquire_link"))
	from := smsc.mark()
	smsc.do(map[string]any{"cmd": "enquire_link"})
	if r := smsc.waitFor(from, 5*time.Second, "response", isEv("response")); r.Str("command") != "enquire_link_resp" {
		t.Errorf("our answer to enquire_link: %v", r)
	}

	smsc.do(map[string]any{"cmd": "set", "answer_enquire": false})
	waitUntil(t, 5*time.Second, "a drop for the missing enquire_link_resp", func() bool { return c.Status().Sessions[0].Drops >= 1 })
	if e := c.Status().Sessions[0].LastError; !strings.Contains(e, "enquire_link_resp") {
		t.Errorf("LastError = %q", e)
	}
	smsc.do(map[string]any{"cmd": "set", "answer_enquire": true})
	if err := c.WaitBound(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Sessions[0].Binds < 2 {
		t.Errorf("no rebind: %+v", st.Sessions[0])
	}
}

// TestNodeUnbindFromSMSC: we answer the SMSC's unbind and bind again.
func TestNodeUnbindFromSMSC(t *testing.T) {
	smsc := startNodeSMSC(t)
	c := startClient(t, testConfig(smsc.addr()), newInbox())
	from := smsc.mark()
	smsc.do(map[string]any{"cmd": "unbind"})
	if r := smsc.waitFor(from, 5*time.Second, "unbind_resp", isEv("response")); r.Str("command") != "unbind_resp" || r.Num("status") != 0 {
		t.Errorf("our answer to unbind: %v", r)
	}
	smsc.waitFor(from, 5*time.Second, "rebind", isEv("bind"))
	if _, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: "254700000005", Text: "after unbind"}); err != nil {
		t.Fatal(err)
	}
	if st := c.Status().Sessions[0]; st.Binds != 2 || !strings.Contains(st.LastError, "unbind") {
		t.Errorf("session %+v", st)
	}
}

// TestNodeWindow withholds every response: no more than the window's
// submits may be outstanding, and callers wait for a slot instead of
// failing.
func TestNodeWindow(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfg := testConfig(smsc.addr())
	cfg.Window = 5
	cfg.Timeouts.Response = 30 * time.Second
	c := startClient(t, cfg, newInbox())
	smsc.do(map[string]any{"cmd": "set", "withhold": true})

	const total = 17
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			if _, err := c.Send(ctxT(t, 30*time.Second), Message{Dst: "254700000006", Text: fmt.Sprintf("window %d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	smsc.waitCount(0, cfg.Window, 5*time.Second, "submit_sm", isEv("submit_sm"))
	waitUntil(t, 5*time.Second, "the other callers to wait for a slot", func() bool { return c.Status().Waiting == total-cfg.Window })
	if st := smsc.stats(); st.Num("outstanding") != cfg.Window || st.Num("submits") != cfg.Window {
		t.Errorf("with %d callers waiting the SMSC has %v", total-cfg.Window, st)
	}
	if got := c.Status().Sessions[0].InFlight; got != cfg.Window {
		t.Errorf("InFlight = %d, want %d", got, cfg.Window)
	}
	smsc.do(map[string]any{"cmd": "release"})
	wg.Wait()
	st := smsc.stats()
	if st.Num("submits") != total || st.Num("max_outstanding") != cfg.Window {
		t.Errorf("SMSC stats %v: want %d submits, at most %d outstanding", st, total, cfg.Window)
	}
}

// TestNodeDedupe covers the ambiguous timeout: a late response inside the
// dedupe window settles the submit without a duplicate; no response at all
// means a resend after the window; with no window, no resend.
func TestNodeDedupe(t *testing.T) {
	smsc := startNodeSMSC(t)
	count := func(text string) int {
		smsc.sync()
		return len(smsc.filter(0, func(e event) bool { return e.Str("ev") == "submit_sm" && e.Str("text") == text }))
	}

	t.Run("late response", func(t *testing.T) {
		cfg := testConfig(smsc.addr())
		cfg.Timeouts.Response = 50 * time.Millisecond
		cfg.Retry.DedupeWindow = 5 * time.Second
		c := startClient(t, cfg, newInbox())
		smsc.do(map[string]any{"cmd": "set", "delay": 1, "delay_ms": 300})
		res, err := c.Send(ctxT(t, 10*time.Second), Message{Dst: "254700000007", Text: "late"})
		if err != nil {
			t.Fatal(err)
		}
		cs := c.Status().Counters
		if res.Attempts != 1 || count("late") != 1 || cs.Timeouts != 1 || cs.LateResponses != 1 {
			t.Errorf("attempts %d, SMSC saw %d, counters %+v", res.Attempts, count("late"), cs)
		}
	})
	t.Run("no response", func(t *testing.T) {
		cfg := testConfig(smsc.addr())
		cfg.Timeouts.Response = 50 * time.Millisecond
		cfg.Retry.DedupeWindow = 100 * time.Millisecond
		c := startClient(t, cfg, newInbox())
		smsc.do(map[string]any{"cmd": "set", "ignore": 1})
		res, err := c.Send(ctxT(t, 10*time.Second), Message{Dst: "254700000007", Text: "lost"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 2 || count("lost") != 2 {
			t.Errorf("attempts %d, SMSC saw %d; want a resend after the dedupe window", res.Attempts, count("lost"))
		}
	})
	t.Run("no window", func(t *testing.T) {
		cfg := testConfig(smsc.addr())
		cfg.Timeouts.Response = 50 * time.Millisecond
		cfg.Retry.DedupeWindow = 0
		c := startClient(t, cfg, newInbox())
		smsc.do(map[string]any{"cmd": "set", "ignore": 1})
		res, err := c.Send(ctxT(t, 10*time.Second), Message{Dst: "254700000007", Text: "once"})
		var e *Error
		if !asError(err, &e) || e.Kind != KindTimeout || !e.Ambiguous() {
			t.Fatalf("err = %v, want an ambiguous timeout", err)
		}
		if res.Attempts != 1 || count("once") != 1 {
			t.Errorf("attempts %d, SMSC saw %d; want no resend", res.Attempts, count("once"))
		}
	})
}

// TestNodeStatuses: permanent statuses fail at once; NoRetry (USSD) never
// resends, even on a temporary status.
func TestNodeStatuses(t *testing.T) {
	smsc := startNodeSMSC(t)
	c := startClient(t, testConfig(smsc.addr()), newInbox())

	smsc.do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 1, "status": 0x0B}}})
	res, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: "254700000008", Text: "bad dst"})
	if st, ok := StatusOf(err); !ok || st != StatusInvDstAdr || IsRetryable(err) || res.Attempts != 1 {
		t.Errorf("permanent: err %v attempts %d", err, res.Attempts)
	}

	smsc.do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 1, "status": 0x58}}})
	sm := &ShortMessage{ServiceType: "USSD", Source: Addr{Addr: "384"}, Dest: Addr{Addr: "254700000008", TON: 1, NPI: 1},
		DataCoding: 0x0F, Body: []byte("1. Maize"), TLVs: TLVs{TagUssdServiceOp: {0x02}, TagItsSessionInfo: {0x12, 0x34}}}
	sub, err := c.Submit(ctxT(t, 5*time.Second), sm, NoRetry())
	if st, ok := StatusOf(err); !ok || st != StatusThrottled || !IsRetryable(err) || sub.Attempts != 1 {
		t.Errorf("NoRetry: err %v attempts %d", err, sub.Attempts)
	}
	from := smsc.mark()
	if _, err := c.Submit(ctxT(t, 5*time.Second), sm, NoRetry()); err != nil {
		t.Fatal(err)
	}
	e := smsc.waitFor(from, time.Second, "submit_sm", isEv("submit_sm"))
	if e.Num("ussd_service_op") != 2 || e.Str("its_session_info") != "1234" || e.Str("service_type") != "USSD" || e.Num("dc") != 0x0F {
		t.Errorf("USSD submit arrived as %v", e)
	}
	smsc.sync()
	if n := len(smsc.filter(0, func(e event) bool { return e.Str("ev") == "submit_sm" && e.Str("service_type") == "USSD" })); n != 2 {
		t.Errorf("the SMSC saw %d USSD submits, want 2 (no retry)", n)
	}
}
