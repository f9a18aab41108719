package dialect

import (
	"net/http"
	"strings"
)

// Nalo is Nalo Solutions' USSD API (docs/aggregators.md): a JSON POST per
// message with USERID (the account), MSISDN, USERDATA, MSGTYPE (true on
// the first message, whose USERDATA is the dialled string, false after,
// USERDATA then being one reply), NETWORK and SESSIONID; the answer is
// JSON with USERID, MSISDN, MSG and MSGTYPE (true: continue, false: end).
// Nalo sends no end-of-session notice.
type Nalo struct{}

func init() { register(Nalo{}) }

func (Nalo) Name() string { return "nalo" }

func (Nalo) Routes() []Route { return []Route{{Suffix: ""}} }

type naloRequest struct {
	UserID    string   `json:"USERID"`
	MSISDN    string   `json:"MSISDN"`
	UserData  string   `json:"USERDATA"`
	MsgType   flexBool `json:"MSGTYPE"`
	Network   string   `json:"NETWORK"`
	SessionID string   `json:"SESSIONID"`
}

type naloEcho struct{ userID, msisdn string }

func (Nalo) Parse(r *http.Request, _ Route) (Step, error) {
	var q naloRequest
	if err := DecodeJSON(r, &q); err != nil {
		return Step{}, err
	}
	q.SessionID = strings.TrimSpace(q.SessionID)
	switch {
	case q.MSISDN == "":
		return Step{}, Bad("missing MSISDN")
	case q.UserID == "":
		return Step{}, Bad("missing USERID")
	case len(q.SessionID) > maxSessionID:
		return Step{}, Bad("SESSIONID too long")
	}
	st := Step{SessionID: q.SessionID, Phone: q.MSISDN, Echo: naloEcho{q.UserID, q.MSISDN}}
	if st.SessionID == "" {
		// Older integrations carry no SESSIONID: a phone has one dialogue
		// at a time and MSGTYPE marks its start, so the number is the id.
		st.SessionID = "nalo:" + q.MSISDN
	}
	if q.MsgType {
		st.New = true
		if d := strings.TrimSpace(q.UserData); IsUSSDString(d) {
			st.Dialled = d
		} else {
			return Step{}, Bad("USERDATA of the first message (MSGTYPE true) is not a dialled code like *920#")
		}
	} else {
		st.Input = q.UserData
	}
	return st, nil
}

type naloAnswer struct {
	UserID  string `json:"USERID"`
	MSISDN  string `json:"MSISDN"`
	MSG     string `json:"MSG"`
	MsgType bool   `json:"MSGTYPE"`
}

func (Nalo) Write(w http.ResponseWriter, st Step, a Answer) error {
	e, _ := st.Echo.(naloEcho)
	return WriteJSON(w, naloAnswer{UserID: e.userID, MSISDN: e.msisdn, MSG: a.Text, MsgType: !a.End && st.Kind == Message})
}

func (Nalo) Refuse(w http.ResponseWriter, status int, msg string) error {
	return refusePlain(w, status, msg)
}
