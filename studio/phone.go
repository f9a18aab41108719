package studio

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
)

// phone is a login's simulated phone: its number and the dialogue on it.
type phone struct {
	mu      sync.Mutex
	number  string
	session string // the dialogue's id; "" when none is open
	node    string // the node the dialogue is on
	last    ussd.Response
	err     string
}

// newNumber returns a random simulated number: SimulatedPrefix and nine
// digits.
func newNumber() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e9))
	return fmt.Sprintf("%s%09d", SimulatedPrefix, n.Int64())
}

func newSessionID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return "studio-" + n.Text(36)
}

// Length is a text's size against its limit.
type Length struct {
	Units    int    `json:"units"`    // septets (GSM 03.38) or UTF-16 units (UCS-2)
	Max      int    `json:"max"`      // what the limit holds in that encoding
	Encoding string `json:"encoding"` // "GSM 03.38" or "UCS-2"
	Fits     bool   `json:"fits"`
	Parts    int    `json:"parts,omitempty"` // SMS: messages it is sent as
}

func encodingName(ucs2 bool) string {
	if ucs2 {
		return "UCS-2"
	}
	return "GSM 03.38"
}

func measure(text string, lim gsm.Limit) Length {
	l := gsm.Measure(text)
	return Length{Units: l.Units, Max: lim.Max(l.UCS2), Encoding: encodingName(l.UCS2), Fits: lim.Fits(l)}
}

// smsLength measures an SMS: one message holds 160 septets or 70 UCS-2
// units; a longer one goes in parts of 153 or 67 (the rest is the
// concatenation header).
func smsLength(text string) Length {
	l := gsm.Measure(text)
	single, part := 160, 153
	if l.UCS2 {
		single, part = 70, 67
	}
	n := 1
	if l.Units > single {
		n = (l.Units + part - 1) / part
	}
	return Length{Units: l.Units, Max: single, Encoding: encodingName(l.UCS2), Fits: l.Units <= single, Parts: n}
}

// View is what the simulator shows: the screen, its length, the
// session's variables and the inbox.
type View struct {
	Number  string            `json:"number"`
	Active  bool              `json:"active"` // a dialogue is open: the screen takes a reply
	Text    string            `json:"text"`
	End     bool              `json:"end"`
	Service string            `json:"service"`
	Lang    string            `json:"lang"`
	Node    string            `json:"node"`
	Length  *Length           `json:"length,omitempty"`
	Vars    map[string]string `json:"vars"`
	Inbox   []InboxMessage    `json:"inbox"`
	Error   string            `json:"error,omitempty"`
}

// InboxMessage is a captured SMS with its length.
type InboxMessage struct {
	Message
	Length Length `json:"length"`
}

func (s *Server) view(ctx context.Context, p *phone) View {
	v := View{Number: p.number, Active: p.session != "" && !p.last.End, Text: p.last.Text, End: p.last.End,
		Service: p.last.Service, Lang: p.last.Lang, Node: p.node, Vars: map[string]string{}, Error: p.err,
		Inbox: []InboxMessage{}}
	if p.last.Text != "" {
		lim := flows.DefaultLimit
		if f, ok := s.cfg.Manager.Flows().Flow(p.last.Service); ok {
			lim = f.Limit()
		}
		l := measure(p.last.Text, lim)
		v.Length = &l
	}
	if sess, err := s.cfg.Manager.Peek(ctx, msisdn.MSISDN(p.number)); err == nil && sess != nil && sess.ID == p.session {
		for k, val := range sess.Vars {
			v.Vars[k] = val
		}
	}
	for _, m := range s.cfg.Inbox.Messages(p.number) {
		v.Inbox = append(v.Inbox, InboxMessage{Message: m, Length: smsLength(m.Text)})
	}
	// Newest first, as a phone lists them.
	sort.SliceStable(v.Inbox, func(i, j int) bool { return v.Inbox[i].At.After(v.Inbox[j].At) })
	return v
}

// ServiceInfo describes a loaded service for the simulator's dial list.
type ServiceInfo struct {
	ID              string   `json:"id"`
	Title           string   `json:"title"`
	Codes           []string `json:"codes"`
	Languages       []string `json:"languages"`
	DefaultLanguage string   `json:"default_language"`
}

