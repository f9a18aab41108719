package smpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// conn is one TCP connection to an SMSC: the requests in flight on it,
// matched to their responses by command id and sequence number, its
// window, and its read loop. A conn is never reused: after it closes, the
// session dials a new one.
type conn struct {
	nc     net.Conn
	cfg    *Config
	stats  *counters
	log    *slog.Logger
	seq    seqGen
	window chan struct{} // one token per outstanding windowed request

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	pending map[uint32]*call // by sequence number
	closed  bool

	done     chan struct{} // closed once the connection is closed
	closeErr error         // why; set before done is closed
	once     sync.Once
}

// call is one request waiting for its response.
type call struct {
	seq      uint32
	want     pdu.ID // the response command id
	windowed bool
	ch       chan frame // buffered: the read loop never blocks on it
}

// frame is a PDU as read: header and undecoded body.
type frame struct {
	h    pdu.Header
	body []byte
}

func newConn(nc net.Conn, cfg *Config, stats *counters, log *slog.Logger) *conn {
	return &conn{
		nc:      nc,
		cfg:     cfg,
		stats:   stats,
		log:     log,
		window:  make(chan struct{}, cfg.Window),
		pending: map[uint32]*call{},
		done:    make(chan struct{}),
	}
}

// close closes the connection once; every request in flight fails with
// errDisconnected.
func (c *conn) close(err error) {
	c.once.Do(func() {
		c.closeErr = err
		_ = c.nc.Close()
		c.mu.Lock()
		c.closed = true
		for seq, cl := range c.pending {
			delete(c.pending, seq)
			if cl.windowed {
				<-c.window
			}
		}
		c.mu.Unlock()
		close(c.done)
	})
}

// err returns why the connection closed, or nil while it is open.
func (c *conn) err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}

// inFlight returns the number of windowed requests outstanding.
func (c *conn) inFlight() int { return len(c.window) }

// acquire takes a window slot, waiting for one with ctx.
func (c *conn) acquire(ctx context.Context) error {
	select {
	case c.window <- struct{}{}:
		return nil
	default:
	}
	c.stats.waiting.Add(1)
	defer c.stats.waiting.Add(-1)
	select {
	case c.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return errDisconnected
	}
}

// start sends request p with a fresh sequence number and returns the call
// to wait on. A windowed request first takes a window slot; the slot is
// given back when the response arrives, the call is abandoned, or the
// connection closes. An error means p was not (fully) written.
func (c *conn) start(ctx context.Context, p pdu.Body, windowed bool) (*call, error) {
	if windowed {
		if err := c.acquire(ctx); err != nil {
			return nil, err
		}
	}
	cl := &call{want: p.Header().ID | respBit, windowed: windowed, ch: make(chan frame, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if windowed {
			<-c.window
		}
		return nil, errDisconnected
	}
	for {
		// After a wrap, skip a number still waiting for its response.
		s := c.seq.next()
		if _, busy := c.pending[s]; !busy {
			cl.seq = s
			break
		}
	}
	c.pending[cl.seq] = cl
	c.mu.Unlock()

	b, err := serialize(p, cl.seq)
	if err != nil {
		c.abandon(cl)
		return nil, fmt.Errorf("encoding %s: %w", commandName(p.Header().ID), err)
	}
	if err := c.write(b); err != nil {
		c.abandon(cl)
		return nil, err
	}
	return cl, nil
}

// wait waits up to d for the response of cl. On errTimeout the call stays
// registered, so a later wait can still catch a late response; the caller
// must abandon it when it gives up.
func (c *conn) wait(ctx context.Context, cl *call, d time.Duration) (frame, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-cl.ch:
		return f, nil
	case <-c.done:
		select {
		case f := <-cl.ch:
			return f, nil
		default:
			return frame{}, errDisconnected
		}
	case <-t.C:
		return frame{}, errTimeout
	case <-ctx.Done():
		return frame{}, ctx.Err()
	}
}

// abandon forgets cl and gives its window slot back; a response that
// arrives for it later is logged as unmatched.
func (c *conn) abandon(cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[cl.seq] == cl {
		delete(c.pending, cl.seq)
		if cl.windowed {
			<-c.window
		}
	}
}

// request is start, wait and abandon-on-failure in one.
func (c *conn) request(ctx context.Context, p pdu.Body, windowed bool, d time.Duration) (frame, error) {
	cl, err := c.start(ctx, p, windowed)
	if err != nil {
		return frame{}, err
	}
	f, err := c.wait(ctx, cl, d)
	if err != nil {
		c.abandon(cl)
	}
	return f, err
}

// deliver hands a response to the call with the same sequence number if
// the command id is the one that call expects (or generic_nack). It
// reports whether a call took it.
func (c *conn) deliver(f frame) bool {
	c.mu.Lock()
	cl := c.pending[f.h.Seq]
	if cl == nil && isBindResp(f.h.ID) {
		// Some SMSCs (go-smpp's smpptest among them) do not echo the
		// bind's sequence number. Nothing else is in flight during a
		// bind, so the bind waiting for this response is the one.
		for _, p := range c.pending {
			if p.want == f.h.ID {
				cl = p
				f.h.Seq = p.seq
			}
		}
	}
	if cl == nil || (f.h.ID != cl.want && f.h.ID != pdu.GenericNACKID) {
		c.mu.Unlock()
		return false
	}
	delete(c.pending, f.h.Seq)
	if cl.windowed {
		<-c.window
	}
	c.mu.Unlock()
	cl.ch <- f
	return true
}

