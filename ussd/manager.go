// Package ussd runs USSD sessions: it turns a transport's request (a
// dialled code, a reply) into a step of the right flow, with the session
// loaded from and saved to a Store so that any gateway instance can serve
// the next step. It knows no transport: gateway/ (HTTP) and smpp/ call it.
// It must not import a transport (gateway, smpp, api): they call it; below
// it are flows, the stores and the codecs.
//
// A session is keyed by the subscriber's MSISDN (a phone has one USSD
// dialogue at a time) and carries the transport's session id, so a message
// of an older dialogue is told apart. Steps are atomic: the new state is
// written only if the stored state is still the one the step started from,
// so two instances, or a retried request, never both advance a session.
package ussd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/limits"
	"github.com/ussdgw/ussdgw/msisdn"
)

// Config configures a Manager. Zero durations take the defaults.
type Config struct {
	Store    Store
	Flows    *flows.Set
	Adapters flows.Caller
	// SessionTimeout is how long a session lives without a step (180 s).
	SessionTimeout time.Duration
	// ResumeWindow is how long after a session timed out or was cut the
	// next dial offers to continue it (5 min); negative disables resume.
	ResumeWindow time.Duration
	// StepBudget bounds one step, adapter calls included (4 s); a slower
	// adapter takes its flow's timeout branch.
	StepBudget time.Duration
	// ProfileTTL is how long a user's language is remembered (365 days).
	ProfileTTL time.Duration
	// UnknownService is the answer to a code no service has.
	UnknownService string
	// SMS sends flows' messages (sms nodes, late results); nil: none.
	SMS flows.Messenger
	// LateTimeout bounds a late adapter call whose result goes by SMS
	// after its step timed out (60 s).
	LateTimeout time.Duration
	// Channel separates the sessions of another channel from USSD ones
	// ("sms" for reply-driven menus over SMS): its keys get the suffix.
	Channel string
	// Limit is the screen size of the channel (zero: the flow's, a USSD
	// screen).
	Limit gsm.Limit
	// Consent is the consent registry the flows' subscribe, unsubscribe
	// and subscriptions nodes use (a *consent.Registry); nil: those nodes
	// take their error branch.
	Consent flows.Consent
	// MaxInput bounds a free-text answer in characters (0: the engine's
	// default, flows.DefaultMaxInput; negative: only the nodes' own).
	MaxInput int
	// Limiter admits or refuses each message of a number before its step
	// (a deny-list, per-number rates); nil admits all. *limits.Redis and
	// *limits.Memory are ones.
	Limiter Limiter
	// Observe, when set, is told about every step once it is answered
	// (metrics: observe.go).
	Observe func(context.Context, Step)
	// Analytics, when set, counts what sessions do (entries, choices,
	// exits per node and day), written with each session save; the Store
	// must be a Counter (analytics.go).
	Analytics Analytics
	// Refresh, when set, is asked for the flows again when a session's
	// flow version is neither loaded nor kept (see versions.go): it may
	// reload them (rate-limited by the caller) and returns the set now
	// loaded, or nil.
	Refresh func(context.Context) *flows.Set
	Now     func() time.Time
	Log     *slog.Logger
}

// Limiter is the check a message passes before it is served.
type Limiter interface {
	// Admit judges one message of msisdn; dial marks the first message of
	// a session. On an error the message is served (a limiter that cannot
	// count must not take the service down).
	Admit(ctx context.Context, msisdn string, dial bool) (limits.Verdict, error)
	// IsDenied reports whether msisdn is on the deny-list.
	IsDenied(ctx context.Context, msisdn string) (bool, error)
}

// Defaults.
const (
	DefaultSessionTimeout = 180 * time.Second
	DefaultResumeWindow   = 5 * time.Minute
	DefaultStepBudget     = 4 * time.Second
	DefaultProfileTTL     = 365 * 24 * time.Hour
	// endedTTL keeps an ended session so that a retried last step is
	// answered the same.
	endedTTL = time.Minute
	// saveTimeout bounds saving a step's result once its caller is gone.
	saveTimeout = 3 * time.Second
)