func (s *Server) services(w http.ResponseWriter, r *http.Request) {
	out := []ServiceInfo{}
	for _, f := range s.cfg.Manager.Flows().Flows() {
		out = append(out, ServiceInfo{ID: f.ID, Title: f.Title(""), Codes: f.Codes, Languages: f.Languages, DefaultLanguage: f.DefaultLang})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) phone(w http.ResponseWriter, r *http.Request) {
	p := &current(r).phone
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, http.StatusOK, s.view(r.Context(), p))
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return false
	}
	return true
}

// stepTimeout bounds one simulated step beyond the manager's own budget.
const stepTimeout = 30 * time.Second

// dial opens a dialogue: {"code": "*384#", "lang": "sw"}. A language
// given is remembered for the number first, as if the user had chosen it
// on the language screen before.
func (s *Server) dial(w http.ResponseWriter, r *http.Request) {
	var body struct{ Code, Lang string }
	if !decode(w, r, &body) {
		return
	}
	if body.Code == "" {
		writeError(w, http.StatusBadRequest, "dial a code, such as *384#")
		return
	}
	p := &current(r).phone
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), stepTimeout)
	defer cancel()
	m, n := s.cfg.Manager, msisdn.MSISDN(p.number)
	p.err = ""
	if f, _, ok := m.Flows().Route(body.Code); ok && body.Lang != "" {
		if !f.HasLanguage(body.Lang) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s has no language %q", f.ID, body.Lang))
			return
		}
		if err := m.SetLanguage(ctx, n, body.Lang); err != nil {
			writeError(w, http.StatusServiceUnavailable, "the session store failed")
			s.log.Warn("setting a simulated number's language", "err", err)
			return
		}
	}
	p.session = newSessionID()
	resp, err := m.Handle(ctx, ussd.Request{SessionID: p.session, MSISDN: n, Dialled: body.Code, New: true})
	s.stepped(ctx, p, resp, err)
	writeJSON(w, http.StatusOK, s.view(ctx, p))
}

// reply answers the screen: {"input": "1"}.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	var body struct{ Input string }
	if !decode(w, r, &body) {
		return
	}
	p := &current(r).phone
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.session == "" || p.last.End {
		writeError(w, http.StatusConflict, "no dialogue open: dial a code first")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), stepTimeout)
	defer cancel()
	resp, err := s.cfg.Manager.Handle(ctx, ussd.Request{SessionID: p.session, MSISDN: msisdn.MSISDN(p.number), Input: body.Input})
	s.stepped(ctx, p, resp, err)
	writeJSON(w, http.StatusOK, s.view(ctx, p))
}

// stepped records a step's answer on the phone. The analytics count it
// in the session manager, as for any session.
func (s *Server) stepped(ctx context.Context, p *phone, resp ussd.Response, err error) {
	p.last = resp
	if err != nil {
		p.err = "the step failed: " + err.Error()
		s.log.Warn("simulated step failed", "msisdn", msisdn.MSISDN(p.number), "err", err)
	}
	p.node = ""
	if sess, perr := s.cfg.Manager.Peek(ctx, msisdn.MSISDN(p.number)); perr == nil && sess != nil && sess.ID == p.session {
		p.node = sess.Node
	}
}

// hangup cuts the dialogue as the network would (the user pressed
// cancel): the next dial offers to continue.
func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	p := &current(r).phone
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.session != "" && !p.last.End {
		if err := s.cfg.Manager.Abort(r.Context(), msisdn.MSISDN(p.number), p.session); err != nil {
			writeError(w, http.StatusServiceUnavailable, "the session store failed")
			s.log.Warn("hanging up a simulated dialogue", "err", err)
			return
		}
	}
	p.session, p.last, p.node, p.err = "", ussd.Response{}, "", ""
	writeJSON(w, http.StatusOK, s.view(r.Context(), p))
}

// newNumber gives the phone another number: {"number": "999..."} or {}
// for a random one. A number outside the simulated range is refused, so
// the simulator can never act as, or text, a real subscriber.
func (s *Server) newNumber(w http.ResponseWriter, r *http.Request) {
	var body struct{ Number string }
	if !decode(w, r, &body) {
		return
	}
	if body.Number != "" && (!msisdn.Valid(body.Number) || !Simulated(body.Number)) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a simulated number is %s followed by digits (%d to %d digits in all)", SimulatedPrefix, msisdn.Min, msisdn.Max))
		return
	}
	if body.Number == "" {
		body.Number = newNumber()
	}
	p := &current(r).phone
	p.mu.Lock()
	defer p.mu.Unlock()
	p.number, p.session, p.last, p.node, p.err = body.Number, "", ussd.Response{}, "", ""
	writeJSON(w, http.StatusOK, s.view(r.Context(), p))
}
