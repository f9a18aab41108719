package dialect

import (
	"net/http"
	"strings"
)

// Arkesel is Arkesel's USSD API (docs/aggregators.md): a JSON POST per
// message with sessionID, userID (the account), newSession (true on the
// first message, whose userData is the dialled string), msisdn, userData
// (then one reply per request) and network; the answer is JSON with
// sessionID, userID, msisdn, message and continueSession (false ends the
// dialogue). Arkesel sends no end-of-session notice.
type Arkesel struct{}

func init() { register(Arkesel{}) }

func (Arkesel) Name() string { return "arkesel" }

func (Arkesel) Routes() []Route { return []Route{{Suffix: ""}} }

type arkeselRequest struct {
	SessionID  string   `json:"sessionID"`
	UserID     string   `json:"userID"`
	NewSession flexBool `json:"newSession"`
	MSISDN     string   `json:"msisdn"`
	UserData   string   `json:"userData"`
	Network    string   `json:"network"`
}

type arkeselAnswer struct {
	SessionID       string `json:"sessionID"`
	UserID          string `json:"userID"`
	MSISDN          string `json:"msisdn"`
	Message         string `json:"message"`
	ContinueSession bool   `json:"continueSession"`
}

func (Arkesel) Parse(r *http.Request, _ Route) (Step, error) {
	var q arkeselRequest
	if err := DecodeJSON(r, &q); err != nil {
		return Step{}, err
	}
	q.SessionID = strings.TrimSpace(q.SessionID)
	switch {
	case q.SessionID == "":
		return Step{}, Bad("missing sessionID")
	case len(q.SessionID) > maxSessionID:
		return Step{}, Bad("sessionID too long")
	case q.MSISDN == "":
		return Step{}, Bad("missing msisdn")
	}
	echo := arkeselAnswer{SessionID: q.SessionID, UserID: q.UserID, MSISDN: q.MSISDN}
	st := Step{SessionID: q.SessionID, Phone: q.MSISDN, Echo: echo}
	if q.NewSession {
		st.New = true
		d := strings.TrimSpace(q.UserData)
		if !IsUSSDString(d) {
			return Step{}, Bad("userData of the first message (newSession true) is not a dialled code like *920#")
		}
		st.Dialled = d
	} else {
		st.Input = q.UserData
	}
	return st, nil
}

func (Arkesel) Write(w http.ResponseWriter, st Step, a Answer) error {
	ans, _ := st.Echo.(arkeselAnswer)
	ans.Message, ans.ContinueSession = a.Text, !a.End && st.Kind == Message
	return WriteJSON(w, ans)
}

func (Arkesel) Refuse(w http.ResponseWriter, status int, msg string) error {
	return refusePlain(w, status, msg)
}