// Manager runs steps of USSD sessions. It is safe for concurrent use.
type Manager struct {
	cfg      Config
	flows    atomic.Pointer[flows.Set]
	versions versions // flow versions replaced by reloads (versions.go)
	log      *slog.Logger
	// limitErrs bounds the log lines of a failing limiter.
	limitErrs *rate.Limiter
	late      sync.WaitGroup
	slots     chan struct{} // bounds late work in flight
	analytics Analytics     // nil: off
	counter   Counter       // cfg.Store, when analytics is on
}

// maxLate bounds the late adapter calls in flight: past it a late result
// is given up (and logged) rather than letting goroutines pile up behind a
// dead back-end.
const maxLate = 1024

// NewManager returns a Manager; cfg.Store and cfg.Flows are required.
func NewManager(cfg Config) *Manager {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.ResumeWindow < 0 {
		cfg.ResumeWindow = 0
	} else if cfg.ResumeWindow == 0 {
		cfg.ResumeWindow = DefaultResumeWindow
	}
	if cfg.StepBudget <= 0 {
		cfg.StepBudget = DefaultStepBudget
	}
	if cfg.ProfileTTL <= 0 {
		cfg.ProfileTTL = DefaultProfileTTL
	}
	if cfg.UnknownService == "" {
		cfg.UnknownService = "Unknown service code. Please check the number and dial again."
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LateTimeout <= 0 {
		cfg.LateTimeout = time.Minute
	}
	m := &Manager{cfg: cfg, log: cfg.Log.With("comp", "ussd"), slots: make(chan struct{}, maxLate),
		limitErrs: rate.NewLimiter(rate.Every(10*time.Second), 1)}
	m.flows.Store(cfg.Flows)
	if cfg.Analytics != nil { // analytics
		if c, ok := cfg.Store.(Counter); ok {
			m.analytics, m.counter = cfg.Analytics, c
		} else {
			m.log.Warn("analytics off: the session store cannot keep counters", "store", fmt.Sprintf("%T", cfg.Store))
		}
	}
	return m
}

// Flows returns the services being served.
func (m *Manager) Flows() *flows.Set { return m.flows.Load() }

// SetFlows swaps in a new set of services (a reload). New sessions get
// it; sessions in progress finish on the flow version they began with,
// kept meanwhile (versions.go).
func (m *Manager) SetFlows(s *flows.Set) {
	old := m.flows.Swap(s)
	m.versions.retire(old, s, m.cfg.Now(), m.cfg.SessionTimeout+m.cfg.ResumeWindow)
}

// Request is one message of a USSD dialogue from a transport.
type Request struct {
	SessionID string // the transport's id of the dialogue
	MSISDN    msisdn.MSISDN
	// Dialled is the string the user dialled (*384*1*2#): required on the
	// first message; HTTP aggregators send it on every message.
	Dialled string
	// New marks the first message of a dialogue when the transport knows
	// it (SMPP's PSSR indication). Otherwise an unknown SessionID is new.
	New bool
	// Service opens a service by id instead of by a dialled code (an SMS
	// keyword); Shortcut are inputs to apply after it opens.
	Service  string
	Shortcut []string
	// Input is the user's reply, for transports that send one reply per
	// message (SMPP).
	Input string
	// Text is the cumulative text of aggregators such as Africa's Talking:
	// every input so far joined by "*". Set Cumulative to use it.
	Text       string
	Cumulative bool
	// Seq numbers the messages of a dialogue when the transport does (one
	// more per message; Hubtel's Sequence): a message numbered no later
	// than the last one applied is a retry and gets the screen the session
	// is on instead of being applied twice. Zero: not numbered.
	Seq int
	// Limit is the screen size of this transport or operator when it is
	// smaller than the flow's (zero: the flow's).
	Limit gsm.Limit

	start time.Time // when Handle took it (analytics' step latency)
}

// Response is what to show the user.
type Response struct {
	Text    string
	End     bool
	Service string // the flow id, when known
	Lang    string
	// Refused is limits.Limited or limits.Denied when the message was not
	// served (Text is the "try again later" or "unavailable" words); a
	// denied number gets no SMS.
	Refused limits.Verdict
}

func (m *Manager) sessionKey(msisdn msisdn.MSISDN) string {
	if m.cfg.Channel != "" {
		return "s:{" + string(msisdn) + "}:" + m.cfg.Channel
	}
	return "s:{" + string(msisdn) + "}"
}

// profileKey is shared by every channel: a language chosen over USSD is
// the user's language over SMS too.
func profileKey(msisdn msisdn.MSISDN) string { return "p:{" + string(msisdn) + "}" }

func (m *Manager) resumeKey(msisdn msisdn.MSISDN, service string) string {
	return "r:{" + string(msisdn) + "}:" + m.cfg.Channel + ":" + service
}

// Language returns the language remembered for msisdn, or "".
func (m *Manager) Language(ctx context.Context, msisdn msisdn.MSISDN) (string, error) {
	vals, err := m.cfg.Store.Get(ctx, profileKey(msisdn))
	if err != nil {
		return "", fmt.Errorf("loading profile: %w", err)
	}
	return string(vals[0]), nil
}

// Handle runs one step. On a failure of the store it still returns a
// Response to show (an apology that ends the session) with the error.
func (m *Manager) Handle(ctx context.Context, req Request) (resp Response, err error) {
	req.start = time.Now()
	defer m.observe(ctx, req, req.start, &resp, &err)
	if req.MSISDN == "" || req.SessionID == "" {
		return Response{Text: m.cfg.UnknownService, End: true}, errors.New("ussd: request without msisdn or session id")
	}
	cleanText(&req)
	set := m.flows.Load()
	var routed *flows.Flow
	var shortcut []string
	switch {
	case req.Service != "":
		routed, _ = set.Flow(req.Service)
		shortcut = req.Shortcut
	case req.Dialled != "":
		routed, shortcut, _ = set.Route(req.Dialled)
	}
	keys := []string{m.sessionKey(req.MSISDN), profileKey(req.MSISDN)}
	if routed != nil {
		keys = append(keys, m.resumeKey(req.MSISDN, routed.ID))
	}
	vals, err := m.cfg.Store.Get(ctx, keys...)
	if err != nil {
		return m.unavailable(routed, ""), fmt.Errorf("loading session: %w", err)
	}
	var cur *Session
	if vals[0] != nil {
		if cur, err = decodeSession(vals[0]); err != nil {
			m.log.Warn("dropping an unreadable session", "msisdn", req.MSISDN, "err", err)
			cur = nil
		}
	}
	// A session that ended is only kept for retries of its last step, which
	// only cumulative-text transports can tell apart from a new message.
	// (Numbered messages tell them apart too.)
	ended := cur != nil && cur.Status == StatusEnded && !req.Cumulative && req.Seq == 0
	continuing := cur != nil && cur.ID == req.SessionID && !req.New && !ended
	// A numbered first message already applied: the aggregator retried
	// the dial, which is answered, not begun again.
	continuing = continuing || (req.New && req.Seq > 0 && cur != nil && cur.ID == req.SessionID && req.Seq <= cur.Seq &&
		(cur.Status == StatusActive || cur.Status == StatusOffered))
	if resp, refused := m.admit(ctx, set, req, routed, cur, string(vals[1]), !continuing && routed != nil); refused {
		return resp, nil
	}
	if continuing {
		return m.continueSession(ctx, set, req, cur, vals[0])
	}
	// A later hop of a dialogue the store no longer has (Redis lost it,
	// or it expired) from a transport whose text carries every input so
	// far: the session is rebuilt by replaying them from the start, rather
	// than showing the main menu as if nothing had been typed.
	replay := req.Cumulative && req.Text != "" && !req.New && routed != nil
	if replay && len(shortcut) == 0 && !carries(req.Dialled, req.Text) {
		shortcut = strings.Split(req.Text, "*")
	}
	if routed == nil {
		// Service is left empty: the caller can tell "no such service or
		// session" apart from a flow's answer.
		first := req.New || (req.Cumulative && req.Text == "")
		if req.Dialled == "" && req.Service == "" && !first {
			// A reply to a session the store no longer has (it expired,
			// or Redis restarted): not an unknown code.
			return Response{Text: m.expired(string(vals[1])), End: true}, nil
		}
		return Response{Text: m.cfg.UnknownService, End: true}, nil
	}
	var resume []byte
	if len(vals) > 2 {
		resume = vals[2]
	}
	return m.begin(ctx, req, routed, shortcut, replay, cur, vals[0], string(vals[1]), resume)
}

// sentBefore stands in for the SMS route while a dialogue is replayed: the
// messages of the steps replayed were sent when the user took them.
type sentBefore struct{}

func (sentBefore) Send(context.Context, string, string) error { return nil }

// carries reports whether the dialled string already holds text as
// shortcut inputs (*500*1*2# for text 1*2), so that routing applied them.
func carries(dialled, text string) bool {
	return strings.HasSuffix(strings.TrimSuffix(dialled, "#"), "*"+text)
}

// cleanText makes what the user sent valid UTF-8 before anything reads
// it: invalid bytes become U+FFFD, so a saved answer shown back later is
// never raw bytes in a response labelled UTF-8.
func cleanText(req *Request) {
	clean := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	req.Input, req.Text, req.Dialled = clean(req.Input), clean(req.Text), clean(req.Dialled)
	for i, s := range req.Shortcut {
		if !utf8.ValidString(s) {
			req.Shortcut = append([]string(nil), req.Shortcut...) // the caller's slice stays as it was
			req.Shortcut[i] = clean(s)
		}
	}
}

// expired is the "session expired" text in lang, from any service that
// has lang (English otherwise).
func (m *Manager) expired(lang string) string {
	return m.label(flows.LabelExpired, lang, "Your session has expired. Please dial again.")
}

// label is one of the engine's words in lang from any service that has
// lang, else def.
func (m *Manager) label(key, lang, def string) string {
	for _, f := range m.flows.Load().Flows() {
		if f.HasLanguage(lang) {
			return f.Label(key, lang)
		}
	}
	return def
}

// admit asks the limiter about this message. A refused one gets an END
// screen in the user's language: "try again later" when over a rate, the
// service's "unavailable" words for a denied number.
func (m *Manager) admit(ctx context.Context, set *flows.Set, req Request, f *flows.Flow, cur *Session, profileLang string, dial bool) (Response, bool) {
	if m.cfg.Limiter == nil {
		return Response{}, false
	}
	v, err := m.cfg.Limiter.Admit(ctx, string(req.MSISDN), dial)
	if err != nil {
		if m.limitErrs.Allow() {
			m.log.Warn("the rate limiter failed; messages are served unlimited meanwhile (logged once per 10 s)", "err", err)
		}
		return Response{}, false
	}
	if v == limits.Allowed {
		return Response{}, false
	}
	lang := profileLang
	if cur != nil && cur.ID == req.SessionID && cur.Lang != "" {
		lang = cur.Lang
	}
	if f == nil && cur != nil {
		f, _ = set.Flow(cur.Service)
	}
	key, def := flows.LabelLater, "Too many requests. Please try again later."
	if v == limits.Denied {
		key, def = flows.LabelUnavailable, "Sorry, the service is not available right now."
	}
	m.log.Debug("message refused", "msisdn", req.MSISDN, "verdict", v.String(), "dial", dial)
	if f == nil {
		return Response{Text: m.label(key, lang, def), End: true, Lang: lang, Refused: v}, true
	}
	return Response{Text: f.Label(key, lang), End: true, Service: f.ID, Lang: lang, Refused: v}, true
}

// Denied reports whether msisdn is on the deny-list (false without a
// limiter): the SMS router answers a denied number nothing at all.
func (m *Manager) Denied(ctx context.Context, msisdn msisdn.MSISDN) (bool, error) {
	if m.cfg.Limiter == nil {
		return false, nil
	}
	return m.cfg.Limiter.IsDenied(ctx, string(msisdn))
}

func (m *Manager) env(req Request, now time.Time) *flows.Env {
	lim := m.cfg.Limit
	if req.Limit.Octets > 0 {
		lim = req.Limit
	}
	return &flows.Env{Adapters: m.cfg.Adapters, MSISDN: string(req.MSISDN), Now: now, Log: m.log,
		SMS: m.sms(req.MSISDN), Later: m.later, Limit: lim, Consent: m.cfg.Consent, Channel: m.channel(),
		MaxInput: m.cfg.MaxInput}
}

// channel names the channel in consent records: "ussd", or Config.Channel.
func (m *Manager) channel() string {
	if m.cfg.Channel == "" {
		return "ussd"
	}
	return m.cfg.Channel
}

// later runs work after the step, with its own deadline, tracked so that
// Close can wait for it.
func (m *Manager) later(work func(ctx context.Context)) {
	select {
	case m.slots <- struct{}{}:
	default:
		m.log.Error("too many late results in flight; one is given up")
		return
	}
	m.late.Add(1)
	go func() {
		defer func() { <-m.slots; m.late.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LateTimeout)
		defer cancel()
		work(ctx)
	}()
}

// Close waits (until ctx ends) for late results still being fetched.
func (m *Manager) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.late.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for late results: %w", ctx.Err())
	}
}

