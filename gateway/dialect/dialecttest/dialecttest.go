// Package dialecttest checks that a dialect.Dialect keeps the contract the
// gateway relies on, the way adapters/adaptertest checks an adapter. It
// serves the dialect on a real gateway, so it imports gateway, ussd and
// flows; nothing but tests may import it. Every dialect's tests run Run with a Kit that says how that aggregator's
// requests look and how its answers read:
//
//	func TestConformance(t *testing.T) {
//		dialecttest.Run(t, dialecttest.Kit{
//			Dialect: dialect.Nalo{},
//			Dial:    func(id, phone, code string) dialecttest.Request { ... },
//			Reply:   func(id, phone string, seq int, inputs []string) dialecttest.Request { ... },
//			Read:    func(status int, h http.Header, body []byte) (string, bool, error) { ... },
//			Missing: []dialecttest.Request{ ... },
//		})
//	}
//
// Run serves the dialect on a real gateway (gateway.Server, a ussd.Manager
// with an in-memory store, a small shop flow) over HTTP on 127.0.0.1 and
// checks: a happy path of four screens ending by the service; an end by
// the service from the first menu; an end by the user (the aggregator's
// end-of-session notice, or the user just walking away) after which the
// next dial offers to resume; a retried request (answered the same without
// being applied twice, or, for dialects that cannot tell a retry, applied
// as the docs say); bad input (missing fields, wrong JSON, 10 kB input, a
// body over the limit, a phone that is not a number) refused cleanly with
// a 4xx or an ending screen, never a 5xx; and the route's guard refusing
// a caller without the secret on every endpoint the dialect declares.
//
// It imports gateway, ussd and flows (to build the server); nothing of
// ours imports it but tests.
package dialecttest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/gateway/dialect"
	"github.com/ussdgw/ussdgw/ussd"
)

// Request is one HTTP request to a dialect's route.
type Request struct {
	// Suffix selects the dialect's endpoint (a dialect.Route's Suffix).
	Suffix      string
	ContentType string
	Body        string
}

// Kit describes one dialect to Run.
type Kit struct {
	Dialect dialect.Dialect
	// Dial is the first request of dialogue id, from phone (digits with
	// the country code, no "+"), dialling code (*500#).
	Dial func(id, phone, code string) Request
	// Reply is message number seq of dialogue id (2 for the first reply),
	// inputs being every reply so far, the last one new: cumulative
	// dialects send them all, the others the last.
	Reply func(id, phone string, seq int, inputs []string) Request
	// End is the aggregator's notice that the user left dialogue id, or
	// nil when the aggregator sends none.
	End func(id, phone string) Request
	// Read decodes an answer to a message: the screen and whether it ends
	// the dialogue.
	Read func(status int, h http.Header, body []byte) (text string, end bool, err error)
	// Missing are requests each lacking a field the dialect requires;
	// each must be refused with a 400.
	Missing []Request
	// Retries says the dialect tells a retried request from a new one
	// (cumulative text or a message number): the retry is answered the
	// same and not applied twice. False: a retry sent after its answer is
	// applied as a new reply (docs/aggregators.md says which dialects).
	Retries bool
}

// Secret is the route secret the kit's guard expects.
const Secret = "dialecttest-secret-0123456789"

// base is the route's base path.
const base = "/ussd/test"

const shop = `id: shop
title: Shop
codes: ["*500#"]
languages: [en]
nodes:
  main:
    type: menu
    text: Welcome
    options:
      - {label: Fruits, next: fruits}
      - {label: Leave, next: bye}
  fruits:
    type: menu
    text: Pick a fruit
    options:
      - {label: Apples, set: {fruit: apples}, next: qty}
      - {label: Bananas, set: {fruit: bananas}, next: qty}
  qty:
    type: input
    text: "How many {{fruit}}?"
    save: qty
    validate: {type: integer, min: 1, max: 99}
    next: done
  done:
    type: end
    text: "Order placed: {{qty}} {{fruit}}."
  bye:
    type: end
    text: "Goodbye."
`

