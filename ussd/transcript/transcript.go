// Package transcript runs golden USSD transcripts: plain-text files that
// say what a user dials and types and what each screen must show, played
// through a real ussd.Manager, as an aggregator would send them. It imports
// package ussd only, and must not import a transport.
//
// A transcript is a sequence of blocks:
//
//	# a comment
//	> *384#                 dial: a new session (a string starting with * and ending with #)
//	CON Market prices       the expected answer: CON or END, then the screen
//	1. Check prices
//	> 1                     an input in the current session
//	CON ...
//	@ wait 200s             let time pass (session timeouts, resume windows)
//	@ abort                 the network cuts the current session
//	@ retry                 send the last request again (a duplicate)
//	@ msisdn 254700000002   act as another subscriber from now on
//	@ sms                   the next SMS sent to the user (the lines that follow)
//	@ slow prices           a hook of the test (here: make the prices adapter slow)
//
// Inputs go to the manager the way Africa's Talking sends them: the
// cumulative text of the session, inputs joined by "*".
package transcript

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
)

// Step is one line that acts, with the answer expected after it.
type Step struct {
	Line   int
	Action string // "dial", "input", "wait", "abort", "retry", "msisdn"
	Arg    string
	Want   string // "CON ..." or "END ...", lines joined by \n; "" for control steps
	HasOut bool
}

// Parse reads a transcript.
func Parse(data []byte) ([]Step, error) {
	var steps []Step
	var want []string
	flush := func() {
		if len(steps) > 0 && len(want) > 0 {
			steps[len(steps)-1].Want = strings.Join(want, "\n")
			steps[len(steps)-1].HasOut = true
		}
		want = want[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, ">"):
			flush()
			arg := strings.TrimSpace(line[1:])
			action := "input"
			if strings.HasPrefix(arg, "*") && strings.HasSuffix(arg, "#") {
				action = "dial"
			}
			steps = append(steps, Step{Line: n, Action: action, Arg: arg})
		case strings.HasPrefix(line, "@"):
			flush()
			f := strings.Fields(line[1:])
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: @ needs a command", n)
			}
			st := Step{Line: n, Action: f[0]}
			switch f[0] {
			case "wait", "msisdn":
				if len(f) != 2 {
					return nil, fmt.Errorf("line %d: @ %s needs one argument", n, f[0])
				}
				st.Arg = f[1]
			case "abort", "retry", "sms":
			default:
				st.Arg = strings.Join(f[1:], " ") // a hook's command
			}
			steps = append(steps, st)
		default:
			if len(steps) == 0 {
				return nil, fmt.Errorf("line %d: a screen before any > line", n)
			}
			want = append(want, line)
		}
	}
	flush()
	return steps, sc.Err()
}

// Clock is a settable clock for the manager under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Result is what one acting step got back.
type Result struct {
	Step Step
	Got  string
}

// Player plays transcripts against a manager.
type Player struct {
	M      *ussd.Manager
	Clock  *Clock
	MSISDN string // the subscriber, 254700000001 unless set
	// Session ids are prefix-1, prefix-2, ... so that two players on one
	// store do not collide.
	Prefix string

	// Outbox returns the SMS sent so far (for @ sms), Hooks the test's own
	// @ commands.
	Outbox func() []string
	// SMSWait is how long @ sms waits for an SMS that may still be on its
	// way (a late result after an @ slow adapter); 3s when zero.
	SMSWait time.Duration
	Hooks   map[string]func(arg string) error
	// Before, when set, is called with each step before it is played
	// (to know which step an adapter call belongs to).
	Before func(Step)

	sessions int
	smsSeen  int
	sid      string
	text     string
	inputs   int
	last     ussd.Request
}

