package dialect_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/gateway/dialect"
	"github.com/ussdgw/ussdgw/gateway/dialect/dialecttest"
)

// The requests below are written the way each aggregator's documentation
// shows them (docs/aggregators.md), not built with the dialect's own
// types: the kit checks the dialect against the wire, not against itself.

func form(v url.Values) dialecttest.Request {
	return dialecttest.Request{ContentType: "application/x-www-form-urlencoded", Body: v.Encode()}
}

func js(v map[string]any) dialecttest.Request {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return dialecttest.Request{ContentType: "application/json", Body: string(b)}
}

func last(inputs []string) string { return inputs[len(inputs)-1] }

// readJSON decodes a JSON answer into m, after checking its status and
// content type.
func readJSON(status int, h http.Header, body []byte) (map[string]any, error) {
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d", status)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("content type %q", ct)
	}
	var m map[string]any
	err := json.Unmarshal(body, &m)
	return m, err
}

func str(m map[string]any, k string) (string, error) {
	s, ok := m[k].(string)
	if !ok {
		return "", fmt.Errorf("no string %s in %v", k, m)
	}
	return s, nil
}

func boolean(m map[string]any, k string) (bool, error) {
	b, ok := m[k].(bool)
	if !ok {
		return false, fmt.Errorf("no boolean %s in %v", k, m)
	}
	return b, nil
}

func TestAfricasTalking(t *testing.T) { dialecttest.Run(t, atKit()) }

func atKit() dialecttest.Kit {
	at := func(id, phone, code, text string) url.Values {
		return url.Values{"sessionId": {id}, "phoneNumber": {"+" + strings.TrimPrefix(phone, "+")}, "serviceCode": {code},
			"networkCode": {"63902"}, "text": {text}}
	}
	return dialecttest.Kit{
		Dialect: dialect.AfricasTalking{},
		Dial:    func(id, phone, code string) dialecttest.Request { return form(at(id, phone, code, "")) },
		Reply: func(id, phone string, _ int, inputs []string) dialecttest.Request {
			return form(at(id, phone, "*500#", strings.Join(inputs, "*")))
		},
		End: func(id, phone string) dialecttest.Request {
			q := form(url.Values{"sessionId": {id}, "phoneNumber": {"+" + phone}, "serviceCode": {"*500#"},
				"status": {"Incomplete"}, "networkCode": {"63902"}, "hopsCount": {"2"}, "durationInMillis": {"20000"}})
			q.Suffix = "/events"
			return q
		},
		Read: func(status int, h http.Header, body []byte) (string, bool, error) {
			if status != http.StatusOK {
				return "", false, fmt.Errorf("status %d", status)
			}
			if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				return "", false, fmt.Errorf("content type %q", ct)
			}
			s := string(body)
			switch {
			case strings.HasPrefix(s, "CON "):
				return s[4:], false, nil
			case strings.HasPrefix(s, "END "):
				return s[4:], true, nil
			}
			return "", false, errors.New("neither CON nor END")
		},
		Missing: []dialecttest.Request{
			form(url.Values{"phoneNumber": {"+254700000001"}, "serviceCode": {"*500#"}, "text": {""}}),
			form(url.Values{"sessionId": {"m1"}, "serviceCode": {"*500#"}, "text": {""}}),
			{Suffix: "/events", ContentType: "application/x-www-form-urlencoded", Body: "status=Incomplete&phoneNumber=%2B254700000001"},
		},
		Retries: true,
	}
}

// hubtelKit is Hubtel's and Emergent's: the same request; their answers
// differ in the case of Type and the fields beside it.
func hubtelKit(d dialect.Dialect, lower bool) dialecttest.Kit {
	req := func(typ, id, phone, msg string, seq int) map[string]any {
		return map[string]any{"Type": typ, "Mobile": phone, "SessionId": id, "ServiceCode": "500", "Message": msg,
			"Operator": "mtn", "Sequence": seq, "ClientState": "", "Platform": "USSD"}
	}
	return dialecttest.Kit{
		Dialect: d,
		Dial:    func(id, phone, code string) dialecttest.Request { return js(req("Initiation", id, phone, code, 1)) },
		Reply: func(id, phone string, seq int, inputs []string) dialecttest.Request {
			return js(req("Response", id, phone, last(inputs), seq))
		},
		End: func(id, phone string) dialecttest.Request { return js(req("Timeout", id, phone, "", 3)) },
		Read: func(status int, h http.Header, body []byte) (string, bool, error) {
			m, err := readJSON(status, h, body)
			if err != nil {
				return "", false, err
			}
			typ, err := str(m, "Type")
			if err != nil {
				return "", false, err
			}
			msg, err := str(m, "Message")
			if err != nil {
				return "", false, err
			}
			cont, end := "Response", "Release"
			if lower {
				cont, end = "response", "release"
				if id, _ := m["SessionId"].(string); id == "" {
					return "", false, errors.New("no SessionId in the answer")
				}
			}
			switch typ {
			case cont:
				return msg, false, nil
			case end:
				return msg, true, nil
			}
			return "", false, fmt.Errorf("Type %q", typ)
		},
		Missing: []dialecttest.Request{
			js(map[string]any{"Type": "Initiation", "Mobile": "233200000001", "Message": "*500#", "Sequence": 1}),
			js(map[string]any{"Type": "Initiation", "SessionId": "m1", "Message": "*500#", "Sequence": 1}),
			js(map[string]any{"Mobile": "233200000001", "SessionId": "m1", "Message": "*500#", "Sequence": 1}),
			js(map[string]any{"Type": "Dial", "Mobile": "233200000001", "SessionId": "m1", "Message": "*500#"}),
		},
		Retries: true,
	}
}