// tb is what a check needs of a test: *testing.T, or the recorder the
// kit's own tests use to see that a broken dialect fails.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// rig is one gateway serving the kit's dialect.
type rig struct {
	t   tb
	k   Kit
	url string
	// secret, when set, goes in the X-Gateway-Secret header.
	secret string
}

type check struct {
	name string
	run  func(r *rig)
}

var checks = []check{
	{"HappyPath", happyPath},
	{"EndByService", endByService},
	{"EndByUser", endByUser},
	{"Retry", retry},
	{"Missing", missing},
	{"WrongJSON", wrongJSON},
	{"LongInput", longInput},
	{"OversizedBody", oversized},
	{"BadPhone", badPhone},
	{"Guard", guard},
}

// Run runs every check against k, each a subtest.
func Run(t *testing.T, k Kit) {
	t.Helper()
	if k.Dialect == nil || k.Dial == nil || k.Reply == nil || k.Read == nil {
		t.Fatal("dialecttest: Kit needs Dialect, Dial, Reply and Read")
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			r, stop := newRig(t, k)
			defer stop()
			c.run(r)
		})
	}
}

func newRig(t tb, k Kit) (*rig, func()) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	if err != nil {
		t.Fatalf("compiling the kit's flow: %v", err)
	}
	// slog.Default: a package's TestMain may check what is logged
	// (internal/logcheck).
	m := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set})
	gw := gateway.New(gateway.Config{Manager: m, Routes: []gateway.Route{
		{Path: base, Dialect: k.Dialect, Guard: gateway.Guard{Secret: Secret}},
	}})
	srv := httptest.NewServer(gw)
	return &rig{t: t, k: k, url: srv.URL, secret: Secret}, srv.Close
}

// send posts q and returns the status, header and body.
func (r *rig) send(q Request) (int, http.Header, []byte) {
	r.t.Helper()
	return r.sendTo(r.url+base+q.Suffix, q)
}

