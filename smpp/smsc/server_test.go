package smsc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/reassembly"
)

func TestBind(t *testing.T) {
	s := startServer(t, Config{SystemID: "SIM", Accounts: []Account{{"ussdgw", "secret"}}})
	for _, tt := range []struct {
		name     string
		id       pdu.ID
		sys, pwd string
		want     smpp.CommandStatus
	}{
		{"transceiver", pdu.BindTransceiverID, "ussdgw", "secret", smpp.StatusOK},
		{"transmitter", pdu.BindTransmitterID, "ussdgw", "secret", smpp.StatusOK},
		{"receiver", pdu.BindReceiverID, "ussdgw", "secret", smpp.StatusOK},
		{"bad password", pdu.BindTransceiverID, "ussdgw", "nope", smpp.StatusInvPaswd},
		{"unknown system_id", pdu.BindTransceiverID, "other", "secret", smpp.StatusInvSysID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := dialRaw(t, s.Addr())
			r.write(encodeFrame(tt.id, 0, 7, bindBody(tt.sys, tt.pwd)))
			f := r.read()
			if f.h.ID != tt.id|respBit || f.h.Seq != 7 || smpp.CommandStatus(f.h.Status) != tt.want {
				t.Fatalf("got %s seq %d status %s, want %s", commandName(f.h.ID), f.h.Seq, smpp.CommandStatus(f.h.Status), tt.want)
			}
			if string(f.body) != "SIM\x00" {
				t.Errorf("system_id %q", f.body)
			}
			if tt.want != smpp.StatusOK {
				return
			}
			// A second bind on the same connection is refused.
			r.write(encodeFrame(tt.id, 0, 8, bindBody(tt.sys, tt.pwd)))
			if f := r.read(); smpp.CommandStatus(f.h.Status) != smpp.StatusAlyBnd {
				t.Errorf("second bind: %s", smpp.CommandStatus(f.h.Status))
			}
			r.write(encodeFrame(pdu.EnquireLinkID, 0, 9, nil))
			if f := r.read(); f.h.ID != pdu.EnquireLinkRespID || f.h.Seq != 9 {
				t.Errorf("enquire_link: got %s seq %d", commandName(f.h.ID), f.h.Seq)
			}
			r.write(encodeFrame(pdu.UnbindID, 0, 10, nil))
			if f := r.read(); f.h.ID != pdu.UnbindRespID || f.h.Seq != 10 {
				t.Errorf("unbind: got %s seq %d", commandName(f.h.ID), f.h.Seq)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	s := startServer(t, Config{})
	r := dialRaw(t, s.Addr())
	// Before a bind, a submit_sm is refused with ESME_RINVBNDSTS.
	r.write(encodeFrame(pdu.SubmitSMID, 0, 1, nil))
	if f := r.read(); f.h.ID != pdu.SubmitSMRespID || smpp.CommandStatus(f.h.Status) != smpp.StatusInvBndSts {
		t.Fatalf("unbound submit: %s %s", commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
	}
	r.write(encodeFrame(pdu.BindTransceiverID, 0, 2, bindBody("x", "y")))
	r.read()
	for _, tt := range []struct {
		name   string
		pdu    []byte
		wantID pdu.ID
		want   smpp.CommandStatus
	}{
		{"unknown command", encodeFrame(0x00000999, 0, 3, nil), pdu.GenericNACKID, smpp.StatusInvCmdID},
		{"data_sm", encodeFrame(pdu.DataSMID, 0, 4, []byte{0}), pdu.DataSMRespID, smpp.StatusInvCmdID},
		{"empty submit_sm", encodeFrame(pdu.SubmitSMID, 0, 5, nil), pdu.SubmitSMRespID, smpp.StatusInvMsgLen},
		{"sm_length past the end", encodeFrame(pdu.SubmitSMID, 0, 6, append(make([]byte, 16), 200, 'a')), pdu.SubmitSMRespID, smpp.StatusInvMsgLen},
		{"truncated tlv", encodeFrame(pdu.SubmitSMID, 0, 7, append(append(make([]byte, 16), 1, 'a'), 0x05, 0x01, 0, 9, 1)), pdu.SubmitSMRespID, smpp.StatusInvMsgLen},
	} {
		r.write(tt.pdu)
		f := r.read()
		if f.h.ID != tt.wantID || smpp.CommandStatus(f.h.Status) != tt.want {
			t.Errorf("%s: got %s %s, want %s %s", tt.name, commandName(f.h.ID), smpp.CommandStatus(f.h.Status), commandName(tt.wantID), tt.want)
		}
	}
	// Still serving.
	r.write(encodeFrame(pdu.EnquireLinkID, 0, 20, nil))
	if f := r.read(); f.h.ID != pdu.EnquireLinkRespID {
		t.Fatalf("after bad input: %s", commandName(f.h.ID))
	}
	// A command_length below the header cannot be framed: nack, close.
	r.write([]byte{0, 0, 0, 4, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 21})
	if f := r.read(); f.h.ID != pdu.GenericNACKID || smpp.CommandStatus(f.h.Status) != smpp.StatusInvCmdLen {
		t.Fatalf("bad length: %s %s", commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
	}
	if st := s.Stats(); st.BadPDUs != 4 {
		t.Errorf("bad pdus %d, want 4", st.BadPDUs)
	}
}

// TestSubmitReceipt: a submit_sm gets a message id, and the receipt that
// follows carries the same id in receipted_message_id and in the text.
func TestSubmitReceipt(t *testing.T) {
	for _, form := range []struct {
		id, dlr string
		ids     smpp.ReceiptIDs // what an ESME configures for it
	}{{"dec", "", smpp.ReceiptIDsSame}, {"dec", "hex", smpp.ReceiptIDsReceiptHex}, {"hex", "dec", smpp.ReceiptIDsSubmitHex}} {
		t.Run(form.id+"-"+form.dlr, func(t *testing.T) {
			subs := make(chan *Submit, 10)
			s := startServer(t, Config{DLR: true, DLRDelay: 20 * time.Millisecond, IDForm: form.id, DLRIDForm: form.dlr,
				OnSubmit: func(s *Submit) { subs <- s }})
			receipts := make(chan smpp.Receipt, 10)
			c := startESME(t, clientConfig("a", s.Addr()), smpp.HandlerFunc(func(_ context.Context, in *smpp.Inbound) smpp.CommandStatus {
				r, err := smpp.ParseReceipt(in)
				if err != nil {
					t.Errorf("receipt: %v", err)
				}
				receipts <- r
				return smpp.StatusOK
			}))
			res, err := c.Send(ctxT(t, 5*time.Second), smpp.Message{Dst: "254700000001", Text: "Maize 1200 KES"})
			if err != nil {
				t.Fatal(err)
			}
			sub := recv(t, subs, "submit")
			if sub.Text != "Maize 1200 KES" || sub.MessageID != res.IDs[0] || sub.Dest.Addr != "254700000001" || sub.RegisteredDelivery != 1 {
				t.Errorf("submit %+v, sent ids %v", sub, res.IDs)
			}
			r := recv(t, receipts, "receipt")
			if !form.ids.Matches(res.IDs[0], r.ID) || r.State != smpp.MsgDelivered || r.Stat != "DELIVRD" {
				t.Errorf("receipt %+v for id %s", r, res.IDs[0])
			}
			if form.dlr != "" && form.dlr != form.id && r.ID == res.IDs[0] {
				t.Errorf("receipt id %s should be in the other form than %s", r.ID, res.IDs[0])
			}
			if r.Source.Addr != "254700000001" {
				t.Errorf("receipt from %q", r.Source.Addr)
			}
		})
	}
}

// TestReassembly: concatenated MT by every method of the phase 1 client,
// joined by the server, equals the input.
func TestReassembly(t *testing.T) {
	texts := map[string]string{
		"gsm-ext": strings.Repeat("Maize {1200} KES/90kg [Nairobi] ~ € | ^ \\ ", 12),
		"ucs2":    strings.Repeat("ዋጋ 🙂 bei ya mahindi 🌽 ", 12),
	}
	for _, m := range []smpp.ConcatMethod{smpp.ConcatUDH8, smpp.ConcatUDH16, smpp.ConcatSAR, smpp.ConcatPayload} {
		for name, text := range texts {
			t.Run(string(m)+"/"+name, func(t *testing.T) {
				msgs := make(chan *Message, 10)
				s := startServer(t, Config{OnMessage: func(m *Message) { msgs <- m }})
				cfg := clientConfig("a", s.Addr())
				cfg.Concat = m
				c := startESME(t, cfg, nil)
				res, err := c.Send(ctxT(t, 5*time.Second), smpp.Message{Dst: "254700000001", Text: text})
				if err != nil {
					t.Fatal(err)
				}
				got := recv(t, msgs, "message")
				if got.Text != text {
					t.Errorf("got\n%q\nwant\n%q", got.Text, text)
				}
				wantParts := res.Segments
				if m == smpp.ConcatPayload {
					wantParts = 1
				}
				if got.Parts != wantParts || res.Segments < 2 {
					t.Errorf("parts %d, segments %d", got.Parts, res.Segments)
				}
			})
		}
	}
}

// TestMO: MO SMS, short and long, reach the ESME and reassemble there.
func TestMO(t *testing.T) {
	s := startServer(t, Config{})
	mo := reassembly.NewReassembler(time.Minute, 100)
	got := make(chan *reassembly.MO, 10)
	startESME(t, clientConfig("a", s.Addr()), smpp.HandlerFunc(func(_ context.Context, in *smpp.Inbound) smpp.CommandStatus {
		m, err := mo.Add(in)
		if err != nil {
			t.Error(err)
		}
		if m != nil {
			got <- m
		}
		return smpp.StatusOK
	}))
	for _, text := range []string{"PRICE MAIZE", strings.Repeat("bei {ya} mahindi € ", 20), strings.Repeat("ዋጋ 🙂 ", 30)} {
		if err := s.SendMO(ctxT(t, 5*time.Second), "254700000002", "384", text); err != nil {
			t.Fatal(err)
		}
		m := recv(t, got, "mo")
		if m.Text != text || m.Source.Addr != "254700000002" || m.Dest.Addr != "384" {
			t.Errorf("got %q from %s to %s, want %q", m.Text, m.Source.Addr, m.Dest.Addr, text)
		}
	}
}

// fourScreens is a four-screen menu for the built-in ESME: dial, two
// choices, an end that shows the code dialled. It is not the load test's
// flow (cmd/smsc-sim takes that from cmd/loadtest/flows/bench.yaml); the
// profile tests only need screens they can tell apart.
func fourScreens(code string, inputs []string) (string, bool) {
	switch len(inputs) {
	case 0:
		return "Welcome\n1. Check prices\n2. Compare markets", false
	case 1:
		return "Choose a crop\n1. Maize\n2. Beans", false
	case 2:
		return "Beans: choose a market\n1. Nairobi\n2. Eldoret\n3. Kisumu", false
	}
	return "Beans at Kisumu: KES 4,500 per 90kg bag (" + code + ")", true
}

// TestUSSDProfiles plays a whole dialogue in each profile against a fake
// ESME built from the phase 1 smpp.Client.
func TestUSSDProfiles(t *testing.T) {
	for _, p := range []Profile{Spec, Tata, Mica, SixDee} {
		t.Run(p.Name, func(t *testing.T) {
			var subs []*Submit
			var mu sync.Mutex
			s := startServer(t, Config{Profile: p, OnSubmit: func(s *Submit) { mu.Lock(); subs = append(subs, s); mu.Unlock() }})
			startESME(t, clientConfig("a", s.Addr()), ESMEHandler(p, fourScreens))
			ctx := ctxT(t, 10*time.Second)
			ss, err := s.Dial(ctx, "254700000003", "*777#")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"Welcome", "Choose a crop", "Beans: choose a market", "Beans at Kisumu"}
			for i, reply := range []string{"", "1", "2", "3"} {
				if i > 0 {
					if err := ss.Reply(reply); err != nil {
						t.Fatal(err)
					}
				}
				sc, err := ss.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(sc.Text, want[i]) || sc.End != (i == 3) || sc.Latency <= 0 {
					t.Errorf("step %d: %+v", i, sc)
				}
				u := sc.Submit.USSD
				if u == nil || u.Session != ss || sc.Submit.ServiceType != "USSD" || sc.Submit.DataCoding != 0x0F {
					t.Fatalf("step %d: submit %+v", i, sc.Submit)
				}
				k, mask := ss.Key(), byte(0xFF)
				if p.SessionKey == smpp.TagItsSessionInfo {
					mask = 0xFE
				}
				if len(u.Key) != 2 || u.Key[0] != k[0] || u.Key[1]&mask != k[1] {
					t.Errorf("step %d: key %x, sent %x", i, u.Key, k)
				}
				if i == 3 && p.EndBit && u.Key[1]&1 == 0 {
					t.Errorf("end without the end bit: %x", u.Key)
				}
			}
			if !ss.Ended() {
				t.Error("session not ended")
			}
			if err := ss.Reply("4"); err != ErrEnded {
				t.Errorf("reply after end: %v", err)
			}
			if st := s.Stats(); st.Stray != 0 || st.Submits != 4 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestUSSDAbort: the network's abort reaches the ESME, which then refuses
// a reply in the dead session.
func TestUSSDAbort(t *testing.T) {
	for _, p := range []Profile{Tata, Mica, SixDee} {
		t.Run(p.Name, func(t *testing.T) {
			s := startServer(t, Config{Profile: p})
			ops := make(chan uint8, 10)
			inner := ESMEHandler(p, fourScreens)
			startESME(t, clientConfig("a", s.Addr()), smpp.HandlerFunc(func(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
				op, _ := in.TLVs.Uint8(smpp.TagUssdServiceOp)
				ops <- op
				return inner.HandleInbound(ctx, in)
			}))
			ctx := ctxT(t, 5*time.Second)
			ss, err := s.Dial(ctx, "254700000004", "*777#")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ss.Next(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ss.Abort(); err != nil {
				t.Fatal(err)
			}
			recv(t, ops, "open")
			if op := recv(t, ops, "abort"); op != p.AbortOp {
				t.Errorf("abort op 0x%02X, want 0x%02X", op, p.AbortOp)
			}
			if err := ss.Reply("1"); err != ErrEnded {
				t.Errorf("reply after abort: %v", err)
			}
		})
	}
}

// TestUSSDTwoBinds: the steps of one session take turns over two binds,
// and the ESME answers each on the bind it came on.
func TestUSSDTwoBinds(t *testing.T) {
	binds := map[int]int{}
	var mu sync.Mutex
	s := startServer(t, Config{OnSubmit: func(s *Submit) { mu.Lock(); binds[s.Bind.ID]++; mu.Unlock() }})
	h := ESMEHandler(Spec, fourScreens)
	startESME(t, clientConfig("a", s.Addr()), h)
	startESME(t, clientConfig("b", s.Addr()), h) // one handler: shared sessions, like Redis
	ctx := ctxT(t, 5*time.Second)
	if err := s.WaitBound(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ss, err := s.Dial(ctx, "254700000005", "*777#")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"", "1", "2", "3"} {
		if r != "" {
			if err := ss.Reply(r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ss.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(binds) != 2 {
		t.Errorf("screens by bind: %v", binds)
	}
}

// TestThrottle: submits answered ESME_RTHROTTLED are retried by the
// client until all are accepted.
func TestThrottle(t *testing.T) {
	msgs := make(chan *Message, 100)
	s := startServer(t, Config{OnMessage: func(m *Message) { msgs <- m }})
	c := startESME(t, clientConfig("a", s.Addr()), nil)
	s.Reject(5, smpp.StatusThrottled)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := c.Send(ctxT(t, 10*time.Second), smpp.Message{Dst: "254700000006", Text: fmt.Sprint("m", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for range 10 {
		seen[recv(t, msgs, "message").Text] = true
	}
	if st := s.Stats(); len(seen) != 10 || st.Rejected != 5 || st.Accepted != 10 {
		t.Errorf("seen %d, stats %+v", len(seen), st)
	}
}

// TestCloseMidBatch: the server drops the connection on the third submit
// of a batch; the client rebinds and every message arrives once.
func TestCloseMidBatch(t *testing.T) {
	msgs := make(chan *Message, 100)
	s := startServer(t, Config{OnMessage: func(m *Message) { msgs <- m }})
	c := startESME(t, clientConfig("a", s.Addr()), nil)
	s.CloseAfter(3)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := c.Send(ctxT(t, 10*time.Second), smpp.Message{Dst: "254700000007", Text: fmt.Sprint("m", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Every message arrives. A submit the SMSC took just before the drop
	// whose response the drop lost is sent again after the rebind (SMPP
	// cannot tell it apart from one the SMSC never saw): such duplicates
	// are bounded by what was in flight when the connection closed.
	seen := map[string]int{}
	for len(seen) < 20 {
		seen[recv(t, msgs, "message").Text]++
	}
	st := s.Stats()
	if dups := st.Accepted - 20; st.Dropped != 1 || st.Binds < 2 || dups < 0 || dups > 20-3 {
		t.Errorf("seen %v, stats %+v", seen, st)
	}
}

// TestWithholdRelease: a withheld response released later settles the
// submit without a duplicate (the client's dedupe window).
func TestWithholdRelease(t *testing.T) {
	s := startServer(t, Config{})
	cfg := clientConfig("a", s.Addr())
	cfg.Timeouts.Response = 100 * time.Millisecond
	c := startESME(t, cfg, nil)
	s.Withhold(1)
	// The response is released once the client has given up waiting for
	// it (its response timeout fired), not after a guessed delay.
	released := make(chan struct{})
	go func() {
		defer close(released)
		deadline := time.After(5 * time.Second)
		for c.Status().Counters.Timeouts == 0 {
			select {
			case <-deadline:
			case <-time.After(time.Millisecond):
				continue
			}
			break
		}
		s.Release()
	}()
	if _, err := c.Send(ctxT(t, 5*time.Second), smpp.Message{Dst: "254700000008", Text: "late"}); err != nil {
		t.Fatal(err)
	}
	<-released
	if n := c.Status().Counters.Timeouts; n == 0 {
		t.Error("the client never timed out: the test did not test a late response")
	}
	if st := s.Stats(); st.Accepted != 1 || st.Withheld != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCollide: a deliver_sm that reuses the sequence number of the
// client's submit_sm in flight reaches its handler, and the submit
// completes.
func TestCollide(t *testing.T) {
	s := startServer(t, Config{})
	mos := make(chan string, 1)
	c := startESME(t, clientConfig("a", s.Addr()), smpp.HandlerFunc(func(_ context.Context, in *smpp.Inbound) smpp.CommandStatus {
		txt, _ := in.Text()
		mos <- txt
		return smpp.StatusOK
	}))
	s.CollideNext(MO("254700000009", "384", "COLLIDE")[0])
	if _, err := c.Send(ctxT(t, 5*time.Second), smpp.Message{Dst: "254700000009", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, mos, "colliding mo"); got != "COLLIDE" {
		t.Errorf("got %q", got)
	}
}

// TestDropConnections: the client rebinds after the server drops it.
func TestDropConnections(t *testing.T) {
	binds := make(chan Bind, 10)
	s := startServer(t, Config{OnBind: func(b Bind) { binds <- b }})
	c := startESME(t, clientConfig("a", s.Addr()), nil)
	if b := recv(t, binds, "bind"); !b.Bound || b.Kind != Transceiver || b.SystemID != "ussdgw" {
		t.Errorf("bind %+v", b)
	}
	if n := s.DropConnections(); n != 1 {
		t.Errorf("dropped %d", n)
	}
	if b := recv(t, binds, "unbind"); b.Bound {
		t.Errorf("end of bind %+v", b)
	}
	if b := recv(t, binds, "rebind"); !b.Bound {
		t.Errorf("rebind %+v", b)
	}
	if _, err := c.Send(ctxT(t, 5*time.Second), smpp.Message{Dst: "254700000010", Text: "after"}); err != nil {
		t.Fatal(err)
	}
}

func TestProfiles(t *testing.T) {
	for name, p := range Profiles {
		if err := p.Validate(); err != nil || p.Name != name {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ProfileByName("nope"); err == nil {
		t.Error("unknown profile accepted")
	}
	bad := Spec
	bad.EndOps, bad.SessionKey = nil, smpp.TagUserMessageReference
	bad.EndBit = true
	if err := bad.Validate(); err == nil {
		t.Error("end bit with user_message_reference accepted")
	}
	if got := serviceCode("*384*1*2#"); got != "384" {
		t.Errorf("service code %q", got)
	}
}

// startServerEnded starts a server that reports each bind that ended,
// once its connection has closed.
func startServerEnded(t *testing.T) (*Server, chan Bind) {
	t.Helper()
	ended := make(chan Bind, 64)
	s := startServer(t, Config{OnBind: func(b Bind) {
		if !b.Bound {
			ended <- b
		}
	}})
	return s, ended
}

// TestUSSDAnsweredThenUnbound: an ESME that acknowledges a step and then
// unbinds its transceiver (the gateway's graceful shutdown) sends the
// step's screen on its transmitter after the transceiver has closed. The
// deliver_sm was answered before the close, so Next waits for the screen
// instead of failing the step with "the bind closed". In every round the
// response and the close are both there before Next looks (OnBind reports
// the ended bind after the connection closed), once with the response
// before the unbind and once with the unbind crossing the deliver_sm; a
// select that took either failed about half the rounds.
func TestUSSDAnsweredThenUnbound(t *testing.T) {
	s, ended := startServerEnded(t)
	tx := dialRaw(t, s.Addr())
	tx.write(encodeFrame(pdu.BindTransmitterID, 0, 1, bindBody("gw", "x")))
	if f := tx.read(); f.h.ID != pdu.BindTransmitterRespID || f.h.Status != 0 {
		t.Fatalf("transmitter bind: %s %s", commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
	}
	ctx := ctxT(t, 20*time.Second)
	for i := range 20 {
		trx := dialRaw(t, s.Addr())
		trx.write(encodeFrame(pdu.BindTransceiverID, 0, 1, bindBody("gw", "x")))
		if f := trx.read(); f.h.ID != pdu.BindTransceiverRespID || f.h.Status != 0 {
			t.Fatalf("round %d: transceiver bind: %s %s", i, commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
		}
		ss, err := s.Dial(ctx, fmt.Sprint(254700001000+i), "*777#")
		if err != nil {
			t.Fatal(err)
		}
		d := trx.read()
		if d.h.ID != pdu.DeliverSMID {
			t.Fatalf("round %d: got %s, want deliver_sm", i, commandName(d.h.ID))
		}
		resp := encodeFrame(pdu.DeliverSMRespID, 0, d.h.Seq, []byte{0})
		unbind := encodeFrame(pdu.UnbindID, 0, 2, nil)
		if i%2 == 0 {
			trx.write(append(resp, unbind...))
		} else {
			trx.write(append(unbind, resp...))
		}
		if f := trx.read(); f.h.ID != pdu.UnbindRespID {
			t.Fatalf("round %d: got %s, want unbind_resp", i, commandName(f.h.ID))
		}
		if b := recv(t, ended, "the end of the transceiver"); b.Kind != Transceiver {
			t.Fatalf("round %d: ended %+v", i, b)
		}

		type result struct {
			sc  Screen
			err error
		}
		got := make(chan result, 1)
		go func() {
			sc, err := ss.Next(ctx)
			got <- result{sc, err}
		}()
		m, err := decodeSM(d.body)
		if err != nil {
			t.Fatal(err)
		}
		body, err := (&sm{
			ServiceType: "USSD", Source: m.Dest, Dest: m.Source, DataCoding: 0x0F, ShortMessage: []byte("Welcome"),
			TLVs: smpp.TLVs{smpp.TagUssdServiceOp: {0x02}, smpp.TagItsSessionInfo: m.TLVs[smpp.TagItsSessionInfo]},
		}).encode()
		if err != nil {
			t.Fatal(err)
		}
		tx.write(encodeFrame(pdu.SubmitSMID, 0, uint32(i+2), body))
		if f := tx.read(); f.h.ID != pdu.SubmitSMRespID || f.h.Status != 0 {
			t.Fatalf("round %d: screen: %s %s", i, commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
		}
		r := recv(t, got, "Next")
		if r.err != nil {
			t.Fatalf("round %d (response %s the unbind): %v", i, []string{"before", "after"}[i%2], r.err)
		}
		if r.sc.Text != "Welcome" || r.sc.End {
			t.Fatalf("round %d: screen %+v", i, r.sc)
		}
		ss.Close()
	}
	if st := s.Stats(); st.Stray != 0 || st.DeliverFailed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDeliverBindClosedAfterPick: a bind picked for a deliver_sm that
// unbinds and closes before the deliver_sm is written on it (an ESME's
// unbind is answered and closed at once when nothing of ours waits on
// it) is passed over: the deliver_sm, never sent, goes to another bind
// instead of failing the dialogue with "use of closed network
// connection".
func TestDeliverBindClosedAfterPick(t *testing.T) {
	s, ended := startServerEnded(t)
	raws := map[int]*rawESME{}
	for id := 1; id <= 2; id++ {
		r := dialRaw(t, s.Addr())
		r.write(encodeFrame(pdu.BindTransceiverID, 0, 1, bindBody("gw", "x")))
		if f := r.read(); f.h.ID != pdu.BindTransceiverRespID || f.h.Status != 0 {
			t.Fatalf("bind %d: %s %s", id, commandName(f.h.ID), smpp.CommandStatus(f.h.Status))
		}
		raws[id] = r
	}
	picked := 0
	s.afterPick = func(c *conn) {
		if picked != 0 {
			return
		}
		picked = c.id
		r := raws[c.id]
		r.write(encodeFrame(pdu.UnbindID, 0, 2, nil))
		if f := r.read(); f.h.ID != pdu.UnbindRespID {
			t.Fatalf("got %s, want unbind_resp", commandName(f.h.ID))
		}
		if b := recv(t, ended, "the end of the picked bind"); b.ID != c.id {
			t.Fatalf("ended %+v, picked %d", b, c.id)
		}
	}
	ss, err := s.Dial(ctxT(t, 5*time.Second), "254700002000", "*777#")
	if err != nil {
		t.Fatalf("dial with the picked bind gone: %v", err)
	}
	defer ss.Close()
	if picked == 0 {
		t.Fatal("the hook did not run")
	}
	d := raws[3-picked].read()
	if d.h.ID != pdu.DeliverSMID {
		t.Fatalf("the other bind got %s, want deliver_sm", commandName(d.h.ID))
	}
}
