package dialect

import (
	"net/http"
	"strings"

	"github.com/ussdgw/ussdgw/msisdn"
)

// AfricasTalking is Africa's Talking's USSD callback (docs/aggregators.md):
// a form POST with sessionId, serviceCode, phoneNumber, networkCode and
// text, every reply so far joined by "*" ("" on the dial, then "1",
// "1*2"...), answered in text/plain, "CON " to continue or "END " to end.
// The end-of-session notice is a form POST to the events URL with a
// status: Incomplete or Failed mean the dialogue was cut.
type AfricasTalking struct{}

func init() { register(AfricasTalking{}) }

// maxSessionID bounds an aggregator's session id.
const maxSessionID = 128

func (AfricasTalking) Name() string { return "africastalking" }

func (AfricasTalking) Routes() []Route {
	return []Route{{Suffix: ""}, {Suffix: "/events", Events: true}}
}

func (AfricasTalking) Parse(r *http.Request, route Route) (Step, error) {
	if err := ParseForm(r); err != nil {
		return Step{}, err
	}
	sessionID := strings.TrimSpace(r.FormValue("sessionId"))
	phone := r.FormValue("phoneNumber")
	if route.Events {
		if sessionID == "" || phone == "" {
			return Step{}, Bad("missing sessionId or phoneNumber")
		}
		st := strings.ToLower(strings.TrimSpace(r.FormValue("status")))
		return Step{Kind: Ended, SessionID: sessionID, Phone: phone, Cut: st == "incomplete" || st == "failed"}, nil
	}
	switch {
	case sessionID == "":
		return Step{}, Bad("missing sessionId")
	case len(sessionID) > maxSessionID:
		return Step{}, Bad("sessionId too long")
	case phone == "":
		return Step{}, Bad("missing phoneNumber")
	}
	if _, ok := msisdn.Normalize(phone); !ok {
		return Step{}, Bad("phoneNumber is not a phone number")
	}
	text := r.FormValue("text")
	// A shortcut *384*1*2# reaches Africa's Talking as serviceCode *384#
	// and text 1*2; on later hops the session is found by id.
	var dialled string
	if code := strings.TrimSpace(r.FormValue("serviceCode")); code != "" {
		dialled = Dialled(code, text)
	}
	return Step{SessionID: sessionID, Phone: phone, Dialled: dialled, Text: text, Cumulative: true}, nil
}

func (AfricasTalking) Write(w http.ResponseWriter, st Step, a Answer) error {
	if st.Kind == Ended {
		return PlainText(w, http.StatusOK, "OK\n")
	}
	prefix := "CON "
	if a.End {
		prefix = "END "
	}
	return PlainText(w, http.StatusOK, prefix+a.Text)
}

func (AfricasTalking) Refuse(w http.ResponseWriter, status int, msg string) error {
	return refusePlain(w, status, msg)
}
