package ussd

import (
	"context"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/ussdgw/ussdgw/limits"
)

// Step describes one answered step for an observer (metrics): no phone
// number, only what may be counted.
type Step struct {
	// Service is the flow id, "" when the message reached no service (an
	// unknown code, a reply to an expired session).
	Service string
	// Channel is the Manager's Config.Channel ("" for USSD, "sms").
	Channel string
	// Session tells dialogues apart without naming the number: a hash of
	// the number and the transport's session id. Never a label.
	Session string
	// Outcome is "continue" (a CON screen), "end" (the session ended),
	// "unknown" (no service) or "error" (the store or a step failed; the
	// user saw an apology); "limited" or "denied" when the per-number
	// limits refused the message.
	Outcome  string
	Duration time.Duration
}

// observe tells Config.Observe about a step once it is answered.
func (m *Manager) observe(ctx context.Context, req Request, start time.Time, resp *Response, err *error) {
	if m.cfg.Observe == nil {
		return
	}
	s := Step{Service: resp.Service, Channel: m.cfg.Channel, Session: sessionHash(req), Duration: time.Since(start)}
	switch {
	case resp.Refused != limits.Allowed:
		s.Outcome = resp.Refused.String() // "limited" or "denied"
	case *err != nil:
		s.Outcome = "error"
	case resp.Service == "":
		s.Outcome = "unknown"
	case resp.End:
		s.Outcome = "end"
	default:
		s.Outcome = "continue"
	}
	m.cfg.Observe(ctx, s)
}

func sessionHash(req Request) string {
	h := fnv.New64a()
	h.Write([]byte(req.MSISDN))
	h.Write([]byte{0})
	h.Write([]byte(req.SessionID))
	return strconv.FormatUint(h.Sum64(), 36)
}
