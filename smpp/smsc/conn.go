package smsc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/ussdgw/ussdgw/smpp"
)

// conn is one ESME connection.
type conn struct {
	srv *Server
	nc  net.Conn
	id  int

	// Writes are combined: a sender appends its PDU to wbuf, and whoever
	// finds no write in progress writes everything pending, so a burst
	// goes out in few syscalls without a writer goroutine to wake.
	wmu        sync.Mutex
	wbuf       []byte
	spare      []byte
	writing    bool
	closeAfter bool // close once wbuf is written
	wclosed    bool

	mu         sync.Mutex
	kind       BindKind // "" until bound
	systemID   string
	seq        uint32
	pending    map[uint32]*call
	isClosed   bool
	unbindRecv bool // the ESME sent unbind: nothing new is sent on it

	done chan struct{}
	once sync.Once
}

// call is a request of ours waiting for its response.
type call struct {
	want pdu.ID
	ch   chan frame
}

func newConn(s *Server, nc net.Conn, id int) *conn {
	return &conn{srv: s, nc: nc, id: id, pending: map[uint32]*call{}, done: make(chan struct{})}
}

func (c *conn) bind() Bind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Bind{ID: c.id, SystemID: c.systemID, Kind: c.kind, Remote: c.nc.RemoteAddr().String(), Bound: c.kind != "" && !c.isClosed && !c.unbindRecv}
}

// unbinding marks the connection as unbinding (no deliver_sm is sent on
// it any more) and reports whether requests of ours still wait for their
// responses on it.
func (c *conn) unbinding() bool {
	c.mu.Lock()
	c.unbindRecv = true
	n := len(c.pending)
	c.mu.Unlock()
	c.srv.notifyBinds()
	return n > 0
}

// outstanding returns the number of our requests waiting for a response.
func (c *conn) outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// unbound marks the connection closed and returns what it was bound as.
func (c *conn) unbound() (Bind, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := Bind{ID: c.id, SystemID: c.systemID, Kind: c.kind, Remote: c.nc.RemoteAddr().String()}
	was := c.kind != ""
	c.kind = ""
	return b, was
}

func (c *conn) close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.isClosed = true
		c.mu.Unlock()
		_ = c.nc.Close()
		close(c.done)
	})
}

// send writes a whole PDU, or leaves it to the write in progress. A nil
// PDU closes the connection once everything before it is written.
func (c *conn) send(b []byte) error { return c.put(b, false) }

// queue adds a PDU that the next send or flush writes: the read loop
// answers a burst of requests in one write.
func (c *conn) queue(b []byte) { _ = c.put(b, true) }

// flush writes what is queued.
func (c *conn) flush() {
	c.wmu.Lock()
	if c.writing || len(c.wbuf) == 0 || c.wclosed {
		c.wmu.Unlock()
		return
	}
	c.writing = true
	_ = c.drain()
}

func (c *conn) put(b []byte, hold bool) error {
	c.wmu.Lock()
	if c.wclosed || c.closeAfter {
		c.wmu.Unlock()
		return errConnGone
	}
	if b == nil {
		c.closeAfter = true
	} else {
		c.wbuf = append(c.wbuf, b...)
	}
	if c.writing || (hold && b != nil) {
		c.wmu.Unlock()
		return nil
	}
	c.writing = true
	return c.drain()
}

// drain writes until nothing is pending; c.wmu is held on entry and
// released on return.
func (c *conn) drain() error {
	for {
		buf, closeAfter := c.wbuf, c.closeAfter
		c.wbuf = c.spare[:0]
		c.wmu.Unlock()
		var err error
		if len(buf) > 0 {
			if err = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second)); err == nil {
				_, err = c.nc.Write(buf)
			}
		}
		c.wmu.Lock()
		if cap(buf) <= 1<<20 {
			c.spare = buf[:0]
		}
		if err != nil || (closeAfter && len(c.wbuf) == 0) {
			c.writing, c.wclosed = false, true
			c.wmu.Unlock()
			c.close()
			return err
		}
		if len(c.wbuf) == 0 && !c.closeAfter {
			c.writing = false
			c.wmu.Unlock()
			return nil
		}
	}
}

// sendAndClose writes a last PDU and closes the connection.
func (c *conn) sendAndClose(b []byte) {
	if c.send(b) == nil {
		_ = c.send(nil)
	}
}

