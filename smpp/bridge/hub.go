// Package bridge joins the SMPP session layer (package smpp) to the
// gateway: USSD dialogues from a USSDC become steps of the session manager
// (package ussd) whose screens go back as submit_sm, MO SMS are reassembled
// and handed to the SMS router (package ussd/sms), delivery receipts go to
// the status store, and the flows' SMS (sms nodes, late results, replies)
// go out over the binds. It is a transport: it may import ussd, flows, the
// stores and the codecs; nothing below the transports may import it, and it
// must not import cmd/.
//
// A USSD dialogue is keyed in the session manager by the subscriber's
// MSISDN and an id made of the USSDC (the bind group) and the profile's
// session key (its_session_info masked, user_message_reference, or none).
// Sessions live in the store (Redis), so the next message of a dialogue
// may arrive on any bind of the group, or at another gateway instance.
//
// A USSD deliver_sm is acknowledged at once; the step then runs (bounded
// by the step timeout) and its screen leaves on the bind the deliver_sm
// came on, or another bound one of its group, without retry. A step that
// fails after the acknowledgement still answers: an END apology.
package bridge

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/kv"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/reassembly"
	"github.com/ussdgw/ussdgw/ussd"
)

// Sessions runs USSD steps; *ussd.Manager is one.
type Sessions interface {
	Handle(ctx context.Context, req ussd.Request) (ussd.Response, error)
	Abort(ctx context.Context, msisdn msisdn.MSISDN, sessionID string) error
}

// Router answers MO SMS; *sms.Router is one. An error means the message
// was not handled and the SMSC should deliver it again.
type Router interface {
	Handle(ctx context.Context, msisdn msisdn.MSISDN, text string) error
}

// Routes are where inbound traffic goes. A nil field refuses that traffic
// with ESME_RX_T_APPN (the SMSC keeps it).
type Routes struct {
	USSD Sessions
	SMS  Router
}

// Deps are what a Hub needs from the rest of the gateway.
type Deps struct {
	// KV is the team store (ussd.RedisStore or ussd.MemoryStore): delivery
	// status and the parts of concatenated MO live there. Required.
	KV kv.Store
	// StatusKV, if set, keeps the delivery status of MT SMS instead of KV.
	// The gateway gives it the same Redis without the session store's
	// USSD guard (a 300 ms deadline per command and a circuit breaker):
	// under a broadcast a status write that misses that deadline is a
	// receipt never matched, and it must not open the circuit that gives
	// USSD users the "unavailable" screen. The inbound handler's deadline
	// bounds it instead.
	StatusKV kv.Store
	// Prefix starts every key the Hub writes ("smpp:").
	Prefix string
	// StepTimeout bounds one USSD step from the acknowledgement to the
	// answer's submit_sm_resp: the session manager's step budget plus the
	// store and the submit (5s).
	StepTimeout time.Duration
	Log         *slog.Logger
	// Dial replaces net.Dialer.DialContext for every connection (TLS).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnReceipt, if set, hears the final delivery status of every MT SMS
	// sent with a ref (Deliver, SendSMS): delivered, or failed with the
	// receipt's stat and err as reason. It is called once the receipts of
	// all its parts are in; it may be called twice for one message (a
	// receipt racing the record of the send, or, for a one-part message
	// of Deliver, which keeps no status record when OnReceipt is set, a
	// final receipt the SMSC sent again), so it must be idempotent.
	// The outbox's Queue.Receipt is one.
	OnReceipt func(ctx context.Context, ref string, delivered bool, reason string)
	// ReceiptFor, if set, is given every final receipt, by the forms of
	// the SMSC id it names (the bind's receipt_ids convention, in IDKey's
	// form, as DeliverID answers them): the caller keeps the ids and the
	// receipts that come before them. known false: no message has that id
	// there (yet); the Hub then applies the receipt to a message of its own
	// records if one matches (sent by Deliver or SendSMS, or by an older
	// instance) and keeps nothing else. An error answers the receipt
	// ESME_RX_T_APPN, for the SMSC to send it again. The outbox's
	// Queue.ReceiptFor is one. With it set, MT SMS should go through
	// DeliverID: the Hub no longer keeps early receipts of its own.
	ReceiptFor func(ctx context.Context, smscIDs []string, delivered bool, reason string) (known bool, err error)
}