func (m *Manager) unavailable(f *flows.Flow, lang string) Response {
	if f == nil {
		return Response{Text: "Sorry, the service is not available right now. Please try again later.", End: true}
	}
	return Response{Text: f.Label(flows.LabelUnavailable, lang), End: true, Service: f.ID, Lang: lang}
}

// resumable reports whether old, a session of flow f, may be continued:
// not ended by the flow, its node still there, and cut or timed out less
// than the resume window ago.
func (m *Manager) resumable(ctx context.Context, old *Session, f *flows.Flow, now time.Time) bool {
	if old == nil || old.Service != f.ID || old.Status == StatusEnded || m.cfg.ResumeWindow == 0 {
		return false
	}
	// The node must exist in the version the session began on (reload).
	if of, ok := m.flowFor(ctx, m.flows.Load(), old.Service, old.Version); !ok || !of.HasNode(old.Node) {
		return false
	}
	ended := time.UnixMilli(old.Updated)
	if old.Status != StatusAborted {
		ended = ended.Add(m.cfg.SessionTimeout)
	}
	return now.Sub(ended) < m.cfg.ResumeWindow
}

// begin starts a new dialogue with flow f: a resume offer when the last
// one was cut short, else the flow's start with any shortcut inputs.
//
// replay marks shortcut as the inputs of a dialogue being rebuilt: an
// input the flow rejected was rejected then too, and the user typed
// again, so the replay goes on past it.
func (m *Manager) begin(ctx context.Context, req Request, f *flows.Flow, shortcut []string, replay bool,
	cur *Session, curRaw []byte, profileLang string, resumeRaw []byte) (Response, error) {
	now := m.cfg.Now()
	s := &Session{ID: req.SessionID, Service: f.ID, Version: f.Version, Started: now.Unix(), Updated: now.UnixMilli(), Seq: req.Seq}
	s.Lang = profileLang
	if s.Lang == "" {
		s.Lang = f.DefaultLang
	}
	s.Vars = map[string]string{}
	if req.Cumulative {
		s.TextLen, s.TextSum = len(req.Text), textSum(req.Text)
	}
	// A cut-short session of this flow: the one just displaced, or one
	// kept aside when the user went to another service in between.
	var old *Session
	fromAside := false
	if m.resumable(ctx, cur, f, now) {
		old = cur
	} else if resumeRaw != nil {
		if o, err := decodeSession(resumeRaw); err == nil && m.resumable(ctx, o, f, now) {
			old, fromAside = o, true
		}
	}
	// The budget bounds the flow (its adapter calls), not the store: a
	// step whose adapter timed out must still be saved.
	fctx, cancel := context.WithTimeout(ctx, m.cfg.StepBudget)
	defer cancel()
	var screen flows.Screen
	var err error
	tr := m.newTrail() // analytics
	if old != nil && len(shortcut) == 0 {
		s.State = old.State
		s.Version = old.Version // continuing runs on the session's own version (reload)
		s.Status = StatusOffered
		screen = f.ResumeScreen(s.Lang)
	} else {
		// A replay goes again through steps the user has already seen:
		// their SMS went out then, so they are not sent twice. Only the
		// last input, the one just typed, is new.
		env := func(i int) *flows.Env {
			e := m.env(req, now)
			if replay && i < len(shortcut) {
				e.SMS = sentBefore{}
			}
			if tr != nil {
				e.Trace = tr
			}
			return e
		}
		screen, err = f.Start(fctx, env(0), &s.State)
		for i, in := range shortcut {
			if err != nil || screen.End || (screen.Rejected && !replay) {
				break
			}
			screen, err = f.Step(fctx, env(i+1), &s.State, in)
		}
		if err != nil {
			return m.unavailable(f, s.Lang), fmt.Errorf("starting %s: %w", f.ID, err)
		}
	}
	// Keep a displaced, resumable session of another service aside.
	if cur != nil && cur.Service != f.ID {
		if of, ok := m.flows.Load().Flow(cur.Service); ok && m.resumable(ctx, cur, of, now) {
			if err := m.cfg.Store.Set(ctx, m.resumeKey(req.MSISDN, cur.Service), curRaw, m.cfg.ResumeWindow+m.cfg.SessionTimeout); err != nil {
				m.log.Warn("keeping a session aside for resume", "err", err)
			}
		}
	}
	if fromAside || (old == nil && resumeRaw != nil) {
		if err := m.cfg.Store.Set(ctx, m.resumeKey(req.MSISDN, f.ID), nil, 0); err != nil {
			m.log.Warn("dropping a resume record", "err", err)
		}
	}
	// analytics: the session begins; the one it displaces, if still
	// going, was left for this one.
	ev := stepEvent(f, s, tr, req.start, "", screen.Rejected)
	var left *Event
	if ev != nil {
		ev.New = true
		if cur != nil && cur.Status == StatusActive && now.Sub(time.UnixMilli(cur.Updated)) <= m.cfg.SessionTimeout {
			left = m.leftEvent(cur, ExitElsewhere)
		}
	}
	return m.save(ctx, req, f, s, curRaw, screen, profileLang, ev, left)
}