// request sends a request PDU with the next sequence number (or seq,
// when not 0) and returns the channel its response arrives on.
func (c *conn) request(id pdu.ID, seq uint32, body []byte) (*call, uint32, error) {
	cl := &call{want: id | respBit, ch: make(chan frame, 1)}
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return nil, 0, errConnGone
	}
	if c.unbindRecv {
		c.mu.Unlock()
		return nil, 0, errUnbinding
	}
	if seq == 0 {
		for {
			c.seq++
			if c.seq > 0x7FFFFFFF {
				c.seq = 1
			}
			if _, busy := c.pending[c.seq]; !busy {
				break
			}
		}
		seq = c.seq
	} else if _, busy := c.pending[seq]; busy {
		c.mu.Unlock()
		return nil, 0, fmt.Errorf("smsc: sequence number %d is already waiting for a response", seq)
	}
	c.pending[seq] = cl
	c.mu.Unlock()
	if err := c.send(encodeFrame(id, 0, seq, body)); err != nil {
		c.forgetCall(seq, cl)
		return nil, 0, err
	}
	return cl, seq, nil
}

func (c *conn) forgetCall(seq uint32, cl *call) {
	c.mu.Lock()
	if c.pending[seq] == cl {
		delete(c.pending, seq)
	}
	c.mu.Unlock()
}

// wait waits for the response to cl.
func (c *conn) wait(ctx context.Context, cl *call, seq uint32, d time.Duration) (frame, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f := <-cl.ch:
		return f, nil
	case <-c.done:
		select {
		case f := <-cl.ch: // answered before the close (see handle)
			return f, nil
		default:
		}
		c.forgetCall(seq, cl)
		return frame{}, net.ErrClosed
	case <-t.C:
		c.forgetCall(seq, cl)
		return frame{}, fmt.Errorf("smsc: no %s within %s", commandName(cl.want), d)
	case <-ctx.Done():
		c.forgetCall(seq, cl)
		return frame{}, ctx.Err()
	}
}

// unbind sends unbind and waits for unbind_resp.
func (c *conn) unbind(ctx context.Context) {
	if b := c.bind(); !b.Bound {
		return
	}
	cl, seq, err := c.request(pdu.UnbindID, 0, nil)
	if err != nil {
		return
	}
	_, _ = c.wait(ctx, cl, seq, time.Second)
}

// respond queues a response; the read loop flushes when it has read
// everything buffered.
func (c *conn) respond(id pdu.ID, status smpp.CommandStatus, seq uint32, body []byte) {
	c.queue(encodeFrame(id|respBit, status, seq, body))
}

func (c *conn) readLoop() {
	if d := c.srv.cfg.EnquireLink; d > 0 {
		c.srv.wg.Go(func() { c.enquireLoop(d) })
	}
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		f, err := readFrame(r, c.srv.cfg.MaxPDUSize)
		if err != nil {
			if errors.Is(err, errFraming) {
				c.srv.stats.badPDUs.Add(1)
				c.sendAndClose(encodeFrame(pdu.GenericNACKID, smpp.StatusInvCmdLen, f.h.Seq, nil))
				c.lastWords()
			}
			c.close()
			return
		}
		if !c.handle(f) {
			c.flush()
			c.lastWords()
			c.close()
			return
		}
		if r.Buffered() == 0 {
			c.flush()
		}
	}
}

// lastWords gives a write in progress a moment to send what
// sendAndClose queued.
func (c *conn) lastWords() {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}

