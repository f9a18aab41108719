package dialect

import (
	"net/http"
	"strings"
)

// Hubtel is Hubtel's USSD API (Programmable Services), and Emergent
// Technology's (Interpay), which took the same request shape
// (docs/aggregators.md): a JSON POST per message with Type (Initiation,
// Response, Release, Timeout), Mobile, SessionId, ServiceCode, Message
// (the whole dialled string on Initiation, then one reply per request),
// Operator and Sequence (1 for the Initiation, one more per message); the
// answer is JSON with Type Response (continue) or Release (end) and
// Message. Release and Timeout requests are the aggregator's notice that
// the dialogue ended on its side; they come to the same URL.
type Hubtel struct {
	name string
	// lower: Hubtel's current API writes the answer's Type in lower case
	// ("response", "release") and adds Label, DataType and FieldType for
	// its other channels; Emergent's keeps "Response"/"Release".
	lower bool
}

func init() {
	register(Hubtel{name: "hubtel", lower: true})
	register(Hubtel{name: "emergent"})
}

func (h Hubtel) Name() string { return h.name }

func (Hubtel) Routes() []Route { return []Route{{Suffix: ""}} }

type hubtelRequest struct {
	Type        string
	Mobile      string
	SessionID   string `json:"SessionId"`
	ServiceCode string
	Message     string
	Operator    string
	Sequence    flexInt
	ClientState string
}

func (h Hubtel) Parse(r *http.Request, _ Route) (Step, error) {
	var q hubtelRequest
	if err := DecodeJSON(r, &q); err != nil {
		return Step{}, err
	}
	q.SessionID = strings.TrimSpace(q.SessionID)
	switch {
	case q.SessionID == "":
		return Step{}, Bad("missing SessionId")
	case len(q.SessionID) > maxSessionID:
		return Step{}, Bad("SessionId too long")
	case q.Mobile == "":
		return Step{}, Bad("missing Mobile")
	}
	st := Step{SessionID: q.SessionID, Phone: q.Mobile, Seq: int(q.Sequence), Echo: q.SessionID}
	switch strings.ToLower(strings.TrimSpace(q.Type)) {
	case "initiation":
		st.New = true
		// Message is the whole string dialled (*713*1#); ServiceCode the
		// code alone (713, or 713*4 for an extension of a shared code).
		if IsUSSDString(strings.TrimSpace(q.Message)) {
			st.Dialled = strings.TrimSpace(q.Message)
		} else {
			st.Dialled = CodeString(q.ServiceCode)
		}
	case "response":
		st.Input = q.Message
	case "release", "timeout":
		st.Kind, st.Cut = Ended, true
	case "":
		return Step{}, Bad("missing Type")
	default:
		return Step{}, Bad("Type %q is not Initiation, Response, Release or Timeout", truncate(q.Type))
	}
	return st, nil
}

type hubtelAnswer struct {
	SessionID     string `json:"SessionId,omitempty"`
	Type          string `json:"Type"`
	Message       string `json:"Message"`
	Label         string `json:"Label,omitempty"`
	DataType      string `json:"DataType,omitempty"`
	FieldType     string `json:"FieldType,omitempty"`
	MaskNextRoute *bool  `json:"MaskNextRoute,omitempty"`
}

func (h Hubtel) Write(w http.ResponseWriter, st Step, a Answer) error {
	typ := "Response"
	if a.End || st.Kind == Ended {
		typ = "Release"
	}
	ans := hubtelAnswer{Type: typ, Message: a.Text}
	if h.lower {
		ans.SessionID, _ = st.Echo.(string)
		ans.Type = strings.ToLower(typ)
		ans.Label, ans.DataType, ans.FieldType = firstLine(a.Text), "input", "text"
		if ans.Type == "release" {
			ans.DataType = "display"
		}
	} else {
		no := false
		ans.MaskNextRoute = &no
	}
	return WriteJSON(w, ans)
}

func (Hubtel) Refuse(w http.ResponseWriter, status int, msg string) error {
	return refusePlain(w, status, msg)
}

// truncate bounds a value quoted back in an error.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