// continueSession applies one input to a session in progress.
func (m *Manager) continueSession(ctx context.Context, set *flows.Set, req Request, cur *Session, raw []byte) (Response, error) {
	now := m.cfg.Now()
	// The session runs on the flow version it began with (reload).
	f, ok := m.flowFor(ctx, set, cur.Service, cur.Version)
	if !ok {
		m.log.Info("a session's flow version is no longer loaded: the user is told to dial again",
			"msisdn", req.MSISDN, "service", cur.Service, "version", cur.Version)
		return m.updated(set, cur), nil
	}
	switch cur.Status {
	case StatusEnded:
		return m.show(ctx, f, req, cur, now) // a retry of the last step
	case StatusAborted:
		return Response{Text: f.Label(flows.LabelExpired, cur.Lang), End: true, Service: f.ID, Lang: cur.Lang}, nil
	}
	if now.Sub(time.UnixMilli(cur.Updated)) > m.cfg.SessionTimeout {
		// Left as it is, so that the next dial offers to resume it.
		return Response{Text: f.Label(flows.LabelExpired, cur.Lang), End: true, Service: f.ID, Lang: cur.Lang}, nil
	}
	input, dup := req.Input, false
	if req.Cumulative {
		input, dup = deriveInput(cur, req.Text)
	}
	if req.Seq > 0 && req.Seq <= cur.Seq {
		dup = true // a message numbered no later than the last one applied
	}
	if dup {
		return m.show(ctx, f, req, cur, now)
	}
	s := cur.clone()
	s.Hops++
	s.Updated = now.UnixMilli()
	if req.Seq > 0 {
		s.Seq = req.Seq
	}
	if req.Cumulative {
		s.TextLen, s.TextSum = len(req.Text), textSum(req.Text)
	}
	env := m.env(req, now)
	tr, from := m.newTrail(), cur.Node // analytics
	if tr != nil {
		env.Trace = tr
	}
	fctx, cancel := context.WithTimeout(ctx, m.cfg.StepBudget)
	defer cancel()
	var screen flows.Screen
	var err error
	if s.Status == StatusOffered {
		from = ""
		switch strings.TrimSpace(input) {
		case "1":
			s.Status = StatusActive
			screen, err = f.Render(fctx, env, &s.State)
			if tr != nil && err == nil {
				tr.Arrived(s.Node) // back on the screen it was cut on
			}
		case "2":
			s.Status = StatusActive
			if nf, ok := set.Flow(s.Service); ok { // starting again: the version now loaded (reload)
				f, s.Version = nf, nf.Version
			}
			s.State = flows.State{Lang: s.Lang, Vars: map[string]string{}}
			screen, err = f.Start(fctx, env, &s.State)
		default:
			screen = f.ResumeScreen(s.Lang)
		}
	} else {
		screen, err = f.Step(fctx, env, &s.State, input)
	}
	if errors.Is(err, flows.ErrStale) {
		from = ""
		s.Status = StatusActive
		s.State = flows.State{Lang: s.Lang, Vars: map[string]string{}}
		screen, err = f.Start(fctx, env, &s.State)
	}
	if err != nil {
		return m.unavailable(f, s.Lang), fmt.Errorf("step of %s: %w", f.ID, err)
	}
	return m.save(ctx, req, f, s, raw, screen, cur.Lang, stepEvent(f, s, tr, req.start, from, screen.Rejected))
}