// handle acts on one PDU and reports whether to keep reading.
func (c *conn) handle(f frame) bool {
	h := f.h
	if h.ID&respBit != 0 {
		// The response goes to its caller before the call leaves pending
		// (never blocks: one response per call, and ch holds one), so
		// whoever sees no request outstanding, and closes the connection
		// for it (an unbind that waited), closes it after the response is
		// there to read: the caller can tell a request answered before
		// the close from one lost with the connection.
		c.mu.Lock()
		cl := c.pending[h.Seq]
		if cl != nil && (cl.want == h.ID || h.ID == pdu.GenericNACKID) {
			cl.ch <- f
			delete(c.pending, h.Seq)
		} else {
			cl = nil
		}
		c.mu.Unlock()
		if cl == nil {
			c.srv.log.Debug("response matches no request", "cmd", commandName(h.ID), "seq", h.Seq)
		}
		return true
	}
	switch h.ID {
	case pdu.BindTransceiverID, pdu.BindTransmitterID, pdu.BindReceiverID:
		c.handleBind(f)
		return true
	case pdu.EnquireLinkID:
		c.respond(h.ID, smpp.StatusOK, h.Seq, nil)
		return true
	case pdu.UnbindID:
		if !c.unbinding() {
			c.sendAndClose(encodeFrame(h.ID|respBit, smpp.StatusOK, h.Seq, nil))
			return false
		}
		// deliver_sm we sent before reading the unbind crossed it on the
		// wire: the ESME still answers them, so keep reading until it has
		// (or ResponseTimeout), then confirm the unbind.
		c.srv.wg.Go(func() {
			deadline := time.Now().Add(c.srv.cfg.ResponseTimeout)
			for c.outstanding() > 0 && time.Now().Before(deadline) {
				select {
				case <-c.done:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			c.flush()
			c.sendAndClose(encodeFrame(h.ID|respBit, smpp.StatusOK, h.Seq, nil))
		})
		return true
	}
	b := c.bind()
	switch {
	case !b.Bound:
		c.respond(h.ID, smpp.StatusInvBndSts, h.Seq, nil)
	case h.ID == pdu.SubmitSMID && b.Kind.transmits():
		return c.handleSubmit(f, b)
	case h.ID == pdu.SubmitSMID:
		c.respond(h.ID, smpp.StatusInvBndSts, h.Seq, nil)
	case knownRequests[h.ID]:
		c.respond(h.ID, smpp.StatusInvCmdID, h.Seq, nil)
	default:
		c.queue(encodeFrame(pdu.GenericNACKID, smpp.StatusInvCmdID, h.Seq, nil))
	}
	return true
}

// knownRequests are SMPP requests this SMSC does not serve; they get
// their own response with ESME_RINVCMDID, anything else generic_nack.
var knownRequests = map[pdu.ID]bool{
	pdu.SubmitMultiID: true, pdu.QuerySMID: true, pdu.CancelSMID: true, pdu.ReplaceSMID: true,
	pdu.DataSMID: true, pdu.DeliverSMID: true,
}

func (c *conn) handleBind(f frame) {
	s := c.srv
	kind := map[pdu.ID]BindKind{pdu.BindTransceiverID: Transceiver, pdu.BindTransmitterID: Transmitter, pdu.BindReceiverID: Receiver}[f.h.ID]
	req, err := decodeBind(f.body)
	status := smpp.StatusOK
	switch {
	case err != nil:
		s.stats.badPDUs.Add(1)
		status = smpp.StatusInvCmdLen
	case c.bind().Bound:
		status = smpp.StatusAlyBnd
	default:
		status = s.checkAccount(req)
	}
	if status != smpp.StatusOK {
		s.stats.bindsRefused.Add(1)
		s.log.Info("bind refused", "system_id", req.SystemID, "status", status)
		c.respond(f.h.ID, status, f.h.Seq, cString(s.cfg.SystemID))
		return
	}
	c.mu.Lock()
	c.kind, c.systemID = kind, req.SystemID
	c.mu.Unlock()
	c.respond(f.h.ID, smpp.StatusOK, f.h.Seq, cString(s.cfg.SystemID))
	s.stats.binds.Add(1)
	s.notifyBinds()
	b := c.bind()
	s.log.Info("bound", "id", b.ID, "system_id", b.SystemID, "kind", b.Kind, "remote", b.Remote)
	if s.cfg.OnBind != nil {
		s.cfg.OnBind(b)
	}
}

func (c *conn) enquireLoop(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if !c.bind().Bound {
			continue
		}
		cl, seq, err := c.request(pdu.EnquireLinkID, 0, nil)
		if err != nil {
			return
		}
		if _, err := c.wait(context.Background(), cl, seq, c.srv.cfg.ResponseTimeout); err != nil {
			c.srv.log.Warn("no enquire_link_resp: closing", "id", c.id)
			c.close()
			return
		}
	}
}

func commandName(id pdu.ID) string {
	if s := id.String(); s != "" {
		return s
	}
	return fmt.Sprintf("command 0x%08X", uint32(id))
}
