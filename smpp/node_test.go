package smpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNodeBindUnbind(t *testing.T) {
	for _, bt := range []BindType{BindTRX, BindTXRX} {
		t.Run(string(bt), func(t *testing.T) {
			smsc := startNodeSMSC(t)
			cfg := testConfig(smsc.addr())
			cfg.Bind = bt
			c, err := New(cfg, newInbox(), WithLogger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(context.Background()) })
			if err := c.WaitBound(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			binds := smsc.waitCount(0, len(c.sessions), 5*time.Second, "bind", isEv("bind"))
			want := map[string]bool{"bind_transceiver": bt == BindTRX, "bind_transmitter": bt == BindTXRX, "bind_receiver": bt == BindTXRX}
			for _, b := range binds {
				if !want[b.Str("command")] || !b["ok"].(bool) || b.Str("system_id") != "test" || b.Num("interface_version") != 0x34 {
					t.Errorf("unexpected bind %v", b)
				}
				delete(want, b.Str("command"))
			}
			st := c.Status()
			if !st.Bound || len(st.Sessions) != len(binds) {
				t.Fatalf("status %+v after %d binds", st, len(binds))
			}
			if err := c.Close(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			smsc.waitCount(0, len(binds), 5*time.Second, "unbind", isEv("unbind"))
			for _, s := range c.Status().Sessions {
				if s.State != StateClosed {
					t.Errorf("session %s is %s after Close", s.Role, s.State)
				}
			}
			if _, err := c.Send(t.Context(), Message{Dst: "254700000001", Text: "late"}); !isKind(err, KindClosed) {
				t.Errorf("Send after Close: %v, want KindClosed", err)
			}
		})
	}
}

func TestNodeBindRefused(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfg := testConfig(smsc.addr())
	cfg.Password = "wrong"
	c, err := New(cfg, nil, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	smsc.waitCount(0, 2, 5*time.Second, "bind", isEv("bind")) // it keeps trying, with backoff
	st := c.Status()
	if st.Bound || !strings.Contains(st.Sessions[0].LastError, "ESME_RBINDFAIL") {
		t.Errorf("status after refused binds: %+v", st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Submit(ctx, &ShortMessage{Dest: Addr{Addr: "1"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit while unbound: %v, want the context's deadline", err)
	}
}

func isKind(err error, k ErrorKind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Texts whose naive split would cut an escape or surrogate pair.
var (
	// 152 septets, then € (ESC 0x65) across septets 153-154.
	gsmExt = strings.Repeat("a", 152) + "€ and {curly} [brackets] ~tilde| \\ ^" + strings.Repeat("b", 140) + "€"
	// 151 septets, then { across the 152-septet boundary of udh16/sar.
	gsmExt16 = strings.Repeat("c", 151) + "{x}" + strings.Repeat("d", 150) + "]"
	// 66 units, then an emoji (a surrogate pair) across units 67-68.
	ucs2Pairs = strings.Repeat("ዋ", 66) + "🙂" + strings.Repeat("ጋ", 64) + "😀🎉" + "end"
	// 65 units, then an emoji across the 66-unit boundary of udh16/sar.
	ucs2Pairs16 = strings.Repeat("ዋ", 65) + "🙂🙂" + strings.Repeat("ጋ", 63) + "🎉"
)

func TestNodeMTText(t *testing.T) {
	smsc := startNodeSMSC(t)
	texts := []struct {
		name string
		text string
		dc   int
	}{
		{"gsm single", "Prix du marché: 1200 €", 0},
		{"gsm single full", strings.Repeat("x", 158) + "€", 0},
		{"ucs2 single", "ሰላም 🙂", 8},
		{"gsm ext", gsmExt, 0},
		{"gsm ext16", gsmExt16, 0},
		{"ucs2 pairs", ucs2Pairs, 8},
		{"ucs2 pairs16", ucs2Pairs16, 8},
	}
	n := 0
	for _, method := range []ConcatMethod{ConcatUDH8, ConcatUDH16, ConcatSAR, ConcatPayload} {
		t.Run(string(method), func(t *testing.T) {
			cfg := testConfig(smsc.addr())
			cfg.Concat = method
			c := startClient(t, cfg, newInbox())
			for _, tt := range texts {
				n++
				dst := fmt.Sprintf("2547%08d", n)
				from := smsc.mark()
				res, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: dst, Text: tt.text})
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				wantSegs, _ := Segments(tt.text, method)
				if res.Segments != wantSegs || int(res.DataCoding) != tt.dc {
					t.Errorf("%s: result %+v, want %d segments dc %d", tt.name, res, wantSegs, tt.dc)
				}
				m := smsc.waitFor(from, 5*time.Second, "message to "+dst, func(e event) bool {
					return e.Str("ev") == "message" && e.Str("dst") == dst
				})
				if m.Str("text") != tt.text {
					t.Errorf("%s: the SMSC reassembled\n%q\nwant\n%q", tt.name, m.Str("text"), tt.text)
				}
				wantMethod, wantParts := string(method), wantSegs
				switch {
				case wantSegs == 1:
					wantMethod = "single"
				case method == ConcatPayload:
					wantParts = 1
				}
				if m.Str("method") != wantMethod || m.Num("parts") != wantParts || m.Num("dc") != tt.dc {
					t.Errorf("%s: message %v, want method %s, %d parts, dc %d", tt.name, m, wantMethod, wantParts, tt.dc)
				}
				for _, s := range smsc.filter(from, isEv("submit_sm")) {
					if s.Num("registered_delivery") != 1 || s.Str("src") != "384" || s.Num("dest_ton") != 1 {
						t.Errorf("%s: submit_sm %v", tt.name, s)
					}
				}
			}
		})
	}
}

// TestNodeDropMidBatch has the SMSC drop the connection in the middle of a
// batch without answering: every message must still arrive; in-flight ones
// may arrive twice (at most the window's worth).
func TestNodeDropMidBatch(t *testing.T) {
	smsc := startNodeSMSC(t)
	cfg := testConfig(smsc.addr())
	cfg.Window = 8
	c := startClient(t, cfg, newInbox())
	smsc.do(map[string]any{"cmd": "set", "drop_after": 40})
	const total = 120
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 16)
	for i := range total {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := c.Send(ctxT(t, 10*time.Second), Message{Dst: "254700000001", Text: fmt.Sprintf("batch %d", i)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	smsc.sync()
	smsc.waitFor(0, time.Second, "dropping", isEv("dropping"))
	seen := map[string]int{}
	for _, e := range smsc.filter(0, isEv("submit_sm")) {
		seen[e.Str("text")]++
	}
	dups := 0
	for i := range total {
		k := fmt.Sprintf("batch %d", i)
		if seen[k] == 0 {
			t.Errorf("%q never reached the SMSC", k)
		}
		dups += max(seen[k]-1, 0)
	}
	st := c.Status()
	t.Logf("%d messages, %d duplicates after the drop, counters %+v", total, dups, st.Counters)
	if dups > cfg.Window {
		t.Errorf("%d duplicates, more than the window %d in flight at the drop", dups, cfg.Window)
	}
	if st.Sessions[0].Drops != 1 || st.Sessions[0].Binds != 2 {
		t.Errorf("sessions %+v, want one drop and a rebind", st.Sessions)
	}
}

// TestNodeThrottle answers ESME_RTHROTTLED a few times: the bind slows
// down and every message still arrives once.
func TestNodeThrottle(t *testing.T) {
	smsc := startNodeSMSC(t)
	c := startClient(t, testConfig(smsc.addr()), newInbox())
	smsc.do(map[string]any{"cmd": "set", "fail": []map[string]any{{"count": 5, "status": 0x58}, {"count": 2, "status": 0x14}}})
	const total = 20
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			if _, err := c.Send(ctxT(t, 10*time.Second), Message{Dst: "254700000002", Text: fmt.Sprintf("throttled %d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	smsc.sync()
	ok := map[string]int{}
	byseq := map[int]string{}
	for _, e := range smsc.filter(0, isEv("submit_sm")) {
		byseq[e.Num("seq")] = e.Str("text")
	}
	for _, e := range smsc.filter(0, isEv("answered")) {
		if e.Num("status") == 0 {
			ok[byseq[e.Num("seq")]]++
		}
	}
	for i := range total {
		if k := fmt.Sprintf("throttled %d", i); ok[k] != 1 {
			t.Errorf("%q accepted %d times, want 1", k, ok[k])
		}
	}
	if got := c.Status().Counters.Throttled; got != 7 {
		t.Errorf("Throttled = %d, want 7", got)
	}
}

// TestNodeSeqCollision has the SMSC send a deliver_sm with the sequence
// number of our in-flight submit_sm; go-smpp loses it, we must not.
func TestNodeSeqCollision(t *testing.T) {
	smsc := startNodeSMSC(t)
	box := newInbox()
	c := startClient(t, testConfig(smsc.addr()), box)
	smsc.do(map[string]any{"cmd": "set", "collide": map[string]any{
		"fields": map[string]any{"source_addr": "254700000003", "destination_addr": "384", "data_coding": 0},
		"hex":    map[string]string{"short_message": fmt.Sprintf("%x", "hello")},
	}})
	res, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: "254700000003", Text: "collide"})
	if err != nil {
		t.Fatal(err)
	}
	in := box.next(t, 5*time.Second)
	if text, _ := in.Text(); in.Source.Addr != "254700000003" || text != "hello" {
		t.Errorf("handler got %+v %q", in, text)
	}
	sub := smsc.waitFor(0, time.Second, "submit_sm", isEv("submit_sm"))
	if in.Seq != uint32(sub.Num("seq")) {
		t.Errorf("deliver_sm seq %d, submit_sm seq %d: no collision was tested", in.Seq, sub.Num("seq"))
	}
	r := smsc.waitFor(0, time.Second, "collide response", func(e event) bool { return e.Str("tag") == "collide" })
	if r.Str("command") != "deliver_sm_resp" || r.Num("status") != 0 {
		t.Errorf("SMSC got %v", r)
	}
	if len(res.IDs) != 1 || res.IDs[0] == "" {
		t.Errorf("result %+v", res)
	}
}
