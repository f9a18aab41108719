package smpp

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// TestBadInput sends malformed and odd PDUs: none may panic, each gets the
// answer it deserves, and the bind stays up on the same connection.
func TestBadInput(t *testing.T) {
	peer := startRawPeer(t)
	cfg := testConfig(peer.ln.Addr().String())
	cfg.MaxPDUSize = 4096
	box := newInbox()
	c := startClient(t, cfg, box)
	rc := peer.accept()

	highBytes := make([]byte, 128)
	for i := range highBytes {
		highBytes[i] = byte(0x80 + i)
	}
	good := deliverBody(0, 0, []byte("hi"), 2)
	tests := []struct {
		name    string
		frame   []byte
		resp    pdu.ID
		status  CommandStatus
		inbound func(t *testing.T, in *Inbound) // nil: the handler must not see it
	}{
		{"mandatory fields cut short", encodeFrame(pdu.DeliverSMID, 0, 101, good[:10]), pdu.DeliverSMRespID, StatusInvCmdLen, nil},
		{"header only", encodeFrame(pdu.DeliverSMID, 0, 102, nil), pdu.DeliverSMRespID, StatusInvCmdLen, nil},
		{"sm_length past the body", encodeFrame(pdu.DeliverSMID, 0, 103, deliverBody(0, 0, []byte("hello"), 200)), pdu.DeliverSMRespID, StatusInvMsgLen, nil},
		{"tlv cut short", encodeFrame(pdu.DeliverSMID, 0, 104, append(append([]byte{}, good...), 0x04, 0x24, 0x00, 0x10, 'a')), pdu.DeliverSMRespID, StatusInvTLVStream, nil},
		{"unknown tlv", encodeFrame(pdu.DeliverSMID, 0, 105, deliverBody(0, 0, []byte("hi"), 2, tlv(0x1400, []byte{0xAB, 0xCD}))), pdu.DeliverSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if v, _ := in.TLVs.Get(0x1400); !bytes.Equal(v, []byte{0xAB, 0xCD}) {
					t.Errorf("unknown TLV = % x", v)
				}
			}},
		{"high bytes with dc 0", encodeFrame(pdu.DeliverSMID, 0, 106, deliverBody(0, 0, highBytes, len(highBytes))), pdu.DeliverSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if text, ok := in.Text(); !ok || !utf8.ValidString(text) || utf8.RuneCountInString(text) != 128 {
					t.Errorf("Text() = %q, %v", text, ok)
				}
			}},
		{"ucs2 odd length and lone surrogate", encodeFrame(pdu.DeliverSMID, 0, 107, deliverBody(0, 8, []byte{0xD8, 0x3D, 0x00}, 3)), pdu.DeliverSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if text, _ := in.Text(); text != "\uFFFD" {
					t.Errorf("Text() = %q", text)
				}
			}},
		{"empty message", encodeFrame(pdu.DeliverSMID, 0, 108, deliverBody(0, 0, nil, 0)), pdu.DeliverSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if text, ok := in.Text(); !ok || text != "" || len(in.ShortMessage) != 0 {
					t.Errorf("Text() = %q, %v", text, ok)
				}
			}},
		{"udh longer than the data", encodeFrame(pdu.DeliverSMID, 0, 109, deliverBody(esmUDHI, 0, []byte{0x10, 0x00, 0x03}, 3)), pdu.DeliverSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if _, _, err := in.UserData(); err == nil {
					t.Error("UserData accepted a bad UDH")
				}
				if _, ok := in.Text(); ok {
					t.Error("Text decoded a bad UDH")
				}
			}},
		{"data_sm with a large payload", encodeFrame(pdu.DataSMID, 0, 110, append([]byte("\x00\x01\x01254700000010\x00\x00\x00384\x00\x00\x00\x00"), tlv(0x0424, bytes.Repeat([]byte("a"), 3000))...)), pdu.DataSMRespID, StatusOK,
			func(t *testing.T, in *Inbound) {
				if text, _ := in.Text(); !in.DataSM || len(text) != 3000 {
					t.Errorf("data_sm payload of %d", len(text))
				}
			}},
		{"over max_pdu_size", rawFrame(5000, pdu.DeliverSMID, 111, make([]byte, 5000-16)), pdu.DeliverSMRespID, StatusInvCmdLen, nil},
		{"unknown command id", encodeFrame(0x00000999, 0, 112, []byte("junk")), pdu.GenericNACKID, StatusInvCmdID, nil},
		{"query_sm from the smsc", encodeFrame(pdu.QuerySMID, 0, 113, []byte("1\x00\x00\x00\x00")), pdu.QuerySMRespID, StatusInvCmdID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc.write(tt.frame)
			seq := uint32(0)
			if len(tt.frame) >= 16 {
				seq = uint32(tt.frame[12])<<24 | uint32(tt.frame[13])<<16 | uint32(tt.frame[14])<<8 | uint32(tt.frame[15])
			}
			f := rc.expect(tt.resp, seq)
			if CommandStatus(f.h.Status) != tt.status {
				t.Errorf("answered %s, want %s", CommandStatus(f.h.Status), tt.status)
			}
			if tt.inbound != nil {
				tt.inbound(t, box.next(t, time.Second))
			}
		})
	}

	// Responses that match nothing are dropped, not answered.
	rc.write(encodeFrame(pdu.SubmitSMRespID, 0, 99999, []byte("x\x00")))
	rc.write(encodeFrame(pdu.GenericNACKID, 3, 99998, nil))
	rc.ping(200)
	st := c.Status()
	if st.Sessions[0].Binds != 1 || st.Sessions[0].Drops != 0 {
		t.Errorf("bind lost: %+v", st.Sessions[0])
	}
	if cs := st.Counters; cs.Unmatched != 2 || cs.HandlerPanics != 0 || cs.BadPDUs != 5 {
		t.Errorf("counters %+v: want 2 unmatched, 5 bad PDUs", cs)
	}
	select {
	case in := <-box.ch:
		t.Errorf("handler got an extra PDU %+v", in)
	default:
	}
}

