package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// role is what a session binds as.
type role int

const (
	roleTRX role = iota
	roleTX
	roleRX
)

func (r role) String() string { return [...]string{"trx", "tx", "rx"}[r] }

func (r role) bindPDU() pdu.Body {
	switch r {
	case roleTX:
		return pdu.NewBindTransmitter()
	case roleRX:
		return pdu.NewBindReceiver()
	}
	return pdu.NewBindTransceiver()
}

// BindState is where a session is in its life.
type BindState string

// The bind states.
const (
	StateConnecting   BindState = "connecting"
	StateBound        BindState = "bound"
	StateDisconnected BindState = "disconnected"
	StateClosed       BindState = "closed"
)

// session keeps one bind (a TRX, or the TX or RX half of a pair) up: it
// dials, binds, and when the connection ends dials again after a capped,
// jittered backoff.
type session struct {
	cl   *Client
	role role
	log  *slog.Logger
	stop context.CancelFunc // ends run; set before run starts

	mu      sync.Mutex
	cur     *conn
	ready   chan struct{} // closed while cur is bound
	state   BindState
	since   time.Time
	lastErr string
	errAt   time.Time
	binds   int64
	drops   int64
}

func newSession(cl *Client, r role) *session {
	return &session{
		cl:    cl,
		role:  r,
		log:   cl.log.With("role", r.String()),
		ready: make(chan struct{}),
		state: StateDisconnected,
		since: time.Now(),
	}
}

// run keeps the session bound until ctx ends. It leaves the last
// connection open for Close to unbind.
func (s *session) run(ctx context.Context) {
	failures := 0
	for {
		c, err := s.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := s.cl.cfg.Reconnect.delay(failures)
			s.failed(err)
			s.log.Warn("bind failed", "err", err, "attempt", failures, "retry_in", d)
			if !sleep(ctx, d) {
				return
			}
			continue
		}
		up := time.Now()
		s.bound(c)
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		}
		s.lost(c)
		// A connection that did not last counts as another failure, so a
		// flapping SMSC is not hammered.
		if time.Since(up) < s.cl.cfg.Reconnect.Max {
			failures++
		} else {
			failures = 1
		}
		if !sleep(ctx, s.cl.cfg.Reconnect.delay(failures)) {
			return
		}
	}
}

// connect dials and binds within the bind timeout.
func (s *session) connect(ctx context.Context) (*conn, error) {
	cfg := &s.cl.cfg
	s.setState(StateConnecting)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Bind)
	defer cancel()
	nc, err := s.cl.dial(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", cfg.Address, err)
	}
	c := newConn(nc, cfg, &s.cl.stats, s.log)
	s.cl.wg.Go(func() { c.readLoop(s.cl.onInbound) })

	p := s.role.bindPDU()
	f := p.Fields()
	_ = f.Set(pdufield.SystemID, cfg.SystemID)
	_ = f.Set(pdufield.Password, s.cl.password)
	_ = f.Set(pdufield.SystemType, cfg.SystemType)
	_ = f.Set(pdufield.InterfaceVersion, uint8(0x34))
	_ = f.Set(pdufield.AddressRange, cfg.AddressRange)
	op := "bind_" + map[role]string{roleTRX: "transceiver", roleTX: "transmitter", roleRX: "receiver"}[s.role]
	resp, err := c.request(ctx, p, false, cfg.Timeouts.Bind)
	if err != nil {
		c.close(err)
		kind := KindDisconnected
		if errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) {
			kind = KindTimeout
		}
		return nil, &Error{Op: op, Bind: cfg.Name, Kind: kind, Err: err}
	}
	if resp.h.Status != 0 {
		err := &Error{Op: op, Bind: cfg.Name, Kind: KindStatus, Status: CommandStatus(resp.h.Status)}
		c.close(err)
		return nil, err
	}
	s.cl.wg.Go(func() { c.enquireLoop(cfg.EnquireLink) })
	return c, nil
}

func (s *session) setState(st BindState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != st {
		s.state, s.since = st, time.Now()
	}
}

func (s *session) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.since = StateDisconnected, time.Now()
	s.lastErr, s.errAt = err.Error(), s.since
}

func (s *session) bound(c *conn) {
	s.mu.Lock()
	s.cur = c
	s.state, s.since = StateBound, time.Now()
	s.binds++
	close(s.ready)
	s.mu.Unlock()
	s.log.Info("bound", "address", s.cl.cfg.Address)
}

// lost forgets c once it has closed. Both the run loop and a sender that
// finds c closed may call it; only the first does anything.
func (s *session) lost(c *conn) {
	s.mu.Lock()
	if s.cur != c {
		s.mu.Unlock()
		return
	}
	s.cur = nil
	s.ready = make(chan struct{})
	s.state, s.since = StateDisconnected, time.Now()
	s.drops++
	if err := c.err(); err != nil {
		s.lastErr, s.errAt = err.Error(), s.since
	}
	s.mu.Unlock()
	s.log.Warn("connection lost", "err", c.err())
}

// waitConn returns the bound connection, waiting for a bind with ctx.
func (s *session) waitConn(ctx context.Context) (*conn, error) {
	for {
		s.mu.Lock()
		c, ready := s.cur, s.ready
		s.mu.Unlock()
		if c != nil {
			if c.err() == nil {
				return c, nil
			}
			s.lost(c)
			continue
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.cl.closed:
			return nil, errClosed
		}
	}
}

// current returns the bound connection or nil.
func (s *session) current() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// unbind sends unbind on the current connection, waits for unbind_resp
// (or ctx, or the response timeout) and closes it.
func (s *session) unbind(ctx context.Context) {
	c := s.current()
	if c == nil {
		return
	}
	_, err := c.request(ctx, pdu.NewUnbind(), false, s.cl.cfg.Timeouts.Response)
	if err != nil {
		s.log.Debug("unbind got no response", "err", err)
	}
	c.close(errClosed)
	s.mu.Lock()
	s.cur = nil
	s.state, s.since = StateClosed, time.Now()
	s.mu.Unlock()
}

// SessionStatus describes one bind of a Client.
type SessionStatus struct {
	Role      string    // trx, tx or rx
	State     BindState // connecting, bound, disconnected, closed
	Since     time.Time // when State was entered
	LastError string    // the last bind failure or disconnect reason, kept after a rebind
	ErrorAt   time.Time // when LastError happened
	Binds     int64     // successful binds
	Drops     int64     // bound connections lost
	InFlight  int       // requests outstanding in the window
}

func (s *session) status() SessionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SessionStatus{Role: s.role.String(), State: s.state, Since: s.since, LastError: s.lastErr, ErrorAt: s.errAt, Binds: s.binds, Drops: s.drops}
	if s.cur != nil {
		st.InFlight = s.cur.inFlight()
	}
	return st
}