func TestHubtel(t *testing.T) { dialecttest.Run(t, hubtelKit(mustLookup("hubtel"), true)) }

func TestEmergent(t *testing.T) { dialecttest.Run(t, hubtelKit(mustLookup("emergent"), false)) }

func mustLookup(name string) dialect.Dialect {
	d, ok := dialect.Lookup(name)
	if !ok {
		panic("no dialect " + name)
	}
	return d
}

func TestNalo(t *testing.T) { dialecttest.Run(t, naloKit()) }

func naloKit() dialecttest.Kit {
	req := func(id, phone, data string, first bool) map[string]any {
		return map[string]any{"USERID": "NALOTest", "MSISDN": phone, "USERDATA": data, "MSGTYPE": first, "NETWORK": "MTN", "SESSIONID": id}
	}
	return dialecttest.Kit{
		Dialect: dialect.Nalo{},
		Dial:    func(id, phone, code string) dialecttest.Request { return js(req(id, phone, code, true)) },
		Reply: func(id, phone string, _ int, inputs []string) dialecttest.Request {
			return js(req(id, phone, last(inputs), false))
		},
		Read: func(status int, h http.Header, body []byte) (string, bool, error) {
			m, err := readJSON(status, h, body)
			if err != nil {
				return "", false, err
			}
			if id, _ := m["USERID"].(string); id != "NALOTest" {
				return "", false, fmt.Errorf("USERID %q not echoed", id)
			}
			msg, err := str(m, "MSG")
			if err != nil {
				return "", false, err
			}
			more, err := boolean(m, "MSGTYPE")
			return msg, !more, err
		},
		Missing: []dialecttest.Request{
			js(map[string]any{"USERID": "NALOTest", "USERDATA": "*500#", "MSGTYPE": true, "SESSIONID": "m1"}),
			js(map[string]any{"MSISDN": "233200000001", "USERDATA": "*500#", "MSGTYPE": true, "SESSIONID": "m1"}),
			js(map[string]any{"USERID": "NALOTest", "MSISDN": "233200000001", "USERDATA": "", "MSGTYPE": true, "SESSIONID": "m1"}),
		},
	}
}

func TestArkesel(t *testing.T) { dialecttest.Run(t, arkeselKit()) }

func arkeselKit() dialecttest.Kit {
	req := func(id, phone, data string, first bool) map[string]any {
		return map[string]any{"sessionID": id, "userID": "acct1", "newSession": first, "msisdn": phone, "userData": data, "network": "MTN"}
	}
	return dialecttest.Kit{
		Dialect: dialect.Arkesel{},
		Dial:    func(id, phone, code string) dialecttest.Request { return js(req(id, phone, code, true)) },
		Reply: func(id, phone string, _ int, inputs []string) dialecttest.Request {
			return js(req(id, phone, last(inputs), false))
		},
		Read: func(status int, h http.Header, body []byte) (string, bool, error) {
			m, err := readJSON(status, h, body)
			if err != nil {
				return "", false, err
			}
			if id, _ := m["sessionID"].(string); id == "" {
				return "", false, errors.New("sessionID not echoed")
			}
			msg, err := str(m, "message")
			if err != nil {
				return "", false, err
			}
			more, err := boolean(m, "continueSession")
			return msg, !more, err
		},
		Missing: []dialecttest.Request{
			js(map[string]any{"userID": "acct1", "newSession": true, "msisdn": "233200000001", "userData": "*500#"}),
			js(map[string]any{"sessionID": "m1", "userID": "acct1", "newSession": true, "userData": "*500#"}),
			js(map[string]any{"sessionID": "m1", "userID": "acct1", "newSession": true, "msisdn": "233200000001"}),
		},
	}
}

func TestGeneric(t *testing.T) {
	dialecttest.Run(t, dialecttest.GenericKit())
}
