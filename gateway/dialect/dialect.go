// Package dialect is the contract between the gateway's HTTP side and the
// USSD aggregators that call it, and one implementation per aggregator:
// how an aggregator's request becomes a Step of a USSD dialogue, and how
// the gateway's answer goes back in that aggregator's words. A Dialect
// knows one wire format and nothing else: no sessions, no flows, no
// routing, no guards (package gateway does those for every dialect alike). It imports only
// msisdn of this module, never gateway, ussd or flows.
//
// The facts each dialect relies on (field names, who ends a session, how
// the first message and the end-of-session notice look), with their
// sources, are in docs/aggregators.md.
//
// It imports the standard library and msisdn only; it must not import
// gateway, ussd, flows or echo: a dialect reads and writes HTTP and nothing
// more, and package gateway imports it, not the reverse. Every dialect's
// tests run the conformance kit, gateway/dialect/dialecttest.
package dialect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Kind says what a request asks of the gateway.
type Kind uint8

const (
	// Message is a step of a dialogue: the first one (the dial) or a
	// reply. It is answered with a screen.
	Message Kind = iota
	// Ended is the aggregator's notice that a dialogue ended on its side
	// (the user hung up, the network timed out). It is acknowledged, not
	// answered with a screen.
	Ended
)

// Step is one aggregator request, read.
type Step struct {
	Kind Kind
	// SessionID is the aggregator's id of the dialogue.
	SessionID string
	// Phone is the subscriber's number as the aggregator sent it; the
	// gateway normalises it (msisdn.Normalize) and refuses it when it is
	// not a number.
	Phone string
	// Dialled is the whole string the user dialled (*384*1#) when the
	// request carries it: on the first message, and on every message for
	// aggregators that repeat it.
	Dialled string
	// New marks the first message of a dialogue when the aggregator says
	// so (Hubtel's Initiation, Nalo's MSGTYPE, Arkesel's newSession).
	New bool
	// Input is the user's latest reply, for aggregators that send one
	// reply per request.
	Input string
	// Text and Cumulative: aggregators that send every reply so far,
	// joined by "*" (Africa's Talking), set Text and Cumulative.
	Text       string
	Cumulative bool
	// Seq numbers the messages of a dialogue when the aggregator does (1
	// for the first): a retried request is then answered with the screen
	// the dialogue is on, not applied twice. Zero: not numbered.
	Seq int
	// Cut reports, on an Ended notice, that the dialogue was cut short
	// (a timeout, the user cancelling, a failure) rather than finished:
	// the user's next dial offers to resume it.
	Cut bool
	// Echo is what Write needs back from the request (ids the aggregator
	// wants repeated in the answer); only the dialect reads it.
	Echo any
}

// Answer is what the gateway tells the aggregator for a Message.
type Answer struct {
	Text string
	// End closes the dialogue after Text is shown.
	End bool
}

// Route is one HTTP endpoint a dialect declares, under the path the
// operator gives the dialect (the route's base path).
type Route struct {
	// Suffix is appended to the base path ("" for the base path itself,
	// "/events" for Africa's Talking's end-of-session notices).
	Suffix string
	// Events marks a route that only takes Ended notices; Parse is told.
	Events bool
}

// Dialect is one aggregator's wire format. Implementations must be safe
// for concurrent use and must never panic on any body: malformed input is
// a *Error.
type Dialect interface {
	// Name is the dialect's name in the config (africastalking, hubtel).
	Name() string
	// Routes are the endpoints the dialect needs, POST each.
	Routes() []Route
	// Parse reads a request that reached route. Its body is already
	// bounded by the gateway; a read past the bound fails with an error
	// wrapping *http.MaxBytesError, which Parse returns wrapped (see
	// ReadBody).
	Parse(r *http.Request, route Route) (Step, error)
	// Write answers step: for a Message, the Answer in the aggregator's
	// format with its continue/end flag; for an Ended notice, the
	// acknowledgement (a.Text empty).
	Write(w http.ResponseWriter, step Step, a Answer) error
	// Refuse writes an error status in the form the aggregator reads
	// (plain text for most): a malformed request, a refused caller.
	Refuse(w http.ResponseWriter, status int, msg string) error
}

// Error is a request the dialect cannot read: Status (400, 413, 415) and
// a reason fit to show the caller.
type Error struct {
	Status int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Bad is a 400 with msg.
func Bad(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// ReadBody reads the whole (bounded) body: a body over the gateway's bound
// is a 413.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, readError(err)
	}
	return b, nil
}

func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "request body too large", Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Msg: "unreadable body", Err: err}
}

// ParseForm parses a form body (and the query), with ReadBody's errors.
func ParseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return readError(err)
		}
		return &Error{Status: http.StatusBadRequest, Msg: "malformed form body", Err: err}
	}
	return nil
}

// DecodeJSON reads a JSON object body into v. Unknown fields are allowed
// (aggregators add fields); a body that is not one JSON object is a 400.
func DecodeJSON(r *http.Request, v any) error {
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return Bad("empty body: expected a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Bad("field %s: expected %s", te.Field, te.Type)
		}
		return &Error{Status: http.StatusBadRequest, Msg: "malformed JSON body", Err: err}
	}
	return nil
}

// WriteJSON answers v as JSON with status 200.
func WriteJSON(w http.ResponseWriter, v any) error { return writeJSONStatus(w, http.StatusOK, v) }

func writeJSONStatus(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// PlainText answers body as text/plain with status.
func PlainText(w http.ResponseWriter, status int, body string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write([]byte(body))
	return err
}

// refusePlain is Refuse for dialects whose aggregators read plain text.
func refusePlain(w http.ResponseWriter, status int, msg string) error {
	return PlainText(w, status, msg+"\n")
}

// Dialled rebuilds the string the user dialled from a service code and
// what followed it: ("*384#", "1*2") → "*384*1*2#". Text that is not
// digits and stars cannot be a shortcut and is left out: the code alone.
func Dialled(code, text string) string {
	if code == "" {
		return ""
	}
	if text == "" || strings.Trim(text, "0123456789*") != "" {
		return code
	}
	return strings.TrimSuffix(code, "#") + "*" + text + "#"
}

// CodeString writes a service code sent without its star and hash
// ("713", "713*4") as dialled ("*713#", "*713*4#").
func CodeString(code string) string {
	code = strings.TrimSpace(code)
	if code == "" {
		return ""
	}
	if !strings.HasPrefix(code, "*") {
		code = "*" + code
	}
	if !strings.HasSuffix(code, "#") {
		code += "#"
	}
	return code
}

// IsUSSDString reports whether s looks like a dialled string: *, digits
// and stars, and a final #.
func IsUSSDString(s string) bool {
	return len(s) >= 3 && s[0] == '*' && s[len(s)-1] == '#' && strings.Trim(s[1:len(s)-1], "0123456789*") == ""
}

var registry = map[string]Dialect{}

func register(d Dialect) { registry[d.Name()] = d }

// Lookup returns the dialect called name.
func Lookup(name string) (Dialect, bool) {
	d, ok := registry[name]
	return d, ok
}

// Names lists the dialects, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