// Hub is the gateway's SMPP side: every configured connection, grouped
// by SMSC, and the handling of what they carry. It implements
// flows.Messenger (MT SMS) and smpp.Handler. Its methods are safe for
// concurrent use.
type Hub struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	clients  []*smpp.Client
	group    map[*smpp.Client]string
	profile  map[*smpp.Client]*smpp.USSDProfile
	logs     map[*smpp.Client]*slog.Logger
	pools    map[string]*smpp.Pool
	sms      *smpp.Pool
	status   *statusStore
	parts    *reassembly.MOParts
	receipts smpp.Handler

	routes atomic.Pointer[Routes]
	steps  chan struct{} // one token per USSD step in flight

	mu       sync.Mutex
	started  bool
	draining bool          // stopped receiving: MO is refused
	inflight int           // USSD steps acknowledged and not yet answered
	idle     chan struct{} // closed when inflight drops to 0, for waitSteps
	stats    counters
}

var (
	_ flows.Messenger = (*Hub)(nil)
	_ smpp.Handler    = (*Hub)(nil)
	// The team's stores are what Deps.KV takes.
	_ kv.Store = (*ussd.RedisStore)(nil)
	_ kv.Store = (*ussd.MemoryStore)(nil)
)

type counters struct {
	ussdSteps, ussdAborts, ussdFailed, ussdRefused, ussdDead atomic.Int64
	moIn, moHandled, moFailed, mtSent, mtFailed              atomic.Int64
}

// New validates cfg and builds the Hub's clients, not started.
func New(cfg Config, deps Deps) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.KV == nil {
		return nil, errors.New("smpp bridge: no store")
	}
	if deps.StepTimeout <= 0 {
		deps.StepTimeout = 5 * time.Second
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	h := &Hub{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Log.With("comp", "smpp"),
		group:   map[*smpp.Client]string{},
		profile: map[*smpp.Client]*smpp.USSDProfile{},
		logs:    map[*smpp.Client]*slog.Logger{},
		pools:   map[string]*smpp.Pool{},
		status:  &statusStore{KVStore: smpp.NewKVStore(cmp.Or(deps.StatusKV, deps.KV), deps.Prefix+"dlr:", cfg.SMS.ReceiptTTL)},
		parts:   reassembly.NewMOParts(deps.KV, deps.Prefix, cfg.MO.Reassembly),
		steps:   make(chan struct{}, cfg.USSD.MaxSteps),
	}
	h.receipts = smpp.Receipts(h.status, func(ctx context.Context, _ smpp.Receipt, st smpp.MessageStatus) {
		h.receipt(ctx, st)
	}, nil)
	if deps.ReceiptFor != nil {
		h.receipts = h.receiptsFor(h.receipts)
	}
	byGroup := map[string][]*smpp.Client{}
	var order []string
	for _, cc := range cfg.Connections {
		opts := []smpp.Option{smpp.WithLogger(deps.Log), smpp.WithStatusStore(h.status)}
		if deps.Dial != nil {
			opts = append(opts, smpp.WithDialer(deps.Dial))
		}
		c, err := smpp.New(cc, h, opts...)
		if err != nil {
			return nil, err
		}
		h.clients = append(h.clients, c)
		g := cc.GroupName()
		h.group[c] = g
		h.logs[c] = h.log.With("bind", cc.Name)
		if p, ok := cc.USSD.Resolve(); ok {
			h.profile[c] = &p
		}
		if byGroup[g] == nil {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], c)
	}
	for _, g := range order {
		p, err := smpp.NewPool(byGroup[g]...)
		if err != nil {
			return nil, err
		}
		h.pools[g] = p
	}
	h.sms = h.pools[cfg.smsGroup()]
	return h, nil
}

// Clients returns the connections in configuration order.
func (h *Hub) Clients() []*smpp.Client { return append([]*smpp.Client(nil), h.clients...) }

// Start sets where inbound traffic goes and starts binding every
// connection in the background.
func (h *Hub) Start(r Routes) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("smpp bridge: already started")
	}
	h.started = true
	h.routes.Store(&r)
	for i, c := range h.clients {
		if err := c.Start(); err != nil {
			for _, s := range h.clients[:i] {
				_ = s.Close(context.Background())
			}
			return err
		}
	}
	return nil
}