// save writes the session's next state if nobody else has advanced it
// meanwhile; if somebody has, it answers with the state they wrote. The
// user's language is remembered when the step changed it from prevLang.
//
// evs are the analytics events of the step (nil when off): the first is
// the step's; the save completes it with the session's end.
func (m *Manager) save(ctx context.Context, req Request, f *flows.Flow, s *Session, curRaw []byte, screen flows.Screen, prevLang string, evs ...*Event) (Response, error) {
	// The step has happened (an adapter may have registered something): it
	// is saved even if the caller went away meanwhile, so that a retry
	// finds it applied.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	ttl := m.cfg.SessionTimeout + m.cfg.ResumeWindow
	if screen.End {
		s.Status = StatusEnded
		ttl = endedTTL
		if len(evs) > 0 && evs[0] != nil { // analytics
			evs[0].Exit, evs[0].ExitNode = ExitEnd, s.Node
			if evs[0].Failed {
				evs[0].Exit = ExitError
			}
		}
	}
	ok, err := m.swap(ctx, m.sessionKey(req.MSISDN), curRaw, s.encode(), ttl, evs...)
	if err != nil {
		return m.unavailable(f, s.Lang), fmt.Errorf("saving session: %w", err)
	}
	if !ok {
		return m.lostRace(ctx, req, f)
	}
	if s.Lang != prevLang && (prevLang != "" || s.Lang != f.DefaultLang) {
		if err := m.cfg.Store.Set(ctx, profileKey(req.MSISDN), []byte(s.Lang), m.cfg.ProfileTTL); err != nil {
			m.log.Warn("saving the language", "err", err)
		}
	}
	return Response{Text: screen.Text, End: screen.End, Service: f.ID, Lang: s.Lang}, nil
}

