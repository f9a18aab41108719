package smsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/reassembly"
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

// errConnGone: the connection closed (or was closing) before a PDU was
// queued on it, so nothing of it was sent: a deliver_sm goes to another
// bind. It is a net.ErrClosed.
var errConnGone = fmt.Errorf("smsc: the connection closed before the pdu was sent: %w", net.ErrClosed)

// ErrNotBound is returned when no bind can take a deliver_sm.
var ErrNotBound = errors.New("smsc: no receiving bind")

// ErrClosed is returned once the Server is closed.
var ErrClosed = errors.New("smsc: server closed")

// Server is a running SMSC. Build it with Start; it serves until Close.
type Server struct {
	cfg     Config
	ln      net.Listener
	log     *slog.Logger
	re      *reassembly.Reassembler
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

	afterPick func(*conn) // tests: runs between a deliver_sm's pick and its send
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
		re:       reassembly.NewReassembler(cfg.ReassemblyTimeout, 100000),
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
