package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"golang.org/x/time/rate"
)

// Client is one configured SMSC connection: a transceiver bind, or a
// transmitter and a receiver bind, kept up until Close. Submit and Send
// are safe for concurrent use; they wait for a bind and a window slot with
// their context. Inbound deliver_sm and data_sm go to the Handler.
type Client struct {
	cfg      Config
	password string
	handler  Handler
	log      *slog.Logger
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	store    StatusStore
	limiter  *rate.Limiter
	sessions []*session              // guarded by mu once started
	tx       atomic.Pointer[session] // the session submits go on
	inq      chan inboundItem
	throttle throttle
	refs     atomic.Uint32 // concatenation references
	stats    counters

	mu        sync.Mutex
	started   bool
	closing   bool
	rxStopped bool          // StopReceiving ended the receiving bind
	active    int           // Submit/Send calls in progress
	idle      chan struct{} // closed when closing and active is 0

	closed chan struct{} // closed when Close gives up waiting for callers
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets the logger; the Client adds comp=smpp and bind=<name>.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithDialer replaces net.Dialer.DialContext, e.g. for TLS.
func WithDialer(d func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *Client) { c.dial = d }
}

// WithStatusStore makes Send record the SMSC message ids of messages that
// have a Ref, for receipts to be matched against.
func WithStatusStore(s StatusStore) Option { return func(c *Client) { c.store = s } }

// New validates cfg and returns a Client that is not started. A nil
// Handler answers every deliver_sm with ESME_RX_T_APPN, so the SMSC keeps
// them.
func New(cfg Config, h Handler, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring smsc %q: %w", cfg.Name, err)
	}
	if h == nil {
		h = HandlerFunc(func(context.Context, *Inbound) CommandStatus { return StatusXTAppn })
	}
	c := &Client{
		cfg:      cfg,
		password: cfg.password(),
		handler:  h,
		log:      slog.Default(),
		dial:     (&net.Dialer{}).DialContext,
		inq:      make(chan inboundItem, cfg.Inbound.Queue),
		idle:     make(chan struct{}),
		closed:   make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("comp", "smpp", "bind", cfg.Name)
	c.limiter = rate.NewLimiter(rate.Inf, 1)
	if cfg.TPS > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.TPS), 1)
	}
	c.refs.Store(rand.Uint32())
	if cfg.Bind == BindTXRX {
		c.sessions = []*session{newSession(c, roleTX), newSession(c, roleRX)}
	} else {
		c.sessions = []*session{newSession(c, roleTRX)}
	}
	c.tx.Store(c.sessions[0])
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Name returns the configured name of the bind.
func (c *Client) Name() string { return c.cfg.Name }

// Config returns the configuration the Client runs with.
func (c *Client) Config() Config { return c.cfg }

// Start starts binding in the background and returns at once; the
// Client keeps reconnecting until Close. Use WaitBound to wait for the
// first bind.
func (c *Client) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closing {
		return fmt.Errorf("starting smsc %q: already started or closed", c.cfg.Name)
	}
	c.started = true
	for _, s := range c.sessions {
		c.runSession(s)
	}
	for range c.cfg.Inbound.Workers {
		c.wg.Go(c.worker)
	}
	return nil
}

// WaitBound waits until every session of the Client is bound.
func (c *Client) WaitBound(ctx context.Context) error {
	for _, s := range c.sessions {
		if _, err := s.waitConn(ctx); err != nil {
			return fmt.Errorf("waiting for bind %s (%s): %w", c.cfg.Name, s.role, err)
		}
	}
	return nil
}

// Close stops taking new submits, waits for those in progress (until ctx
// ends), unbinds every session, stops the inbound workers and waits for
// every goroutine of the Client (until ctx ends). Inbound PDUs still
// queued are not answered; the SMSC delivers them again after a rebind.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	if c.active == 0 {
		close(c.idle)
	}
	c.mu.Unlock()

	select {
	case <-c.idle:
	case <-ctx.Done():
	}
	close(c.closed)
	c.cancel() // stops reconnecting and the workers
	c.mu.Lock()
	sessions := append([]*session(nil), c.sessions...)
	c.mu.Unlock()
	for _, s := range sessions {
		s.unbind(ctx)
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// A session may still be dialling; close whatever it has.
		for _, s := range sessions {
			if cn := s.current(); cn != nil {
				cn.close(errClosed)
			}
		}
		return fmt.Errorf("closing smsc %q: %w", c.cfg.Name, ctx.Err())
	}
}

// runSession keeps s bound until the Client closes or s.stop is called.
func (c *Client) runSession(s *session) {
	ctx, cancel := context.WithCancel(c.ctx)
	s.stop = cancel
	c.wg.Go(func() { s.run(ctx) })
}