// lostRace answers a request whose step another instance (or a retry of
// the same request) applied first: it shows the state that won.
func (m *Manager) lostRace(ctx context.Context, req Request, f *flows.Flow) (Response, error) {
	vals, err := m.cfg.Store.Get(ctx, m.sessionKey(req.MSISDN))
	if err != nil {
		return m.unavailable(f, ""), fmt.Errorf("reloading session after a concurrent step: %w", err)
	}
	if vals[0] != nil {
		if won, err := decodeSession(vals[0]); err == nil && won.ID == req.SessionID {
			if wf, ok := m.flowFor(ctx, m.flows.Load(), won.Service, won.Version); ok {
				return m.show(ctx, wf, req, won, m.cfg.Now())
			}
		}
	}
	return m.unavailable(f, ""), errors.New("ussd: session replaced by a concurrent dialogue")
}

// show renders the screen a session is on, without changing it.
func (m *Manager) show(ctx context.Context, f *flows.Flow, req Request, s *Session, now time.Time) (Response, error) {
	if s.Status == StatusOffered {
		return Response{Text: f.ResumeScreen(s.Lang).Text, Service: f.ID, Lang: s.Lang}, nil
	}
	st := s.clone().State
	fctx, cancel := context.WithTimeout(ctx, m.cfg.StepBudget)
	defer cancel()
	screen, err := f.Render(fctx, m.env(req, now), &st)
	if err != nil {
		return m.unavailable(f, s.Lang), fmt.Errorf("showing %s: %w", f.ID, err)
	}
	return Response{Text: screen.Text, End: screen.End || s.Status == StatusEnded, Service: f.ID, Lang: s.Lang}, nil
}