// WaitBound waits until every connection is bound.
func (h *Hub) WaitBound(ctx context.Context) error {
	for _, c := range h.clients {
		if err := c.WaitBound(ctx); err != nil {
			return err
		}
	}
	return nil
}

// StopReceiving is the first step of a graceful shutdown: every
// connection ends its receiving bind, so that the SMSC sends new USSD
// dialogues and MO to another bind of the system_id (another gateway
// instance of the bind group), while a transmitter stays bound for the
// answers of the steps already acknowledged (see smpp.Client.StopReceiving).
// From now on MO SMS are refused with ESME_RX_T_APPN (the SMSC delivers
// them again elsewhere); USSD messages that still arrive (they crossed the
// unbind, or a transceiver could not be replaced) are served as usual:
// refusing a step of an open dialogue fails it, and its session is in the
// store, so the step is answered like any other.
func (h *Hub) StopReceiving(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(h.clients))
	for i, c := range h.clients {
		wg.Go(func() {
			if _, err := c.StopReceiving(ctx); err != nil {
				errs[i] = err
				h.logs[c].Warn("receiving bind kept: its steps are answered on it and it unbinds last", "err", err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Drain stops receiving (StopReceiving) and waits, until ctx ends, for the
// USSD steps in flight to send their answers. The transmitting binds stay
// up, so that late results can still go out as SMS; Close ends them.
func (h *Hub) Drain(ctx context.Context) error {
	h.mu.Lock()
	stopped := h.draining
	h.mu.Unlock()
	var err error
	if !stopped {
		err = h.StopReceiving(ctx)
	}
	if werr := h.waitSteps(ctx); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// Steps returns the number of USSD steps acknowledged and not yet answered.
func (h *Hub) Steps() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inflight
}

// waitSteps waits until no USSD step is in flight, or ctx ends.
func (h *Hub) waitSteps(ctx context.Context) error {
	h.mu.Lock()
	if h.inflight == 0 {
		h.mu.Unlock()
		return nil
	}
	if h.idle == nil {
		h.idle = make(chan struct{})
	}
	idle := h.idle
	n := h.inflight
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("answering ussd steps (%d in flight): %w", n, ctx.Err())
	}
}

// Close drains, then unbinds every connection (until ctx ends).
func (h *Hub) Close(ctx context.Context) error {
	err := h.Drain(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(h.clients))
	for i, c := range h.clients {
		wg.Go(func() { errs[i] = c.Close(ctx) })
	}
	wg.Wait()
	return errors.Join(append(errs, err)...)
}

// HandleInbound implements smpp.Handler: receipts to the status store,
// USSD to the session manager, the rest to the SMS router.
func (h *Hub) HandleInbound(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
	if in.IsReceipt() {
		return h.receipts.HandleInbound(ctx, in)
	}
	r := h.routes.Load()
	if r == nil {
		return smpp.StatusXTAppn
	}
	if p := h.profile[in.Client]; p != nil && p.IsUSSD(in) {
		return h.ussd(ctx, in, p, r.USSD)
	}
	h.mu.Lock()
	draining := h.draining
	h.mu.Unlock()
	if draining {
		return smpp.StatusXTAppn // MO: the SMSC delivers it again, to another instance
	}
	if _, ok := in.TLVs[smpp.TagUssdServiceOp]; ok {
		h.clientLog(in).Warn("ussd message on a bind without a ussd profile refused", "from", msisdn.MSISDN(in.Source.Addr))
		return smpp.StatusXRAppn
	}
	return h.mo(ctx, in, r.SMS)
}

// ussd handles one USSD message: an abort at once, a step after the
// acknowledgement.
func (h *Hub) ussd(ctx context.Context, in *smpp.Inbound, p *smpp.USSDProfile, s Sessions) smpp.CommandStatus {
	log := h.clientLog(in)
	if s == nil {
		return smpp.StatusXTAppn
	}
	m, err := p.Parse(in)
	if err != nil {
		var ue *smpp.USSDError
		status := smpp.StatusXPAppn
		if errors.As(err, &ue) {
			status = ue.Status
		}
		log.Warn("malformed ussd message", "from", msisdn.MSISDN(in.Source.Addr), "status", status, "err", err)
		return status
	}
	sid := m.SessionID(h.group[in.Client])
	switch m.Kind {
	case smpp.USSDAbort:
		h.stats.ussdAborts.Add(1)
		if err := s.Abort(ctx, msisdn.MSISDN(m.MSISDN), sid); err != nil {
			log.Warn("ussd abort not recorded", "from", msisdn.MSISDN(m.MSISDN), "err", err)
			return smpp.StatusXTAppn
		}
		return smpp.StatusOK
	case smpp.USSDNotice:
		return smpp.StatusOK
	}
	select {
	case h.steps <- struct{}{}:
	default:
		h.stats.ussdRefused.Add(1)
		log.Warn("too many ussd steps in flight; refusing one", "max_steps", cap(h.steps))
		return smpp.StatusXTAppn
	}
	h.mu.Lock()
	h.inflight++
	h.mu.Unlock()
	if err := in.Ack(smpp.StatusOK); err != nil {
		log.Debug("ussd deliver_sm_resp not sent", "err", err)
	}
	go h.step(in, p, m, sid, s)
	return smpp.StatusOK
}

// step runs one USSD step and submits its screen. It runs after the
// deliver_sm was acknowledged, so it always answers: with the step's
// screen, or an END apology when the step failed.
func (h *Hub) step(in *smpp.Inbound, p *smpp.USSDProfile, m smpp.USSDMessage, sid string, s Sessions) {
	defer func() {
		<-h.steps
		h.mu.Lock()
		h.inflight--
		if h.inflight == 0 && h.idle != nil {
			close(h.idle)
			h.idle = nil
		}
		h.mu.Unlock()
	}()
	h.stats.ussdSteps.Add(1)
	log := h.clientLog(in)
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.StepTimeout)
	defer cancel()
	req := ussd.Request{SessionID: sid, MSISDN: msisdn.MSISDN(m.MSISDN), New: m.Kind == smpp.USSDOpen,
		Dialled: m.Dialled, Input: m.Input}
	if p.MaxOctets > 0 && p.MaxOctets < 160 {
		req.Limit = gsm.Limit{Octets: p.MaxOctets}
	}
	resp, err := h.run(ctx, s, req)
	if err != nil {
		h.stats.ussdFailed.Add(1)
		if errors.Is(err, ussd.ErrUnavailable) { // the store logs its outage once, not per step
			log.Debug("ussd step refused: session store unavailable", "from", msisdn.MSISDN(m.MSISDN))
		} else {
			log.Warn("ussd step failed; answering with its apology", "from", msisdn.MSISDN(m.MSISDN), "err", err)
		}
	}
	if resp.Text == "" {
		resp = ussd.Response{Text: h.cfg.USSD.Apology, End: true}
	}
	sm := p.Answer(in, &m, resp.Text, resp.End)
	_, err = h.pools[h.group[in.Client]].Submit(ctx, in.Client, sm, smpp.NoRetry())
	if err == nil {
		return
	}
	if st, ok := smpp.StatusOf(err); ok {
		// The USSDC refused the screen: the dialogue is gone on its side
		// (the user hung up, its timer ran out). Its end, not ours: the
		// next dial offers to resume.
		h.stats.ussdDead.Add(1)
		log.Debug("ussd answer refused: dialogue ended by the network", "from", msisdn.MSISDN(m.MSISDN), "status", st)
		if !resp.End {
			if err := s.Abort(ctx, req.MSISDN, sid); err != nil {
				log.Debug("ussd abort not recorded", "err", err)
			}
		}
		return
	}
	h.stats.ussdFailed.Add(1)
	log.Warn("ussd answer not sent", "from", msisdn.MSISDN(m.MSISDN), "err", err)
}

// run calls the session manager, turning a panic into an error.
func (h *Hub) run(ctx context.Context, s Sessions, req ussd.Request) (resp ussd.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = ussd.Response{}, fmt.Errorf("ussd step panicked: %v", r)
		}
	}()
	return s.Handle(ctx, req)
}

// mo handles one MO SMS part: reassembled in the store, the whole message
// routed, and only then accepted.
func (h *Hub) mo(ctx context.Context, in *smpp.Inbound, r Router) smpp.CommandStatus {
	log := h.clientLog(in)
	if r == nil {
		return smpp.StatusXTAppn
	}
	h.stats.moIn.Add(1)
	m, err := h.parts.Add(ctx, in)
	switch {
	case errors.Is(err, reassembly.ErrBadUDH):
		log.Warn("mo with a malformed header refused", "from", msisdn.MSISDN(in.Source.Addr), "err", err)
		return smpp.StatusXPAppn
	case errors.Is(err, ussd.ErrUnavailable): // the store logs its outage once
		return smpp.StatusXTAppn
	case err != nil:
		log.Warn("mo part not stored", "from", msisdn.MSISDN(in.Source.Addr), "err", err)
		return smpp.StatusXTAppn
	case m == nil:
		return smpp.StatusOK // a part; the message completes with the last one
	}
	switch {
	case !m.Decoded:
		log.Debug("binary mo dropped", "from", msisdn.MSISDN(m.Source.Addr), "dc", m.DataCoding)
	case m.Source.Addr == "":
		log.Warn("mo without a source address dropped")
	default:
		if err := r.Handle(ctx, msisdn.MSISDN(m.Source.Addr), m.Text); err != nil {
			h.stats.moFailed.Add(1)
			if errors.Is(err, ussd.ErrUnavailable) {
				log.Debug("mo not handled while the session store is unavailable; the smsc will deliver it again", "from", msisdn.MSISDN(m.Source.Addr))
			} else {
				log.Warn("mo not handled; the smsc will deliver it again", "from", msisdn.MSISDN(m.Source.Addr), "err", err)
			}
			return smpp.StatusXTAppn
		}
		h.stats.moHandled.Add(1)
	}
	if err := h.parts.Done(ctx, m); err != nil {
		log.Warn("reassembled mo not forgotten", "err", err)
	}
	return smpp.StatusOK
}

func (h *Hub) clientLog(in *smpp.Inbound) *slog.Logger {
	if l := h.logs[in.Client]; l != nil {
		return l
	}
	return h.log
}

// Send implements flows.Messenger: it sends text as an MT SMS to msisdn
// and returns once the SMSC accepted every part (submit_sm_resp), not on
// delivery.
func (h *Hub) Send(ctx context.Context, msisdn, text string) error {
	_, err := h.SendSMS(ctx, msisdn, text)
	return err
}

// SendSMS sends text as an MT SMS to msisdn on the SMS group and returns
// the reference its delivery status is kept under (see Lookup).
func (h *Hub) SendSMS(ctx context.Context, msisdn, text string) (ref string, err error) {
	ref = newRef()
	if err := h.deliver(ctx, msisdn, text, ref, false); err != nil {
		return "", err
	}
	return ref, nil
}

// Deliver sends text as an MT SMS to msisdn on the SMS group, keeping its
// delivery status under ref (the outbox's message id), and returns once
// the SMSC accepted every part. It is the outbox's Sender. An error is
// an *smpp.Error when the SMSC or the binds failed (smpp.IsRetryable
// tells whether to try again); once every part is accepted it returns
// nil even when the status could not be recorded, so that a retry does
// not send the message twice.
//
// With Deps.OnReceipt set, the caller keeps the message's status (the
// outbox does): a message of one part then has no status record of its
// own (Lookup does not know it), only its SMSC id, and its receipts go to
// OnReceipt.
func (h *Hub) Deliver(ctx context.Context, to, text, ref string) error {
	return h.deliver(ctx, to, text, ref, h.deps.OnReceipt != nil)
}

// DeliverID implements outbox.IDSender: it is Deliver, but the message
// leaves no record here: it answers the SMSC ids of its parts (IDKey's
// form), by which the caller matches the receipts (Deps.ReceiptFor), in
// the same step as it records the send. Without Deps.ReceiptFor it is
// Deliver, and answers none.
func (h *Hub) DeliverID(ctx context.Context, to, text, ref string) ([]string, error) {
	if h.deps.ReceiptFor == nil {
		return nil, h.Deliver(ctx, to, text, ref)
	}
	e := h.status.track(ref, true)
	defer h.status.done(ref)
	if _, err := h.send(ctx, to, text, ref); err != nil {
		return nil, err
	}
	return e.ids, nil
}

// send sends an MT SMS under ref; nil once the SMSC accepted every part,
// and recorded false when its status could not be recorded then.
func (h *Hub) send(ctx context.Context, to, text, ref string) (recorded bool, err error) {
	res, err := h.sms.Send(ctx, smpp.Message{Src: h.cfg.SMS.Source, Dst: to, Text: text, Ref: ref})
	if err != nil && (res.Segments == 0 || len(res.IDs) < res.Segments) {
		h.stats.mtFailed.Add(1)
		return false, fmt.Errorf("sending sms: %w", err)
	}
	h.stats.mtSent.Add(1)
	if err != nil {
		h.log.Warn("sms sent but its delivery status not recorded", "to", msisdn.MSISDN(to), "ref", msisdn.Text(ref), "err", err)
		return false, nil
	}
	return true, nil
}

func (h *Hub) deliver(ctx context.Context, to, text, ref string, refOnly bool) error {
	var early *refSend
	if refOnly {
		early = h.status.track(ref, false)
		defer h.status.done(ref)
	}
	if recorded, err := h.send(ctx, to, text, ref); !recorded {
		return err
	}
	switch {
	case early != nil && early.recorded:
		if early.receipt != nil { // it came before the id was recorded
			h.receipt(ctx, smpp.MessageStatus{Ref: ref, Parts: []smpp.PartStatus{{ID: early.receipt.ID, Receipt: true,
				State: early.receipt.State, Err: early.receipt.Err, NetError: early.receipt.NetworkError, Done: early.receipt.Done}}})
		}
	case h.deps.OnReceipt != nil:
		// A receipt that came before the ids were recorded was applied by
		// the store without a callback: look.
		if st, ok, err := h.status.Lookup(ctx, ref); err == nil && ok {
			h.receipt(ctx, st)
		}
	}
	return nil
}

// statusStore is the Hub's smpp.StatusStore: a KVStore, where the
// messages Deliver sends for a caller that keeps their status record
// their SMSC id only (KVStore.SentRef): one write instead of a status
// record, its read after the send and its update per receipt.
type statusStore struct {
	*smpp.KVStore
	sends sync.Map // ref -> *refSend: Deliver under way, ids only
}

// refSend is one such Deliver (or DeliverID); the client's Send calls
// Sent on the same goroutine, before Deliver reads it.
type refSend struct {
	idOnly   bool          // DeliverID's: nothing recorded, the ids kept in ids
	ids      []string      // the parts' SMSC ids (IDKey), for DeliverID
	recorded bool          // by SentRef
	receipt  *smpp.Receipt // one that came first
}

func (s *statusStore) track(ref string, idOnly bool) *refSend {
	e := &refSend{idOnly: idOnly}
	s.sends.Store(ref, e)
	return e
}

func (s *statusStore) done(ref string) { s.sends.Delete(ref) }

// Sent implements smpp.StatusStore.
func (s *statusStore) Sent(ctx context.Context, ref string, ids []string) error {
	v, ok := s.sends.Load(ref)
	if ok && v.(*refSend).idOnly {
		e := v.(*refSend)
		e.ids = make([]string, len(ids))
		for i, id := range ids {
			e.ids[i] = smpp.IDKey(id)
		}
		return nil
	}
	if !ok || len(ids) != 1 { // a message of several parts keeps its record: it is delivered when all are
		return s.KVStore.Sent(ctx, ref, ids)
	}
	e := v.(*refSend)
	r, err := s.SentRef(ctx, ref, ids[0])
	if err != nil {
		return err
	}
	e.recorded, e.receipt = true, r
	return nil
}

// receipt passes a message's final status to Deps.OnReceipt.
func (h *Hub) receipt(ctx context.Context, st smpp.MessageStatus) {
	if h.deps.OnReceipt == nil || st.Ref == "" {
		return
	}
	if final, delivered, reason := outcome(st); final {
		h.deps.OnReceipt(ctx, st.Ref, delivered, reason)
	}
}

// outcome tells whether a message's status is final, and if so whether
// it was delivered, or why not (the first failed part's state and err).
func outcome(st smpp.MessageStatus) (final, delivered bool, reason string) {
	switch st.Delivery() {
	case smpp.DeliveryDelivered:
		return true, true, ""
	case smpp.DeliveryFailed, smpp.DeliveryUnknown:
		reason := string(st.Delivery())
		for _, p := range st.Parts {
			if p.Receipt && p.State != smpp.MsgDelivered {
				reason = p.State.String()
				if p.Err != "" {
					reason += " err:" + p.Err
				}
				break
			}
		}
		return true, false, reason
	}
	return false, false, ""
}

// receiptsFor handles receipts when Deps.ReceiptFor is set: a final
// receipt goes to ReceiptFor; one it does not know, or an intermediate
// one, is applied to a message of the Hub's own records if one matches,
// and is not kept otherwise (ReceiptFor keeps the final ones). Every other
// PDU, and an unparsable receipt, goes to next.
func (h *Hub) receiptsFor(next smpp.Handler) smpp.Handler {
	return smpp.HandlerFunc(func(ctx context.Context, in *smpp.Inbound) smpp.CommandStatus {
		if !in.IsReceipt() {
			return next.HandleInbound(ctx, in)
		}
		r, err := smpp.ParseReceipt(in)
		if err != nil {
			return next.HandleInbound(ctx, in)
		}
		log := h.clientLog(in)
		st := smpp.MessageStatus{Parts: []smpp.PartStatus{{ID: r.ID, Receipt: true, State: r.State, Err: r.Err,
			NetError: r.NetworkError, Done: r.Done}}}
		if final, delivered, reason := outcome(st); final && !r.Intermediate {
			known, err := h.deps.ReceiptFor(ctx, r.Match.Keys(r.ID), delivered, reason)
			switch {
			case err != nil:
				log.Warn("receipt not recorded; the smsc will send it again", "id", r.ID, "err", err)
				return smpp.StatusXTAppn
			case known:
				return smpp.StatusOK
			}
		}
		st, ok, err := h.status.ApplyKnown(ctx, r)
		switch {
		case err != nil:
			log.Warn("receipt not stored", "id", r.ID, "err", err)
			return smpp.StatusXTAppn
		case ok:
			h.receipt(ctx, st)
		}
		return smpp.StatusOK
	})
}

// Lookup returns the delivery status of the MT SMS sent under ref, and
// false when it is unknown (or expired).
func (h *Hub) Lookup(ctx context.Context, ref string) (smpp.MessageStatus, bool, error) {
	return h.status.Lookup(ctx, ref)
}

func newRef() string {
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Health describes every bind and the Hub's counters, for /healthz:
// {"bound": 2, "binds": 2, "connections": [...], "counters": {...}}.
// Addresses of subscribers never appear in it.
func (h *Hub) Health(context.Context) map[string]any {
	var conns []map[string]any
	bound := 0
	for _, c := range h.clients {
		st := c.Status()
		if st.Bound {
			bound++
		}
		var sessions []map[string]any
		for _, s := range st.Sessions {
			ss := map[string]any{"role": s.Role, "state": string(s.State), "since": s.Since.UTC().Format(time.RFC3339),
				"binds": s.Binds, "drops": s.Drops, "in_flight": s.InFlight}
			if s.LastError != "" {
				ss["last_error"] = s.LastError
				ss["error_at"] = s.ErrorAt.UTC().Format(time.RFC3339)
			}
			sessions = append(sessions, ss)
		}
		conn := map[string]any{"name": st.Name, "group": h.group[c], "bound": st.Bound, "sessions": sessions,
			"submit_ok": st.Counters.SubmitOK, "submit_failed": st.Counters.SubmitFailed,
			"inbound": st.Counters.Inbound, "throttled": st.Counters.Throttled}
		if p := h.profile[c]; p != nil {
			conn["ussd"] = p.Name
		}
		conns = append(conns, conn)
	}
	return map[string]any{
		"bound": bound, "binds": len(h.clients), "connections": conns,
		"counters": map[string]int64{
			"ussd_steps": h.stats.ussdSteps.Load(), "ussd_aborts": h.stats.ussdAborts.Load(),
			"ussd_failed": h.stats.ussdFailed.Load(), "ussd_refused": h.stats.ussdRefused.Load(),
			"ussd_dead": h.stats.ussdDead.Load(), "mo": h.stats.moIn.Load(), "mo_handled": h.stats.moHandled.Load(),
			"mo_failed": h.stats.moFailed.Load(), "mt_sent": h.stats.mtSent.Load(), "mt_failed": h.stats.mtFailed.Load(),
		},
	}
}