// StopReceiving ends the Client's receiving bind, so that the SMSC sends
// new deliver_sm to another bind of the system_id (another instance of the
// bind group), while submits still go out: the transmitter of a tx+rx
// pair stays, and a transceiver is first joined by a transmitter bound for
// the purpose. It reports whether the receiving bind was ended: when no
// transmitter binds within the bind timeout the transceiver stays (the
// steps it took can still be answered on it) and Close ends it.
//
// Inbound PDUs that cross the unbind on the wire are still handed to the
// Handler and answered; submits in flight on the transceiver get their
// responses first (up to the response timeout).
func (c *Client) StopReceiving(ctx context.Context) (bool, error) {
	c.mu.Lock()
	if !c.started || c.closing || c.rxStopped {
		c.mu.Unlock()
		return c.rxStopped, nil
	}
	c.rxStopped = true
	var rx *session
	for _, s := range c.sessions {
		if s.role != roleTX {
			rx = s
		}
	}
	c.mu.Unlock()
	if rx.current() == nil {
		// Not bound (the SMSC is away): nothing comes in on it, and
		// nothing can go out on a new bind either; stop redialling.
		rx.stop()
		return true, nil
	}
	if rx.role == roleTRX {
		tx := newSession(c, roleTX)
		c.runSession(tx)
		bctx, cancel := context.WithTimeout(ctx, c.cfg.Timeouts.Bind)
		_, err := tx.waitConn(bctx)
		cancel()
		if err != nil {
			tx.stop()
			tx.unbind(ctx)
			c.mu.Lock()
			c.rxStopped = false
			c.mu.Unlock()
			return false, fmt.Errorf("binding a transmitter for %q so its transceiver can unbind: %w", c.cfg.Name, err)
		}
		c.mu.Lock()
		c.sessions = append(c.sessions, tx)
		c.mu.Unlock()
		c.tx.Store(tx)
	}
	rx.stop()
	if cn := rx.current(); cn != nil && rx.role == roleTRX {
		// Submits already on the transceiver get their responses before
		// the unbind; new ones go on the transmitter.
		deadline := time.Now().Add(c.cfg.Timeouts.Response)
		for cn.inFlight() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	rx.unbind(ctx)
	return true, nil
}

// enter registers a Submit/Send call; it fails once Close has begun.
func (c *Client) enter(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return &Error{Op: op, Bind: c.cfg.Name, Kind: KindClosed, Err: errClosed}
	}
	c.active++
	return nil
}

func (c *Client) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
	if c.closing && c.active == 0 {
		close(c.idle)
	}
}

// Status is a Client's health, for health checks and metrics.
type Status struct {
	Name     string
	Bound    bool // every session is bound
	Sessions []SessionStatus
	Waiting  int // callers waiting for a window slot
	Counters Counters
}

// Status returns the current state of the Client's binds and its counters.
func (c *Client) Status() Status {
	st := Status{Name: c.cfg.Name, Bound: true, Waiting: int(c.stats.waiting.Load()), Counters: c.stats.snapshot()}
	c.mu.Lock()
	sessions := append([]*session(nil), c.sessions...)
	c.mu.Unlock()
	for _, s := range sessions {
		ss := s.status()
		st.Bound = st.Bound && ss.State == StateBound
		st.Sessions = append(st.Sessions, ss)
	}
	return st
}

// inboundItem is a decoded deliver_sm/data_sm waiting for a worker.
type inboundItem struct {
	c  *conn
	h  pdu.Header
	in *Inbound
}

// onInbound runs on the read loop: it decodes the PDU and queues it, or
// answers at once when it cannot be decoded or the queue is full. It never
// blocks on the Handler.
func (c *Client) onInbound(cn *conn, h pdu.Header, body []byte) {
	c.stats.inbound.Add(1)
	in, err := decodeInbound(h, body)
	if err != nil {
		var de *decodeError
		status := StatusInvCmdLen
		if errors.As(err, &de) {
			status = de.Status
		}
		c.stats.badPDUs.Add(1)
		cn.log.Warn("undecodable pdu", "cmd", commandName(h.ID), "seq", h.Seq, "status", status, "err", err)
		_ = cn.respond(h.ID, h.Seq, status, []byte{0})
		return
	}
	in.Client, in.Received = c, time.Now()
	in.respond = func(st CommandStatus) error { return cn.respond(h.ID, h.Seq, st, []byte{0}) }
	select {
	case c.inq <- inboundItem{cn, h, in}:
	default:
		c.stats.inboundRejected.Add(1)
		cn.log.Debug("inbound queue full", "cmd", commandName(h.ID), "seq", h.Seq)
		_ = cn.respond(h.ID, h.Seq, StatusXTAppn, []byte{0})
	}
}

// worker calls the Handler for queued PDUs and writes their responses.
func (c *Client) worker() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case it := <-c.inq:
			status := c.callHandler(it.in)
			c.stats.tally.receipt(it.in, status)
			if err := it.in.Ack(status); err != nil {
				c.log.Debug("inbound response not sent", "cmd", commandName(it.h.ID), "seq", it.h.Seq, "err", err)
			}
		}
	}
}

func (c *Client) callHandler(in *Inbound) (status CommandStatus) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Inbound.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			c.stats.handlerPanics.Add(1)
			c.log.Error("handler panicked", "panic", r, "from", in.Source)
			status = StatusXTAppn
		}
	}()
	return c.handler.HandleInbound(ctx, in)
}