// Play runs steps and returns what every acting step got.
func (p *Player) Play(ctx context.Context, steps []Step) ([]Result, error) {
	if p.MSISDN == "" {
		p.MSISDN = "254700000001"
	}
	var out []Result
	for _, st := range steps {
		if p.Before != nil {
			p.Before(st)
		}
		switch st.Action {
		case "wait":
			d, err := time.ParseDuration(st.Arg)
			if err != nil {
				return out, fmt.Errorf("line %d: %w", st.Line, err)
			}
			p.Clock.Advance(d)
			continue
		case "msisdn":
			p.MSISDN = st.Arg
			continue
		case "abort":
			if err := p.M.Abort(ctx, msisdn.MSISDN(p.MSISDN), p.sid); err != nil {
				return out, fmt.Errorf("line %d: abort: %w", st.Line, err)
			}
			continue
		case "sms":
			got, err := p.nextSMS()
			if err != nil {
				return out, fmt.Errorf("line %d: %w", st.Line, err)
			}
			out = append(out, Result{Step: st, Got: got})
			continue
		case "dial", "input", "retry":
		default:
			hook, ok := p.Hooks[st.Action]
			if !ok {
				return out, fmt.Errorf("line %d: unknown command @ %s", st.Line, st.Action)
			}
			if err := hook(st.Arg); err != nil {
				return out, fmt.Errorf("line %d: @ %s: %w", st.Line, st.Action, err)
			}
			continue
		}
		var req ussd.Request
		switch st.Action {
		case "dial":
			p.sessions++
			p.sid = p.Prefix + "-" + strconv.Itoa(p.sessions)
			p.text, p.inputs = shortcutText(st.Arg), 0
			req = ussd.Request{SessionID: p.sid, MSISDN: msisdn.MSISDN(p.MSISDN), Dialled: st.Arg, Text: p.text, Cumulative: true}
		case "input":
			if p.sid == "" {
				return out, fmt.Errorf("line %d: an input before any dial", st.Line)
			}
			if p.text == "" && p.inputs == 0 {
				p.text = st.Arg
			} else {
				p.text += "*" + st.Arg
			}
			p.inputs++
			req = ussd.Request{SessionID: p.sid, MSISDN: msisdn.MSISDN(p.MSISDN), Dialled: p.last.Dialled, Text: p.text, Cumulative: true}
		case "retry":
			req = p.last
		}
		p.last = req
		resp, err := p.M.Handle(ctx, req)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", st.Line, err)
		}
		got := "CON " + resp.Text
		if resp.End {
			got = "END " + resp.Text
		}
		out = append(out, Result{Step: st, Got: got})
	}
	return out, nil
}

// nextSMS waits (a little: late results come from another goroutine) for
// an SMS not yet checked.
func (p *Player) nextSMS() (string, error) {
	if p.Outbox == nil {
		return "", fmt.Errorf("@ sms: the test has no outbox")
	}
	wait := p.SMSWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if box := p.Outbox(); len(box) > p.smsSeen {
			p.smsSeen++
			return box[p.smsSeen-1], nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("@ sms: no SMS was sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shortcutText is the text an aggregator sends on the first hop of a
// shortcut dial: *384*1*2# arrives as "1*2" (and *384# as ""). The
// manager routes on Dialled; this only shapes the cumulative text.
func shortcutText(d string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(d, "*"), "#")
	if _, rest, ok := strings.Cut(inner, "*"); ok {
		return rest
	}
	return ""
}

// Rewrite returns the transcript with every expected screen replaced by
// what was got: the -update mode of golden tests.
func Rewrite(data []byte, results []Result) []byte {
	got := map[int]string{}
	for _, r := range results {
		got[r.Step.Line] = r.Got
	}
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	skipping := false
	for sc.Scan() {
		n++
		line := sc.Text()
		t := strings.TrimSpace(line)
		isDirective := strings.HasPrefix(t, ">") || strings.HasPrefix(t, "@")
		if skipping && !isDirective && t != "" && !strings.HasPrefix(t, "#") {
			continue
		}
		skipping = false
		b.WriteString(line)
		b.WriteByte('\n')
		if g, ok := got[n]; ok {
			b.WriteString(g)
			b.WriteByte('\n')
			skipping = true
		}
	}
	return b.Bytes()
}

// ReadFile parses a transcript file.
func ReadFile(path string) ([]Step, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	steps, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return steps, data, nil
}
