package smsc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/userdata"
)

// Submit is one submit_sm as the server received and answered it.
type Submit struct {
	Bind      Bind
	Seq       uint32
	Received  time.Time          // when it was read
	Status    smpp.CommandStatus // what it was answered with; StatusOK means accepted
	Withheld  bool               // accepted, but no response was sent (a fault)
	MessageID string             // the id given in the response, for accepted ones

	ServiceType        string
	Source, Dest       smpp.Addr
	ESMClass           uint8
	ProtocolID         uint8
	PriorityFlag       uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	ShortMessage       []byte    // raw, a UDH included
	TLVs               smpp.TLVs // every optional parameter, as raw bytes

	UDH     userdata.UDH // the user data header, when esm_class has UDHI
	Text    string       // the user data (message_payload, else short_message) without UDH, decoded by data_coding
	Decoded bool         // false when data_coding is binary or unknown: see ShortMessage
	// Ref, Part and Parts describe a part of a concatenated message (UDH
	// or SAR); Parts is 0 for a message of its own.
	Ref         uint16
	Part, Parts int

	// USSD is set when the submit_sm carries ussd_service_op.
	USSD *USSD
}

// USSD is the USSD side of a submit_sm, read by the server's Profile.
type USSD struct {
	Op         uint8
	Key        []byte   // the session key TLV as received; nil when absent
	End        bool     // the op or end bit says the session ends
	Continue   bool     // the op is a "show and wait" op; neither End nor Continue means an op the profile does not know
	Session    *Session // the dialogue opened by Dial it belongs to, or nil
	SessionKey uint16   // Key masked to the part that names the session
}

// Message is a whole MT message, its parts joined.
type Message struct {
	Source, Dest smpp.Addr
	DataCoding   uint8
	Text         string // Raw decoded; empty when Decoded is false
	Decoded      bool
	Raw          []byte // the user data of every part, UDH removed
	Parts        int
	Received     time.Time // when its last part came
}

// faults are the misbehaviours waiting for the next submit_sm.
type faults struct {
	mu       sync.Mutex
	statuses []rejection // answer the next submits with these statuses
	withhold int
	closeIn  int // close the connection at the closeIn-th submit from now
	collide  []*Deliver
	held     []heldResp
}

type rejection struct {
	status smpp.CommandStatus
	n      int
}

type heldResp struct {
	c *conn
	b []byte
}

// Reject answers the next n submit_sm (on any bind) with status, e.g.
// smpp.StatusThrottled, instead of accepting them.
func (s *Server) Reject(n int, status smpp.CommandStatus) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.statuses = append(s.faults.statuses, rejection{status, n})
}

// Withhold accepts the next n submit_sm without answering them; Release
// sends the withheld answers.
func (s *Server) Withhold(n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.withhold += n
}

// Release sends every withheld submit_sm_resp whose connection is still
// open and returns how many it sent.
func (s *Server) Release() int {
	s.faults.mu.Lock()
	held := s.faults.held
	s.faults.held = nil
	s.faults.mu.Unlock()
	n := 0
	for _, h := range held {
		if h.c.send(h.b) == nil {
			n++
		}
	}
	return n
}

// CloseAfter closes the connection that receives the n-th submit_sm from
// now (n ≥ 1) instead of answering it: mid-batch, without unbind.
func (s *Server) CloseAfter(n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.closeIn = n
}

// CollideNext makes the next submit_sm first get d as a deliver_sm that
// reuses its sequence number, then its response: the ESME sees a request
// with the number of its own request in flight (docs/smpp.md, "go-smpp's gaps"). d's
// response is counted in Stats, not returned.
func (s *Server) CollideNext(d *Deliver) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.collide = append(s.faults.collide, d)
}

// fault is what to do with one submit_sm.
type fault struct {
	status   smpp.CommandStatus
	withhold bool
	close    bool
	collide  *Deliver
}

