package dialect_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/gateway/dialect"
)

// FuzzParse: no body makes any dialect panic, and what Parse refuses it
// refuses with a *dialect.Error carrying a 4xx status (what the gateway
// answers with); what it accepts has a kind and a session id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "{}", "null", `{"Type":"Initiation","Mobile":"1","SessionId":"x","Sequence":"7"}`,
		`{"MSGTYPE":"yes"}`, `{"newSession":1,"sessionID":"a","msisdn":"2"}`, "sessionId=a&phoneNumber=%2B1&text=1*2",
		`{"type":"end","session_id":"s","msisdn":"1","seq":-3}`, "%zz", "\x00\xff"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, events bool) {
		for _, name := range dialect.Names() {
			d, _ := dialect.Lookup(name)
			for _, rt := range d.Routes() {
				rt.Events = rt.Events || events
				for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
					r := httptest.NewRequest(http.MethodPost, "/u", strings.NewReader(body))
					r.Header.Set("Content-Type", ct)
					st, err := d.Parse(r, rt)
					if err != nil {
						var de *dialect.Error
						if !errors.As(err, &de) || de.Status < 400 || de.Status > 499 || de.Msg == "" {
							t.Fatalf("%s: %q: error %v is not a 4xx dialect.Error", name, body, err)
						}
						continue
					}
					if st.SessionID == "" {
						t.Fatalf("%s: %q: accepted without a session id: %+v", name, body, st)
					}
				}
			}
		}
	})
}