func (r *rig) sendTo(url string, q Request) (int, http.Header, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(q.Body))
	if err != nil {
		r.t.Fatalf("building a request: %v", err)
	}
	if q.ContentType != "" {
		req.Header.Set("Content-Type", q.ContentType)
	}
	if r.secret != "" {
		req.Header.Set(gateway.SecretHeader, r.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, resp.Header, body
}

// screen sends a message and reads its answer, which must be a 200.
func (r *rig) screen(what string, q Request) (string, bool) {
	r.t.Helper()
	code, h, body := r.send(q)
	if code != http.StatusOK {
		r.t.Fatalf("%s: status %d, want 200: %q", what, code, body)
	}
	text, end, err := r.k.Read(code, h, body)
	if err != nil {
		r.t.Fatalf("%s: the answer does not read: %v: %q", what, err, body)
	}
	return text, end
}

// expect sends a message and checks the screen starts with want and
// whether it ends the dialogue.
func (r *rig) expect(what string, q Request, want string, wantEnd bool) string {
	r.t.Helper()
	text, end := r.screen(what, q)
	if !strings.HasPrefix(text, want) {
		r.t.Fatalf("%s: screen %q, want one starting %q", what, text, want)
	}
	if end != wantEnd {
		r.t.Fatalf("%s: screen %q ends the dialogue: %v, want %v", what, text, end, wantEnd)
	}
	return text
}

const phone = "254700000001"

func happyPath(r *rig) {
	k := r.k
	r.expect("dial", k.Dial("hp1", phone, "*500#"), "Welcome\n1. Fruits\n2. Leave", false)
	r.expect("reply 1", k.Reply("hp1", phone, 2, []string{"1"}), "Pick a fruit\n1. Apples\n2. Bananas", false)
	r.expect("reply 2", k.Reply("hp1", phone, 3, []string{"1", "2"}), "How many bananas?", false)
	text := r.expect("reply 7", k.Reply("hp1", phone, 4, []string{"1", "2", "7"}), "Order placed: 7 bananas.", true)
	if text != "Order placed: 7 bananas." {
		r.t.Errorf("last screen %q carries more than the flow's text", text)
	}
}

func endByService(r *rig) {
	k := r.k
	r.expect("dial", k.Dial("es1", phone, "*500#"), "Welcome", false)
	r.expect("leave", k.Reply("es1", phone, 2, []string{"2"}), "Goodbye.", true)
	// A new dialogue after the end starts afresh, not with a resume offer.
	r.expect("dial again", k.Dial("es2", phone, "*500#"), "Welcome", false)
}

func endByUser(r *rig) {
	k := r.k
	r.expect("dial", k.Dial("eu1", phone, "*500#"), "Welcome", false)
	r.expect("reply 1", k.Reply("eu1", phone, 2, []string{"1"}), "Pick a fruit", false)
	if k.End != nil {
		code, _, body := r.send(k.End("eu1", phone))
		if code != http.StatusOK {
			r.t.Fatalf("end-of-session notice: status %d, want 200: %q", code, body)
		}
		// The notice again (aggregators retry): still acknowledged.
		if code, _, body := r.send(k.End("eu1", phone)); code != http.StatusOK {
			r.t.Fatalf("repeated end-of-session notice: status %d, want 200: %q", code, body)
		}
		// The dialogue is over for the gateway too: a late message of it
		// is told so, not served.
		r.expect("late reply after the notice", k.Reply("eu1", phone, 3, []string{"1", "2"}), "Your session has expired.", true)
	}
	r.expect("dial after leaving", k.Dial("eu2", phone, "*500#"), "You have an unfinished session.\n1. Continue", false)
	r.expect("continue", k.Reply("eu2", phone, 2, []string{"1"}), "Pick a fruit", false)
	r.expect("reply 2", k.Reply("eu2", phone, 3, []string{"1", "2"}), "How many bananas?", false)
}

func retry(r *rig) {
	k := r.k
	dial := k.Dial("rt1", phone, "*500#")
	r.expect("dial", dial, "Welcome", false)
	first := k.Reply("rt1", phone, 2, []string{"1"})
	r.expect("reply 1", first, "Pick a fruit", false)
	if !k.Retries {
		// Nothing in the request tells a retry from the same key pressed
		// again: it is applied (Apples), as docs/aggregators.md warns.
		r.expect("reply 1 again", first, "How many apples?", false)
		return
	}
	r.expect("reply 1 retried", first, "Pick a fruit", false)
	r.expect("reply 2", k.Reply("rt1", phone, 3, []string{"1", "2"}), "How many bananas?", false)
	last := k.Reply("rt1", phone, 4, []string{"1", "2", "3"})
	r.expect("reply 3", last, "Order placed: 3 bananas.", true)
	r.expect("reply 3 retried", last, "Order placed: 3 bananas.", true)
	// A retried dial of a dialogue that has not moved: the same first screen.
	r.expect("dial 2", k.Dial("rt2", phone, "*500#"), "Welcome", false)
	r.expect("dial 2 retried", k.Dial("rt2", phone, "*500#"), "Welcome", false)
	r.expect("reply after the retried dial", k.Reply("rt2", phone, 2, []string{"1"}), "Pick a fruit", false)
}

func refused(r *rig, what string, q Request, want int) {
	r.t.Helper()
	code, _, body := r.send(q)
	if want != 0 && code != want || want == 0 && (code < 400 || code >= 500) {
		r.t.Errorf("%s: status %d (%q), want %s", what, code, body, statusWord(want))
	}
	if len(body) == 0 {
		r.t.Errorf("%s: refused without a reason", what)
	}
}

func statusWord(want int) string {
	if want == 0 {
		return "a 4xx"
	}
	return fmt.Sprint(want)
}

func missing(r *rig) {
	if len(r.k.Missing) == 0 {
		r.t.Fatalf("Kit.Missing is empty: list a request lacking each required field")
	}
	for i, q := range r.k.Missing {
		refused(r, fmt.Sprintf("missing field #%d %q", i+1, q.Body), q, http.StatusBadRequest)
	}
}

func wrongJSON(r *rig) {
	dial := r.k.Dial("wj1", phone, "*500#")
	for _, body := range []string{"", "{", `{"a":`, "[]", "null", "\"text\"", "%%%zz&&==", "\x00\xff\xfe", "{}"} {
		refused(r, fmt.Sprintf("body %q", body), Request{Suffix: dial.Suffix, ContentType: dial.ContentType, Body: body}, 0)
	}
}

// longInput: a 10 kB reply is answered with a screen that ends the
// dialogue (or refused with a 4xx), and the dialogue is left where it was.
func longInput(r *rig) {
	k := r.k
	r.expect("dial", k.Dial("li1", phone, "*500#"), "Welcome", false)
	long := strings.Repeat("9", 10<<10)
	code, h, body := r.send(k.Reply("li1", phone, 2, []string{long}))
	switch {
	case code >= 400 && code < 500:
	case code == http.StatusOK:
		text, end, err := k.Read(code, h, body)
		if err != nil || !end || !strings.Contains(text, "too long") {
			r.t.Errorf("10 kB input: screen %q (end %v, err %v), want an ending 'too long' screen", text, end, err)
		}
	default:
		r.t.Errorf("10 kB input: status %d: %q", code, body)
	}
	r.expect("a short reply after it", k.Reply("li1", phone, 3, []string{"1"}), "Pick a fruit", false)
}

func oversized(r *rig) {
	huge := strings.Repeat("9", 100<<10)
	refused(r, "100 kB body", r.k.Reply("ob1", phone, 2, []string{huge}), http.StatusRequestEntityTooLarge)
}

func badPhone(r *rig) {
	refused(r, "phone abc", r.k.Dial("bp1", "abc", "*500#"), http.StatusBadRequest)
	// The same subscriber with or without "+": one dialogue.
	r.expect("dial", r.k.Dial("bp2", "254700000077", "*500#"), "Welcome", false)
	r.expect("reply with +", r.k.Reply("bp2", "+254700000077", 2, []string{"1"}), "Pick a fruit", false)
}

// guard: every endpoint the dialect declares refuses a caller without
// the secret, and takes it in the header or as a path segment.
func guard(r *rig) {
	dial := r.k.Dial("gd1", phone, "*500#")
	r.secret = ""
	defer func() { r.secret = Secret }()
	for _, dr := range r.k.Dialect.Routes() {
		q := Request{Suffix: dr.Suffix, ContentType: dial.ContentType, Body: dial.Body}
		if code, _, body := r.send(q); code != http.StatusForbidden {
			r.t.Errorf("%s without the secret: status %d, want 403: %q", base+dr.Suffix, code, body)
		}
		code, _, body := r.sendTo(r.url+base+"/wrong-secret-0123456789"+dr.Suffix, q)
		if code != http.StatusForbidden {
			r.t.Errorf("%s with a wrong path secret: status %d, want 403: %q", base+dr.Suffix, code, body)
		}
	}
	code, h, body := r.sendTo(r.url+base+"/"+Secret, dial)
	if code != http.StatusOK {
		r.t.Fatalf("dial with the path secret: status %d: %q", code, body)
	}
	if text, _, err := r.k.Read(code, h, body); err != nil || !strings.HasPrefix(text, "Welcome") {
		r.t.Errorf("dial with the path secret: %q, %v", text, err)
	}
}

// recorder is a tb that records failures instead of failing, for the
// kit's own tests.
type recorder struct{ failures []string }

type fatal struct{}

func (*recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

// failures runs every check against k and returns what failed, by check.
func failures(k Kit) map[string][]string {
	out := map[string][]string{}
	for _, c := range checks {
		rec := &recorder{}
		func() {
			defer func() {
				if p := recover(); p != nil {
					if _, ok := p.(fatal); !ok {
						panic(p)
					}
				}
			}()
			rg, stop := newRig(rec, k)
			defer stop()
			c.run(rg)
		}()
		if len(rec.failures) > 0 {
			out[c.name] = rec.failures
		}
	}
	return out
}
