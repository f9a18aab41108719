package dialect

import (
	"net/http"
	"strings"
)

// Generic is the gateway's own JSON dialect, for an aggregator or a
// front-end without a dialect of its own: put a small adapter (a few
// lines in the aggregator's tooling, or a proxy) that speaks it. It is
// documented in docs/aggregators.md ("Generic JSON"):
//
//	request:  {"session_id": "s1", "msisdn": "+254700000001",
//	           "type": "begin" | "continue" | "end",
//	           "dialled": "*500#",   (begin)
//	           "input": "1",         (continue)
//	           "seq": 2,             (optional: 1 on begin, +1 per message)
//	           "reason": "timeout"}  (end: "completed", or why it was cut)
//	answer:   {"session_id": "s1", "text": "...", "end": false}
//	end ack:  {"session_id": "s1", "ok": true}
//	refusal:  {"error": "missing session_id"} with a 4xx status
type Generic struct{}

func init() { register(Generic{}) }

func (Generic) Name() string { return "json" }

func (Generic) Routes() []Route { return []Route{{Suffix: ""}} }

type genericRequest struct {
	SessionID string  `json:"session_id"`
	MSISDN    string  `json:"msisdn"`
	Type      string  `json:"type"`
	Dialled   string  `json:"dialled"`
	Input     string  `json:"input"`
	Seq       flexInt `json:"seq"`
	Reason    string  `json:"reason"`
}

type genericAnswer struct {
	SessionID string `json:"session_id"`
	Text      string `json:"text"`
	End       bool   `json:"end"`
}

func (Generic) Parse(r *http.Request, _ Route) (Step, error) {
	var q genericRequest
	if err := DecodeJSON(r, &q); err != nil {
		return Step{}, err
	}
	q.SessionID = strings.TrimSpace(q.SessionID)
	switch {
	case q.SessionID == "":
		return Step{}, Bad("missing session_id")
	case len(q.SessionID) > maxSessionID:
		return Step{}, Bad("session_id too long")
	case q.MSISDN == "":
		return Step{}, Bad("missing msisdn")
	}
	st := Step{SessionID: q.SessionID, Phone: q.MSISDN, Seq: int(q.Seq), Echo: q.SessionID}
	switch q.Type {
	case "begin":
		d := strings.TrimSpace(q.Dialled)
		if !IsUSSDString(d) {
			return Step{}, Bad("dialled must be a code like *500# on begin")
		}
		st.New, st.Dialled = true, d
	case "continue":
		st.Input = q.Input
	case "end":
		st.Kind, st.Cut = Ended, q.Reason != "completed"
	case "":
		return Step{}, Bad("missing type (begin, continue or end)")
	default:
		return Step{}, Bad("type %q is not begin, continue or end", truncate(q.Type))
	}
	return st, nil
}

func (Generic) Write(w http.ResponseWriter, st Step, a Answer) error {
	id, _ := st.Echo.(string)
	if st.Kind == Ended {
		return WriteJSON(w, map[string]any{"session_id": id, "ok": true})
	}
	return WriteJSON(w, genericAnswer{SessionID: id, Text: a.Text, End: a.End})
}

func (Generic) Refuse(w http.ResponseWriter, status int, msg string) error {
	return writeJSONStatus(w, status, map[string]string{"error": msg})
}
