package smsc

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/smpp"
)

// Deliver is a deliver_sm to send, field by field.
type Deliver struct {
	ServiceType        string
	Source, Dest       smpp.Addr
	ESMClass           uint8
	ProtocolID         uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	ShortMessage       []byte // at most 254 octets; use TLVs[smpp.TagMessagePayload] beyond
	TLVs               smpp.TLVs

	// SystemID, when set, sends on a bind of that system_id; BindID, when
	// set, on that connection (Bind.ID). Otherwise binds take turns.
	SystemID string
	BindID   int
	// Seq, when not 0, is the sequence number to use instead of the next
	// one: for collisions with the ESME's own requests.
	Seq uint32
}

// pending is a sent deliver_sm waiting for its deliver_sm_resp.
type pending struct {
	s    *Server
	c    *conn
	cl   *call
	seq  uint32
	sent time.Time
}

// wait waits for the response and returns its status. An error means no
// response came (timeout, closed connection, ctx).
func (p *pending) wait(ctx context.Context, d time.Duration) (smpp.CommandStatus, error) {
	f, err := p.c.wait(ctx, p.cl, p.seq, d)
	if err != nil {
		p.s.stats.deliverFailed.Add(1)
		return 0, fmt.Errorf("deliver_sm seq %d: %w", p.seq, err)
	}
	st := smpp.CommandStatus(f.h.Status)
	if f.h.ID == pdu.GenericNACKID && st == smpp.StatusOK {
		st = smpp.StatusInvCmdID
	}
	if st != smpp.StatusOK {
		p.s.stats.deliverFailed.Add(1)
	}
	return st, nil
}

// sendDeliver encodes and writes d on c.
func (s *Server) sendDeliver(c *conn, d *Deliver) (*pending, error) {
	body, err := (&sm{
		ServiceType: d.ServiceType, Source: d.Source, Dest: d.Dest, ESMClass: d.ESMClass,
		ProtocolID: d.ProtocolID, RegisteredDelivery: d.RegisteredDelivery, DataCoding: d.DataCoding,
		ShortMessage: d.ShortMessage, TLVs: d.TLVs,
	}).encode()
	if err != nil {
		return nil, fmt.Errorf("encoding deliver_sm: %w", err)
	}
	now := time.Now()
	cl, seq, err := c.request(pdu.DeliverSMID, d.Seq, body)
	if err != nil {
		return nil, fmt.Errorf("sending deliver_sm: %w", err)
	}
	s.stats.delivers.Add(1)
	return &pending{s: s, c: c, cl: cl, seq: seq, sent: now}, nil
}

// send picks a bind for d and writes it.
func (s *Server) send(d *Deliver) (*pending, error) {
	for {
		c, err := s.pick(d.SystemID, d.BindID)
		if err != nil {
			return nil, err
		}
		if s.afterPick != nil {
			s.afterPick(c)
		}
		p, err := s.sendDeliver(c, d)
		switch {
		case errors.Is(err, errUnbinding):
			continue // it began to unbind between the pick and the send; pick skips it now
		case errors.Is(err, errConnGone):
			// It closed between the pick and the send (an ESME's unbind
			// is answered and closed at once when nothing of ours waits
			// on it): the deliver_sm was not written, so another bind
			// takes it, as it would have had the pick come a moment
			// later. Once closed, pick skips it.
			<-c.done
			continue
		}
		return p, err
	}
}

// Deliver sends d as a deliver_sm and waits for its response (up to
// Config.ResponseTimeout). It returns the response's command status; an
// error means it was not sent or got no response.
func (s *Server) Deliver(ctx context.Context, d *Deliver) (smpp.CommandStatus, error) {
	p, err := s.send(d)
	if err != nil {
		return 0, err
	}
	return p.wait(ctx, s.cfg.ResponseTimeout)
}

// MO encodes an MO SMS from a handset to a short code: GSM 03.38 (dc 0)
// when every character fits, else UCS-2 (dc 8). A text over one SMS (160
// septets / 70 UCS-2 units) is split into parts with an 8-bit-reference
// UDH, never inside an escape or surrogate pair.
func MO(from, to, text string) []*Deliver {
	dc, one, per := uint8(0x00), 160, 153
	enc := func(r rune) []byte { b, _ := gsm.Encode(string(r)); return b }
	if !gsm.Fits(text) {
		dc, one, per = 0x08, 140, 134
		enc = func(r rune) []byte { return gsm.EncodeUCS2(string(r)) }
	}
	var all [][]byte // encoded runes
	n := 0
	for _, r := range text {
		if r == utf8.RuneError {
			continue
		}
		b := enc(r)
		all = append(all, b)
		n += len(b)
	}
	base := Deliver{Source: smpp.Addr{Addr: from, TON: 1, NPI: 1}, Dest: smpp.Addr{Addr: to}, DataCoding: dc}
	if n <= one {
		d := base
		for _, b := range all {
			d.ShortMessage = append(d.ShortMessage, b...)
		}
		return []*Deliver{&d}
	}
	var parts [][]byte
	var cur []byte
	for _, b := range all {
		if len(cur)+len(b) > per {
			parts = append(parts, cur)
			cur = nil
		}
		cur = append(cur, b...)
	}
	parts = append(parts, cur)
	ref := byte(time.Now().UnixNano())
	out := make([]*Deliver, len(parts))
	for i, p := range parts {
		d := base
		d.ESMClass = 0x40
		d.ShortMessage = append([]byte{5, 0, 3, ref, byte(len(parts)), byte(i + 1)}, p...)
		out[i] = &d
	}
	return out
}

// SendMO sends an MO SMS (see MO) and waits for every part's response.
// The error names the first part that was refused or not answered.
func (s *Server) SendMO(ctx context.Context, from, to, text string) error {
	parts := MO(from, to, text)
	for i, d := range parts {
		st, err := s.Deliver(ctx, d)
		if err == nil && st != smpp.StatusOK {
			err = fmt.Errorf("answered %s", st)
		}
		if err != nil {
			return fmt.Errorf("smsc: mo part %d of %d: %w", i+1, len(parts), err)
		}
	}
	return nil
}