func (f *faults) take() (a fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closeIn > 0 {
		f.closeIn--
		if f.closeIn == 0 {
			a.close = true
			return a
		}
	}
	if len(f.collide) > 0 {
		a.collide, f.collide = f.collide[0], f.collide[1:]
	}
	if len(f.statuses) > 0 {
		r := &f.statuses[0]
		a.status = r.status
		if r.n--; r.n <= 0 {
			f.statuses = f.statuses[1:]
		}
		return a
	}
	if f.withhold > 0 {
		f.withhold--
		a.withhold = true
	}
	return a
}

// handleSubmit answers a submit_sm and reports whether to keep reading.
func (c *conn) handleSubmit(f frame, b Bind) bool {
	s := c.srv
	now := time.Now()
	s.stats.submits.Add(1)
	m, err := decodeSM(f.body)
	if err != nil {
		s.stats.badPDUs.Add(1)
		s.log.Warn("undecodable submit_sm", "id", c.id, "seq", f.h.Seq, "err", err)
		c.respond(f.h.ID, smpp.StatusInvMsgLen, f.h.Seq, nil)
		return true
	}
	a := s.faults.take()
	if a.close {
		// The responses already queued go out first, so that only this
		// submit_sm and those after it are left unanswered.
		s.stats.dropped.Add(1)
		s.log.Info("closing the connection instead of answering (fault)", "id", c.id, "seq", f.h.Seq)
		_ = c.send(nil)
		return false
	}
	if a.collide != nil {
		d := *a.collide
		d.Seq = f.h.Seq
		if _, err := s.sendDeliver(c, &d); err != nil {
			s.log.Warn("colliding deliver_sm not sent", "err", err)
		}
	}
	sub := &Submit{
		Bind: b, Seq: f.h.Seq, Received: now,
		ServiceType: m.ServiceType, Source: m.Source, Dest: m.Dest, ESMClass: m.ESMClass,
		ProtocolID: m.ProtocolID, PriorityFlag: m.PriorityFlag, RegisteredDelivery: m.RegisteredDelivery,
		DataCoding: m.DataCoding, ShortMessage: m.ShortMessage, TLVs: m.TLVs,
	}
	in := sub.inbound()
	udh, ud, err := in.UserData()
	if err == nil {
		sub.UDH = udh
		sub.Text, sub.Decoded = userdata.DecodeText(m.DataCoding, ud)
		if ref, total, seq, ok := udh.Concat(); ok {
			sub.Ref, sub.Parts, sub.Part = ref, int(total), int(seq)
		} else if ref, total, seq, ok := m.TLVs.SAR(); ok {
			sub.Ref, sub.Parts, sub.Part = ref, int(total), int(seq)
		}
	}
	switch {
	case a.status != smpp.StatusOK:
		sub.Status = a.status
		s.stats.rejected.Add(1)
		c.respond(f.h.ID, a.status, f.h.Seq, nil)
	default:
		n := s.ids.Add(1)
		sub.MessageID = formatID(n, s.cfg.IDForm)
		resp := encodeFrame(f.h.ID|respBit, smpp.StatusOK, f.h.Seq, cString(sub.MessageID))
		s.stats.accepted.Add(1)
		if a.withhold {
			sub.Withheld = true
			s.stats.withheld.Add(1)
			s.faults.mu.Lock()
			s.faults.held = append(s.faults.held, heldResp{c, resp})
			s.faults.mu.Unlock()
		} else {
			c.queue(resp)
		}
		s.accepted(sub, in, n)
	}
	if s.cfg.OnSubmit != nil {
		s.cfg.OnSubmit(sub)
	}
	return true
}

// inbound presents the submit_sm as package smpp's Inbound, for its user
// data, text and reassembly helpers.
func (sub *Submit) inbound() *smpp.Inbound {
	return &smpp.Inbound{
		ServiceType: sub.ServiceType, Source: sub.Source, Dest: sub.Dest, ESMClass: sub.ESMClass,
		ProtocolID: sub.ProtocolID, PriorityFlag: sub.PriorityFlag, RegisteredDelivery: sub.RegisteredDelivery,
		DataCoding: sub.DataCoding, ShortMessage: sub.ShortMessage, TLVs: sub.TLVs, Received: sub.Received,
	}
}

