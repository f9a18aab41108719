package smsc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/smpp"
)

// sessionKey names an open dialogue: the handset and the session key
// TLV's value (masked).
type sessionKey struct {
	msisdn string
	key    uint16
}

// Session is a USSD dialogue the server opened with Dial: the screens the
// ESME sends in it, and the user's replies. One goroutine uses it at a
// time.
type Session struct {
	srv    *Server
	msisdn string
	code   string
	dest   string // destination_addr of its deliver_sm: the service code
	key    []byte // session key TLV value, as sent
	sk     sessionKey

	// BindID, when set, sends the session's deliver_sm on that bind;
	// otherwise binds take turns.
	BindID int

	screens chan Screen
	sentAt  atomic.Int64 // UnixNano of the last deliver_sm
	last    *pending     // the last deliver_sm, until its response is seen
	ended   atomic.Bool
}

// Screen is what the ESME sent in a session.
type Screen struct {
	Text    string
	End     bool          // the session is over: an end op or bit, or an op the profile does not know
	Op      uint8         // ussd_service_op
	Latency time.Duration // from the deliver_sm that asked for it to this submit_sm
	Submit  *Submit
}

// ErrEnded is returned by Reply and Abort on a session that is over.
var ErrEnded = errors.New("smsc: ussd session has ended")