// deriveInput finds the newest input in an aggregator's cumulative text:
// what follows the text already applied and a "*". A text equal to the one
// applied is a retry. When the text does not extend the one applied (an
// aggregator that resets it), the last "*"-separated part is the input.
func deriveInput(s *Session, text string) (input string, dup bool) {
	n := s.TextLen
	if len(text) == n && textSum(text) == s.TextSum {
		return "", true
	}
	if n == 0 && textSum("") == s.TextSum {
		return text, false
	}
	if len(text) > n && text[n] == '*' && textSum(text[:n]) == s.TextSum {
		return text[n+1:], false
	}
	if i := strings.LastIndexByte(text, '*'); i >= 0 {
		return text[i+1:], false
	}
	return text, false
}

// Abort marks a dialogue as cut by the network, so that the next dial
// offers to resume it. An unknown or already finished dialogue is ignored.
func (m *Manager) Abort(ctx context.Context, msisdn msisdn.MSISDN, sessionID string) error {
	key := m.sessionKey(msisdn)
	vals, err := m.cfg.Store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("loading session to abort: %w", err)
	}
	if vals[0] == nil {
		return nil
	}
	s, err := decodeSession(vals[0])
	if err != nil || s.ID != sessionID || s.Status == StatusEnded || s.Status == StatusAborted {
		return nil
	}
	left := m.leftEvent(s, ExitAbort) // analytics
	s.Status = StatusAborted
	s.Updated = m.cfg.Now().UnixMilli()
	if _, err := m.swap(ctx, key, vals[0], s.encode(), m.cfg.ResumeWindow, left); err != nil {
		return fmt.Errorf("saving aborted session: %w", err)
	}
	return nil
}