// accepted routes an accepted submit_sm: a USSD screen to its session,
// an SMS part to reassembly, and schedules its receipt.
func (s *Server) accepted(sub *Submit, in *smpp.Inbound, id uint64) {
	if op, ok := sub.TLVs.Uint8(smpp.TagUssdServiceOp); ok {
		s.routeUSSD(sub, op)
		return
	}
	if msg, err := s.re.Add(in); err == nil && msg != nil {
		s.stats.messages.Add(1)
		if s.cfg.OnMessage != nil {
			s.cfg.OnMessage(&Message{Source: msg.Source, Dest: msg.Dest, DataCoding: msg.DataCoding, Text: msg.Text,
				Decoded: msg.Decoded, Raw: msg.Raw, Parts: msg.Parts, Received: sub.Received})
		}
	}
	rd := sub.RegisteredDelivery & 0x03
	failed := s.cfg.DLRState.Failed()
	if s.cfg.DLR && (rd == 1 || (rd == 2 && failed)) {
		time.AfterFunc(s.cfg.DLRDelay, func() { s.sendReceipt(sub, id) })
	}
}

// statNames are the text receipt's stat: values (SMPP 3.4 Appendix B).
var statNames = map[smpp.MessageState]string{
	smpp.MsgEnroute: "ENROUTE", smpp.MsgDelivered: "DELIVRD", smpp.MsgExpired: "EXPIRED",
	smpp.MsgDeleted: "DELETED", smpp.MsgUndeliverable: "UNDELIV", smpp.MsgAccepted: "ACCEPTD",
	smpp.MsgUnknown: "UNKNOWN", smpp.MsgRejected: "REJECTD",
}

// sendReceipt sends the delivery receipt of an accepted submit_sm, on a
// receiving bind of the same system_id (any receiving bind if there is
// none).
func (s *Server) sendReceipt(sub *Submit, n uint64) {
	form := s.cfg.DLRIDForm
	if form == "" {
		form = s.cfg.IDForm
	}
	id := formatID(n, form)
	st := s.cfg.DLRState
	stat := statNames[st]
	if stat == "" {
		stat = "UNKNOWN"
	}
	dlvrd := "000"
	if st == smpp.MsgDelivered {
		dlvrd = "001"
	}
	date := sub.Received.UTC().Format("0601021504")
	done := time.Now().UTC().Format("0601021504")
	text := ""
	if sub.Decoded {
		text = firstASCII(sub.Text, 20)
	}
	body := fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:000 text:%s", id, dlvrd, date, done, stat, text)
	d := &Deliver{
		Source: sub.Dest, Dest: sub.Source, ESMClass: 0x04, DataCoding: 0x00, ShortMessage: []byte(body),
		TLVs:     smpp.TLVs{smpp.TagReceiptedMessageID: cString(id), smpp.TagMessageState: {uint8(st)}},
		SystemID: sub.Bind.SystemID,
	}
	c, err := s.pick(d.SystemID, 0)
	if err != nil {
		c, err = s.pick("", 0)
	}
	if err != nil {
		s.stats.deliverFailed.Add(1)
		s.log.Warn("receipt not sent", "id", id, "err", err)
		return
	}
	p, err := s.sendDeliver(c, d)
	if err != nil {
		s.log.Warn("receipt not sent", "id", id, "err", err)
		return
	}
	s.stats.receipts.Add(1)
	go func() { _, _ = p.wait(context.Background(), s.cfg.ResponseTimeout) }()
}

// firstASCII returns up to n printable ASCII characters of s.
func firstASCII(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == n {
			break
		}
		if r >= 0x20 && r < 0x7F {
			b.WriteRune(r)
		}
	}
	return b.String()
}