// Dial opens a USSD session as if msisdn dialled code (e.g. "*384*1#"): a
// deliver_sm with the profile's open op, the code in short_message, the
// service code ("384") in destination_addr and a fresh session key. Read
// the first screen with Next.
func (s *Server) Dial(ctx context.Context, msisdn, code string) (*Session, error) {
	p := s.cfg.Profile
	n := s.keys.Add(1)
	var k uint16
	if p.SessionKey == smpp.TagItsSessionInfo {
		// Session number 1-255 in octet 1; octet 2 is dialogue sequence
		// number 1 (bits 7..1) with the end bit clear.
		k = uint16(n%255+1)<<8 | 0x02
	} else {
		k = uint16(n)
		if k == 0 {
			k = uint16(s.keys.Add(1))
		}
	}
	ss := &Session{
		srv: s, msisdn: msisdn, code: code, dest: serviceCode(code),
		key:     binary.BigEndian.AppendUint16(nil, k),
		sk:      sessionKey{msisdn, k & p.keyMask()},
		screens: make(chan Screen, 8),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.sessions[ss.sk] = ss
	s.byMSISDN[msisdn] = ss
	s.mu.Unlock()
	if err := ss.send(p.OpenOp, code, false); err != nil {
		ss.forget()
		return nil, err
	}
	return ss, nil
}

func encodeGSM(s string) ([]byte, error) { return gsm.Encode(s) }
func encodeUCS2(s string) []byte         { return gsm.EncodeUCS2(s) }

// serviceCode returns the digits of a dialled string's base code:
// "*384*1#" → "384".
func serviceCode(code string) string {
	c := strings.TrimLeft(code, "*#")
	if i := strings.IndexAny(c, "*#"); i >= 0 {
		c = c[:i]
	}
	return c
}

// MSISDN returns the handset's number.
func (ss *Session) MSISDN() string { return ss.msisdn }

// Key returns the session key TLV value the server sends.
func (ss *Session) Key() []byte { return append([]byte(nil), ss.key...) }

// Ended reports whether the session is over.
func (ss *Session) Ended() bool { return ss.ended.Load() }

// send writes one deliver_sm of the session.
func (ss *Session) send(op uint8, text string, endBit bool) error {
	s := ss.srv
	p := s.cfg.Profile
	dc := p.DataCoding
	body, err := encodeGSM(text)
	if err != nil {
		dc, body = 0x08, encodeUCS2(text)
	}
	key := ss.key
	if endBit {
		key = []byte{key[0], key[1] | 1}
	}
	d := &Deliver{
		ServiceType: p.ServiceType, Source: smpp.Addr{Addr: ss.msisdn, TON: 1, NPI: 1}, Dest: smpp.Addr{Addr: ss.dest},
		DataCoding: dc, ShortMessage: body, BindID: ss.BindID,
		TLVs: smpp.TLVs{smpp.TagUssdServiceOp: {op}, p.SessionKey: key},
	}
	ss.sentAt.Store(time.Now().UnixNano())
	pd, err := s.send(d)
	if err != nil {
		return fmt.Errorf("smsc: ussd %s: %w", ss.msisdn, err)
	}
	ss.last = pd
	return nil
}

// Reply sends the user's answer to the last screen (the profile's reply
// op). Read the next screen with Next.
func (ss *Session) Reply(text string) error {
	if ss.ended.Load() {
		return ErrEnded
	}
	return ss.send(ss.srv.cfg.Profile.ReplyOp, text, false)
}

// Abort ends the session from the network side as the profile does it
// (op 0x81, or the end bit of its_session_info). With a profile that has
// no abort (Spec) nothing is sent: the network just stops talking, and
// the ESME learns of it from its own timer.
func (ss *Session) Abort() error {
	if ss.ended.Swap(true) {
		return ErrEnded
	}
	ss.forget()
	p := ss.srv.cfg.Profile
	switch {
	case p.AbortOp != 0:
		return ss.send(p.AbortOp, "", p.AbortBit)
	case p.AbortBit:
		return ss.send(p.ReplyOp, "", true)
	}
	return nil
}

// Close forgets the session without sending anything; its late screens
// count as stray.
func (ss *Session) Close() {
	ss.ended.Store(true)
	ss.forget()
}

// Next waits for the next screen of the session. It fails when ctx ends,
// when the ESME answers the session's deliver_sm with an error status,
// or when the bind goes away before the ESME answered the deliver_sm.
// Once it is answered the screen may come on any bind (an ESME that
// unbinds answers the steps it acknowledged on another one), so the end
// of the bind that carried the deliver_sm does not fail the step.
func (ss *Session) Next(ctx context.Context) (Screen, error) {
	for {
		var resp chan frame
		var done chan struct{}
		if ss.last != nil {
			resp, done = ss.last.cl.ch, ss.last.c.done
		}
		select {
		case sc := <-ss.screens:
			return sc, nil
		case f := <-resp:
			if err := ss.answered(f); err != nil {
				return Screen{}, err
			}
		case <-done:
			select {
			case sc := <-ss.screens:
				return sc, nil
			default:
			}
			// The response is delivered before the connection closes
			// (handle, unbind): when both are ready, select picks either.
			select {
			case f := <-resp:
				if err := ss.answered(f); err != nil {
					return Screen{}, err
				}
				continue
			default:
			}
			ss.Close()
			return Screen{}, fmt.Errorf("smsc: ussd %s: the bind closed", ss.msisdn)
		case <-ctx.Done():
			return Screen{}, fmt.Errorf("smsc: ussd %s: waiting for a screen: %w", ss.msisdn, ctx.Err())
		}
	}
}

// answered takes the response to the session's last deliver_sm: an error
// status ends the session.
func (ss *Session) answered(f frame) error {
	ss.last = nil
	st := smpp.CommandStatus(f.h.Status)
	if f.h.ID == pdu.GenericNACKID && st == smpp.StatusOK {
		st = smpp.StatusInvCmdID
	}
	if st != smpp.StatusOK {
		ss.Close()
		return fmt.Errorf("smsc: ussd %s: deliver_sm answered %s", ss.msisdn, st)
	}
	return nil
}

// forget removes the session from the server's maps.
func (ss *Session) forget() {
	s := ss.srv
	s.mu.Lock()
	if s.sessions[ss.sk] == ss {
		delete(s.sessions, ss.sk)
	}
	if s.byMSISDN[ss.msisdn] == ss {
		delete(s.byMSISDN, ss.msisdn)
	}
	s.mu.Unlock()
}

// routeUSSD reads a USSD submit_sm by the profile and hands it to its
// session.
func (s *Server) routeUSSD(sub *Submit, op uint8) {
	p := s.cfg.Profile
	key, _ := sub.TLVs.Get(p.SessionKey)
	u := &USSD{Op: op, Key: key, End: p.ends(op, key)}
	u.Continue = !u.End && p.continues(op)
	sub.USSD = u
	s.mu.Lock()
	var ss *Session
	if len(key) == 2 {
		u.SessionKey = binary.BigEndian.Uint16(key) & p.keyMask()
		ss = s.sessions[sessionKey{sub.Dest.Addr, u.SessionKey}]
	} else {
		ss = s.byMSISDN[sub.Dest.Addr]
	}
	s.mu.Unlock()
	if ss == nil || ss.ended.Load() {
		s.stats.stray.Add(1)
		s.log.Debug("ussd submit_sm matches no session", "dest", sub.Dest, "op", op)
		return
	}
	u.Session = ss
	sc := Screen{Text: sub.Text, End: !u.Continue, Op: op, Submit: sub}
	if t := ss.sentAt.Load(); t != 0 {
		sc.Latency = sub.Received.Sub(time.Unix(0, t))
	}
	if sc.End {
		ss.ended.Store(true)
		ss.forget()
	}
	select {
	case ss.screens <- sc:
	default:
		s.stats.stray.Add(1)
		s.log.Warn("ussd session is not reading its screens: one dropped", "dest", sub.Dest)
	}
}