func isBindResp(id pdu.ID) bool {
	return id == pdu.BindTransceiverRespID || id == pdu.BindTransmitterRespID || id == pdu.BindReceiverRespID
}

// write writes one whole PDU under the write deadline. A failed write
// leaves the stream unframed, so it closes the connection.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.cfg.Timeouts.Write)); err != nil {
		c.close(fmt.Errorf("setting write deadline: %w", err))
		return errDisconnected
	}
	if _, err := c.nc.Write(b); err != nil {
		c.close(fmt.Errorf("writing: %w", err))
		return fmt.Errorf("%w: %w", errDisconnected, err)
	}
	c.stats.tally.out(b)
	return nil
}

// respond answers request id/seq with its response and a status.
func (c *conn) respond(id pdu.ID, seq uint32, status CommandStatus, body []byte) error {
	return c.write(encodeFrame(id|respBit, status, seq, body))
}

// nack sends generic_nack.
func (c *conn) nack(seq uint32, status CommandStatus) error {
	c.stats.nacks.Add(1)
	return c.write(encodeFrame(pdu.GenericNACKID, status, seq, nil))
}

// Requests an ESME may receive but does not serve. They get their own
// response with ESME_RINVCMDID; a command id that is not SMPP at all gets
// generic_nack.
var unservedRequests = map[pdu.ID]bool{
	pdu.SubmitSMID: true, pdu.SubmitMultiID: true, pdu.QuerySMID: true,
	pdu.CancelSMID: true, pdu.ReplaceSMID: true,
	0x00000111: true, 0x00000112: true, 0x00000113: true, // broadcast_sm, query_broadcast_sm, cancel_broadcast_sm (v5)
}

// errPeerUnbound closes a connection the SMSC unbound.
var errPeerUnbound = errors.New("smsc sent unbind")

// readLoop reads PDUs until the connection fails. It never waits on a
// Handler: deliver_sm and data_sm go to inbound, which must not block.
func (c *conn) readLoop(inbound func(*conn, pdu.Header, []byte)) {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		h, body, err := readFrame(r, c.cfg.MaxPDUSize)
		if err != nil {
			var le *lengthError
			if errors.As(err, &le) {
				c.stats.badPDUs.Add(1)
				c.log.Warn("refusing pdu", "cmd", commandName(h.ID), "seq", h.Seq, "err", err)
				if le.Skipped {
					c.refuse(h, StatusInvCmdLen)
					continue
				}
				_ = c.nack(h.Seq, StatusInvCmdLen)
			}
			c.close(fmt.Errorf("reading pdu: %w", err))
			return
		}
		c.stats.tally.in(h)
		if !c.handle(frame{h, body}, inbound) {
			return
		}
	}
}

// handle acts on one PDU and reports whether to keep reading.
func (c *conn) handle(f frame, inbound func(*conn, pdu.Header, []byte)) bool {
	h := f.h
	switch {
	case h.ID&respBit != 0:
		if !c.deliver(f) {
			c.stats.unmatched.Add(1)
			c.log.Debug("response matches no request", "cmd", commandName(h.ID), "seq", h.Seq)
		}
	case h.ID == pdu.EnquireLinkID:
		_ = c.respond(h.ID, h.Seq, StatusOK, nil)
	case h.ID == pdu.UnbindID:
		_ = c.respond(h.ID, h.Seq, StatusOK, nil)
		c.close(errPeerUnbound)
		return false
	case h.ID == pdu.DeliverSMID || h.ID == pdu.DataSMID:
		inbound(c, h, f.body)
	default:
		c.stats.unsupported.Add(1)
		c.log.Warn("unsupported pdu", "cmd", commandName(h.ID), "seq", h.Seq)
		c.refuse(h, StatusInvCmdID)
	}
	return true
}

// refuse answers a request we will not serve: bind_* gets ESME_RALYBND,
// other known requests their own response with status, anything else
// generic_nack. alert_notification and outbind have no response; a
// response cannot be answered.
func (c *conn) refuse(h pdu.Header, status CommandStatus) {
	switch {
	case h.ID&respBit != 0, h.ID == pdu.AlertNotificationID, h.ID == pdu.OutbindID:
	case h.ID == pdu.BindTransceiverID || h.ID == pdu.BindTransmitterID || h.ID == pdu.BindReceiverID:
		_ = c.respond(h.ID, h.Seq, StatusAlyBnd, nil)
	case unservedRequests[h.ID] || h.ID == pdu.DeliverSMID || h.ID == pdu.DataSMID ||
		h.ID == pdu.EnquireLinkID || h.ID == pdu.UnbindID:
		_ = c.respond(h.ID, h.Seq, status, nil)
	default:
		_ = c.nack(h.Seq, status)
	}
}

// enquireLoop sends enquire_link every interval; a response missing for
// longer than the response timeout closes the connection.
func (c *conn) enquireLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		_, err := c.request(context.Background(), pdu.NewEnquireLink(), false, c.cfg.Timeouts.Response)
		switch {
		case errors.Is(err, errTimeout):
			c.close(fmt.Errorf("no enquire_link_resp within %s", c.cfg.Timeouts.Response))
			return
		case err != nil:
			return
		}
	}
}
