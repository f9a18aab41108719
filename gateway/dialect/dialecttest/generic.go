package dialecttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ussdgw/ussdgw/gateway/dialect"
)

// GenericKit is the Kit of the generic JSON dialect (dialect.Generic),
// written from its documentation in docs/aggregators.md. The kit's own
// tests use it as the dialect known to pass.
func GenericKit() Kit {
	js := func(v map[string]any) Request {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return Request{ContentType: "application/json", Body: string(b)}
	}
	return Kit{
		Dialect: dialect.Generic{},
		Dial: func(id, phone, code string) Request {
			return js(map[string]any{"session_id": id, "msisdn": phone, "type": "begin", "dialled": code, "seq": 1})
		},
		Reply: func(id, phone string, seq int, inputs []string) Request {
			return js(map[string]any{"session_id": id, "msisdn": phone, "type": "continue", "input": inputs[len(inputs)-1], "seq": seq})
		},
		End: func(id, phone string) Request {
			return js(map[string]any{"session_id": id, "msisdn": phone, "type": "end", "reason": "timeout"})
		},
		Read: func(status int, h http.Header, body []byte) (string, bool, error) {
			if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
				return "", false, fmt.Errorf("status %d, content type %q", status, h.Get("Content-Type"))
			}
			var a struct {
				SessionID string  `json:"session_id"`
				Text      *string `json:"text"`
				End       *bool   `json:"end"`
			}
			if err := json.Unmarshal(body, &a); err != nil {
				return "", false, err
			}
			if a.Text == nil || a.End == nil || a.SessionID == "" {
				return "", false, errors.New("session_id, text or end missing")
			}
			return *a.Text, *a.End, nil
		},
		Missing: []Request{
			js(map[string]any{"msisdn": "254700000001", "type": "begin", "dialled": "*500#"}),
			js(map[string]any{"session_id": "m1", "type": "begin", "dialled": "*500#"}),
			js(map[string]any{"session_id": "m1", "msisdn": "254700000001", "dialled": "*500#"}),
			js(map[string]any{"session_id": "m1", "msisdn": "254700000001", "type": "begin"}),
			js(map[string]any{"session_id": "m1", "msisdn": "254700000001", "type": "start", "dialled": "*500#"}),
		},
		Retries: true,
	}
}
