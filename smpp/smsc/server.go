package smsc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/ussdgw/ussdgw/smpp"
)

// Account is a system_id and password that may bind.
type Account struct {
	SystemID string
	Password string
}

// Config configures a Server. The zero value listens on a random
// loopback port, lets anyone bind and speaks the Spec USSD profile.
type Config struct {
	// Addr is the listen address; "" means 127.0.0.1:0, a random port.
	Addr string
	// SystemID is the system_id the bind responses carry; "" means
	// "smsc-sim".
	SystemID string
	// Accounts may bind; empty means any system_id with any password.
	Accounts []Account
	// Profile is how USSD is spoken; the zero Profile means Spec.
	Profile Profile

	// DLR makes the server send a delivery receipt, DLRDelay after the
	// submit_sm, for each submit_sm whose registered_delivery asks for
	// one (bit 0: always; bit 1: on failure only). DLRState is the state
	// it reports (default MsgDelivered).
	DLR      bool
	DLRDelay time.Duration
	DLRState smpp.MessageState
	// IDForm is how message ids are written in submit_sm_resp: "dec"
	// (default) or "hex". DLRIDForm is how the receipt writes the same id:
	// "" (as in the response), "dec" or "hex"; a form that differs from
	// IDForm plays the SMSCs that mix them (docs/smpp.md, "SMS").
	IDForm    string
	DLRIDForm string

	// ResponseTimeout bounds the wait for a deliver_sm_resp; default 5s.
	ResponseTimeout time.Duration
	// EnquireLink is how often the server sends enquire_link on each bind;
	// 0 means never.
	EnquireLink time.Duration
	// MaxPDUSize is the largest PDU accepted; default 65536.
	MaxPDUSize int
	// ReassemblyTimeout drops a concatenated MT whose parts do not all
	// arrive in time; default 2 minutes.
	ReassemblyTimeout time.Duration

	// OnSubmit gets every submit_sm, accepted or not. OnMessage gets every
	// whole MT message (not USSD) once its last part is in. OnBind gets
	// every bind and every end of a bind. All three run on the read loop of
	// the connection: they must return quickly.
	OnSubmit  func(*Submit)
	OnMessage func(*Message)
	OnBind    func(Bind)

	// Logger gets connection events; nil discards them.
	Logger *slog.Logger
}

// BindKind is what an ESME bound as.
type BindKind string

// The bind kinds.
const (
	Transceiver BindKind = "transceiver"
	Transmitter BindKind = "transmitter"
	Receiver    BindKind = "receiver"
)

// receives reports whether deliver_sm may be sent on such a bind.
func (k BindKind) receives() bool { return k == Transceiver || k == Receiver }

// transmits reports whether submit_sm may come on such a bind.
func (k BindKind) transmits() bool { return k == Transceiver || k == Transmitter }

// Bind describes one bound connection.
type Bind struct {
	ID       int // numbers the server's connections from 1
	SystemID string
	Kind     BindKind
	Remote   string
	Bound    bool // false in the OnBind event for an ended bind
}

// Stats are the server's counters since it started.
type Stats struct {
	Binds         int64 // successful binds
	BindsRefused  int64 // bad credentials, or a second bind on one connection
	Submits       int64 // submit_sm received
	Accepted      int64 // submit_sm answered ESME_ROK (or withheld)
	Rejected      int64 // submit_sm answered with an error status
	Withheld      int64 // submit_sm never answered
	Dropped       int64 // submit_sm whose connection was closed instead of answering
	Delivers      int64 // deliver_sm sent
	DeliverFailed int64 // deliver_sm answered with an error, or not answered in time
	Receipts      int64 // delivery receipts sent
	Messages      int64 // whole MT messages
	Stray         int64 // USSD submit_sm matching no open Session
	BadPDUs       int64 // PDUs that could not be decoded
}

type counters struct {
	binds, bindsRefused, submits, accepted, rejected, withheld, dropped atomic.Int64
	delivers, deliverFailed, receipts, messages, stray, badPDUs         atomic.Int64
}

// errUnbinding: the bind picked for a deliver_sm was unbinding; another
// is picked.
var errUnbinding = errors.New("smsc: the esme is unbinding")

// ErrNotBound is returned when no bind can take a deliver_sm.
var ErrNotBound = errors.New("smsc: no receiving bind")

// ErrClosed is returned once the Server is closed.
var ErrClosed = errors.New("smsc: server closed")