// TestBadFraming: a command_length below 16, or beyond what we would read
// past, loses the framing: generic_nack, close, and bind again.
func TestBadFraming(t *testing.T) {
	for _, length := range []uint32{8, 0xFFFFFFFF} {
		peer := startRawPeer(t)
		c := startClient(t, testConfig(peer.ln.Addr().String()), newInbox())
		rc := peer.accept()
		rc.write(rawFrame(length, pdu.DeliverSMID, 7, nil))
		f := rc.expect(pdu.GenericNACKID, 7)
		if CommandStatus(f.h.Status) != StatusInvCmdLen {
			t.Errorf("length %d: nack status %s", length, CommandStatus(f.h.Status))
		}
		select {
		case <-rc.closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("length %d: connection not closed", length)
		}
		rc2 := peer.accept()
		rc2.ping(1)
		if err := c.WaitBound(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if st := c.Status().Sessions[0]; st.Binds != 2 || st.Drops != 1 || !strings.Contains(st.LastError, "command_length") {
			t.Errorf("length %d: session %+v", length, st)
		}
	}
}

// TestResponseMatching: a response with the right sequence number but the
// wrong command does not complete a submit; the right one does.
func TestResponseMatching(t *testing.T) {
	peer := startRawPeer(t)
	c := startClient(t, testConfig(peer.ln.Addr().String()), newInbox())
	rc := peer.accept()
	type result struct {
		s   Submitted
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := c.Submit(ctxT(t, 5*time.Second), &ShortMessage{Dest: Addr{Addr: "254700000011"}, Body: []byte("x")})
		done <- result{s, err}
	}()
	var sub frame
	select {
	case sub = <-rc.frames:
	case <-time.After(5 * time.Second):
		t.Fatal("no submit_sm")
	}
	if sub.h.ID != pdu.SubmitSMID || sub.h.Seq < 1 || sub.h.Seq > maxSeq {
		t.Fatalf("got %s seq %d", commandName(sub.h.ID), sub.h.Seq)
	}
	rc.write(encodeFrame(pdu.DeliverSMRespID, 0, sub.h.Seq, []byte("wrong\x00")))
	rc.ping(300) // the wrong response has been read by now
	select {
	case r := <-done:
		t.Fatalf("submit completed by a deliver_sm_resp: %+v %v", r.s, r.err)
	default:
	}
	rc.write(encodeFrame(pdu.SubmitSMRespID, 0, sub.h.Seq, []byte("right\x00")))
	r := <-done
	if r.err != nil || r.s.MessageID != "right" {
		t.Errorf("Submit = %+v, %v", r.s, r.err)
	}
	if got := c.Status().Counters.Unmatched; got != 1 {
		t.Errorf("Unmatched = %d, want 1", got)
	}
}

// TestInvalidBindStatus: ESME_RINVBNDSTS makes us rebind and send again.
func TestInvalidBindStatus(t *testing.T) {
	peer := startRawPeer(t)
	c := startClient(t, testConfig(peer.ln.Addr().String()), newInbox())
	rc := peer.accept()
	done := make(chan error, 1)
	var res Submitted
	go func() {
		var err error
		res, err = c.Submit(ctxT(t, 5*time.Second), &ShortMessage{Dest: Addr{Addr: "254700000012"}, Body: []byte("x")})
		done <- err
	}()
	sub := <-rc.frames
	rc.write(encodeFrame(pdu.SubmitSMRespID, StatusInvBndSts, sub.h.Seq, nil))
	rc2 := peer.accept()
	sub2 := <-rc2.frames
	if sub2.h.ID != pdu.SubmitSMID || !bytes.Equal(sub2.body, sub.body) {
		t.Fatalf("resent %s, body equal %v", commandName(sub2.h.ID), bytes.Equal(sub2.body, sub.body))
	}
	rc2.write(encodeFrame(pdu.SubmitSMRespID, 0, sub2.h.Seq, []byte("ok\x00")))
	if err := <-done; err != nil || res.Attempts != 2 || res.MessageID != "ok" {
		t.Errorf("Submit = %+v, %v", res, err)
	}
}

// TestInboundQueue: the read loop never waits for the Handler. With the
// one worker busy and the queue full, a deliver_sm is answered
// ESME_RX_T_APPN at once, enquire_link is still answered, and a panicking
// Handler answers ESME_RX_T_APPN without taking the process down.
func TestInboundQueue(t *testing.T) {
	peer := startRawPeer(t)
	cfg := testConfig(peer.ln.Addr().String())
	cfg.Inbound.Workers, cfg.Inbound.Queue = 1, 1
	entered, release := make(chan string, 10), make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, in *Inbound) CommandStatus {
		text, _ := in.Text()
		entered <- text
		switch text {
		case "panic":
			panic("handler bug")
		case "reject":
			return StatusXTAppn
		}
		<-release
		return StatusOK
	})
	c := startClient(t, cfg, h)
	rc := peer.accept()
	send := func(seq uint32, text string) {
		rc.write(encodeFrame(pdu.DeliverSMID, 0, seq, deliverBody(0, 0, []byte(text), len(text))))
	}
	send(1, "first")
	if got := <-entered; got != "first" {
		t.Fatalf("handler entered with %q", got)
	}
	send(2, "queued")
	send(3, "overflow")
	if f := rc.expect(pdu.DeliverSMRespID, 3); CommandStatus(f.h.Status) != StatusXTAppn {
		t.Errorf("overflow answered %s", CommandStatus(f.h.Status))
	}
	rc.ping(50)
	close(release)
	for seq := uint32(1); seq <= 2; seq++ {
		if f := rc.expect(pdu.DeliverSMRespID, seq); f.h.Status != 0 {
			t.Errorf("seq %d answered %s", seq, CommandStatus(f.h.Status))
		}
	}
	send(4, "reject")
	if f := rc.expect(pdu.DeliverSMRespID, 4); CommandStatus(f.h.Status) != StatusXTAppn {
		t.Errorf("handler's ESME_RX_T_APPN answered as %s", CommandStatus(f.h.Status))
	}
	send(5, "panic")
	if f := rc.expect(pdu.DeliverSMRespID, 5); CommandStatus(f.h.Status) != StatusXTAppn {
		t.Errorf("panic answered %s", CommandStatus(f.h.Status))
	}
	if cs := c.Status().Counters; cs.InboundRejected != 1 || cs.HandlerPanics != 1 || cs.Inbound != 5 {
		t.Errorf("counters %+v", cs)
	}
}