// Server is a running SMSC. Build it with Start; it serves until Close.
type Server struct {
	cfg     Config
	ln      net.Listener
	log     *slog.Logger
	re      *smpp.Reassembler
	ids     atomic.Uint64
	keys    atomic.Uint32
	rr      atomic.Uint32
	stats   counters
	connIDs atomic.Int64

	mu       sync.Mutex
	conns    map[*conn]struct{}
	changed  chan struct{} // closed and replaced when the set of binds changes
	sessions map[sessionKey]*Session
	byMSISDN map[string]*Session // the last session opened for a number
	closed   bool

	faults faults
	wg     sync.WaitGroup
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.SystemID == "" {
		cfg.SystemID = "smsc-sim"
	}
	if cfg.Profile.Name == "" {
		cfg.Profile = Spec
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, err
	}
	if cfg.DLRState == 0 {
		cfg.DLRState = smpp.MsgDelivered
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 5 * time.Second
	}
	if cfg.MaxPDUSize <= 0 {
		cfg.MaxPDUSize = 65536
	}
	if cfg.ReassemblyTimeout <= 0 {
		cfg.ReassemblyTimeout = 2 * time.Minute
	}
	for _, f := range []string{cfg.IDForm, cfg.DLRIDForm} {
		if f != "" && f != "dec" && f != "hex" {
			return nil, fmt.Errorf("smsc: id form %q: want dec or hex", f)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smsc: listening: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		log:      log.With("comp", "smsc"),
		re:       smpp.NewReassembler(cfg.ReassemblyTimeout, 100000),
		conns:    map[*conn]struct{}{},
		changed:  make(chan struct{}),
		sessions: map[sessionKey]*Session{},
		byMSISDN: map[string]*Session{},
	}
	s.ids.Store(0x1F0000 - 1) // ids whose decimal and hex forms differ
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Profile returns the USSD profile the server speaks.
func (s *Server) Profile() Profile { return s.cfg.Profile }

// Close stops listening, sends unbind on every bind (waiting up to a
// second for the answers), closes every connection and waits for the
// server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := s.connList()
	s.mu.Unlock()
	err := s.ln.Close()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			c.unbind(ctx)
			c.close()
		})
	}
	wg.Wait()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := newConn(s, nc, int(s.connIDs.Add(1)))
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			c.readLoop()
			s.forget(c)
		})
	}
}

// connList returns the connections; s.mu must be held.
func (s *Server) connList() []*conn {
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if b, was := c.unbound(); was {
		s.notifyBinds()
		s.log.Info("bind ended", "id", b.ID, "system_id", b.SystemID, "kind", b.Kind)
		if s.cfg.OnBind != nil {
			s.cfg.OnBind(b)
		}
	}
}

// notifyBinds wakes WaitBound callers.
func (s *Server) notifyBinds() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Binds returns the bound connections.
func (s *Server) Binds() []Bind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bs []Bind
	for c := range s.conns {
		if b := c.bind(); b.Bound {
			bs = append(bs, b)
		}
	}
	return bs
}

// WaitBound waits until at least n binds that receive deliver_sm
// (transceiver or receiver) are up.
func (s *Server) WaitBound(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		have := 0
		for c := range s.conns {
			if b := c.bind(); b.Bound && b.Kind.receives() {
				have++
			}
		}
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("smsc: waiting for %d binds, have %d: %w", n, have, ctx.Err())
		}
	}
}

// DropConnections closes every connection at once, without unbind (a
// fault: the network or the SMSC went away). It returns how many it
// closed.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Binds: c.binds.Load(), BindsRefused: c.bindsRefused.Load(), Submits: c.submits.Load(),
		Accepted: c.accepted.Load(), Rejected: c.rejected.Load(), Withheld: c.withheld.Load(),
		Dropped: c.dropped.Load(), Delivers: c.delivers.Load(), DeliverFailed: c.deliverFailed.Load(),
		Receipts: c.receipts.Load(), Messages: c.messages.Load(), Stray: c.stray.Load(), BadPDUs: c.badPDUs.Load(),
	}
}

// checkAccount reports whether b may bind.
func (s *Server) checkAccount(b bindReq) smpp.CommandStatus {
	if len(s.cfg.Accounts) == 0 {
		return smpp.StatusOK
	}
	for _, a := range s.cfg.Accounts {
		if a.SystemID == b.SystemID {
			if a.Password == b.Password {
				return smpp.StatusOK
			}
			return smpp.StatusInvPaswd
		}
	}
	return smpp.StatusInvSysID
}

// pick returns a bound connection that receives deliver_sm, taking
// turns; systemID, if set, must match, and id, if set, names the
// connection.
func (s *Server) pick(systemID string, id int) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var cands []*conn
	for c := range s.conns {
		b := c.bind()
		if !b.Bound || !b.Kind.receives() || (systemID != "" && b.SystemID != systemID) || (id != 0 && b.ID != id) {
			continue
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return nil, ErrNotBound
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	// Map iteration order is random; sort by id so turns are fair.
	for i := 1; i < len(cands); i++ {
		for j := i; j > 0 && cands[j].id < cands[j-1].id; j-- {
			cands[j], cands[j-1] = cands[j-1], cands[j]
		}
	}
	return cands[int(s.rr.Add(1))%len(cands)], nil
}

// formatID writes a message id number in a form.
func formatID(n uint64, form string) string {
	if form == "hex" {
		return strconv.FormatUint(n, 16)
	}
	return strconv.FormatUint(n, 10)
}

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
		return net.ErrClosed
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
		return nil, 0, net.ErrClosed
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
		c.mu.Lock()
		cl := c.pending[h.Seq]
		if cl != nil && (cl.want == h.ID || h.ID == pdu.GenericNACKID) {
			delete(c.pending, h.Seq)
		} else {
			cl = nil
		}
		c.mu.Unlock()
		if cl != nil {
			cl.ch <- f
		} else {
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
