package studio_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/studio"
)

// Without a login, every page sends to the login form, every API call is
// 401 and nothing changes; only the login form and the static files
// answer.
func TestNothingAnswersStrangers(t *testing.T) {
	r := newRig(t)
	c := r.client(t)
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/studio/", http.StatusSeeOther},
		{"GET", "/studio", http.StatusMovedPermanently},
		{"GET", "/studio/api/services", http.StatusUnauthorized},
		{"GET", "/studio/api/phone", http.StatusUnauthorized},
		{"POST", "/studio/api/dial", http.StatusUnauthorized},
		{"POST", "/studio/api/reply", http.StatusUnauthorized},
		{"POST", "/studio/api/hangup", http.StatusUnauthorized},
		{"POST", "/studio/api/number", http.StatusUnauthorized},
		{"POST", "/studio/api/logout", http.StatusUnauthorized},
		{"GET", "/studio/api/report/market", http.StatusUnauthorized},
		{"GET", "/studio/api/diagram/market", http.StatusUnauthorized},
		{"GET", "/studio/login", http.StatusOK},
		{"GET", "/studio/static/app.js", http.StatusOK},
		{"GET", "/studio/static/style.css", http.StatusOK},
		{"GET", "/studio/static/", http.StatusNotFound},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, r.srv.URL+tc.path, strings.NewReader(`{"code":"*384#"}`))
		req.Header.Set("Content-Type", "application/json")
		// A stolen-looking cookie is no login either.
		req.AddCookie(&http.Cookie{Name: "ussdgw_studio", Value: "forged"})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s %s: CSP %q", tc.method, tc.path, csp)
		}
	}
	if got := r.inbox.Messages("999000000001"); len(got) != 0 {
		t.Errorf("inbox = %v", got)
	}
}

func TestLogin(t *testing.T) {
	r := newRig(t)
	_, readOnly, err := r.keys.Create(context.Background(), "reader", []apikeys.Scope{apikeys.Read})
	if err != nil {
		t.Fatal(err)
	}
	_, admin, err := r.keys.Create(context.Background(), "boss", []apikeys.Scope{apikeys.Admin})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, key string
		want      int
	}{
		{"empty", "", http.StatusUnauthorized},
		{"wrong", "ugw_nope_nope", http.StatusUnauthorized},
		{"no studio scope", readOnly, http.StatusUnauthorized},
		{"studio scope", r.key, http.StatusSeeOther},
		{"admin", admin, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := r.client(t)
			resp := r.login(t, c, tc.key)
			if resp.StatusCode != tc.want {
				t.Fatalf("login = %d, want %d", resp.StatusCode, tc.want)
			}
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == "ussdgw_studio" {
					cookie = ck
				}
			}
			api := r.get(t, c, "phone", nil)
			if tc.want != http.StatusSeeOther {
				if cookie != nil || api != http.StatusUnauthorized {
					t.Fatalf("refused login set cookie %v; API answered %d", cookie, api)
				}
				return
			}
			if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/studio/" {
				t.Fatalf("cookie = %+v", cookie)
			}
			if api != http.StatusOK {
				t.Fatalf("API after login = %d", api)
			}
			if code := r.post(t, c, "logout", struct{}{}, nil); code != http.StatusOK {
				t.Fatalf("logout = %d", code)
			}
			// The cookie the browser had is dead even if replayed.
			req, _ := http.NewRequest("GET", r.srv.URL+"/studio/api/phone", nil)
			req.AddCookie(cookie)
			if code := r.do(t, &http.Client{}, req, nil); code != http.StatusUnauthorized {
				t.Fatalf("API with the old cookie after logout = %d", code)
			}
		})
	}
}

// A logged-in browser's cookie does not make another site's request
// change anything: a foreign Origin and a form post are refused.
func TestChangesNeedSameOriginJSON(t *testing.T) {
	r := newRig(t)
	c := r.client(t)
	r.login(t, c, r.key)
	cases := []struct {
		name, origin, ctype string
		want                int
	}{
		{"other site", "https://evil.example", "application/json", http.StatusForbidden},
		{"form post", "", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"text post", "", "text/plain", http.StatusUnsupportedMediaType},
		{"this page", r.srv.URL, "application/json", http.StatusOK},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("POST", r.srv.URL+"/studio/api/dial", strings.NewReader(`{"code":"*384#"}`))
		req.Header.Set("Content-Type", tc.ctype)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if code := r.do(t, c, req, nil); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
}

// The simulator goes through the market service twice, in English (GSM
// 03.38) and in Amharic (UCS-2), to the SMS it sends; the SMS lands in the
// inbox, and the counts show both sessions on the way.
func TestSimulatorAndCounts(t *testing.T) {
	r := newRig(t)
	c := r.client(t)
	r.login(t, c, r.key)
	var v studio.View
	if r.get(t, c, "phone", &v) != http.StatusOK || !studio.Simulated(v.Number) || v.Active {
		t.Fatalf("phone = %+v", v)
	}
	number := v.Number
	runs := []struct {
		lang, encoding string
		screens        []string // what each screen starts with, dial first
		end, sms       string
	}{
		{"en", "GSM 03.38", []string{"Market prices", "Choose a crop", "Maize: choose a market", "Maize, Eldoret"}, "Sent. Check your messages.", "Maize at Eldoret"},
		{"am", "UCS-2", []string{"የገበያ ዋጋ", "ሰብል ይምረጡ", "", ""}, "ተልኳል።", ""},
	}
	for i, run := range runs {
		if code := r.post(t, c, "dial", map[string]string{"code": "*384#", "lang": run.lang}, &v); code != http.StatusOK {
			t.Fatalf("dial = %d", code)
		}
		for j, in := range []string{"1", "1", "2", "2"} {
			if !strings.HasPrefix(v.Text, run.screens[j]) || v.End || !v.Active {
				t.Fatalf("%s screen %d = %+v, want it to start with %q", run.lang, j, v, run.screens[j])
			}
			if v.Length == nil || v.Length.Encoding != run.encoding || v.Length.Units == 0 || !v.Length.Fits {
				t.Fatalf("%s screen %d length = %+v", run.lang, j, v.Length)
			}
			want := 182
			if run.encoding == "UCS-2" {
				want = 80
			}
			if v.Length.Max != want {
				t.Errorf("%s: limit %d, want %d", run.lang, v.Length.Max, want)
			}
			if code := r.post(t, c, "reply", map[string]string{"input": in}, &v); code != http.StatusOK {
				t.Fatalf("reply = %d", code)
			}
		}
		if !v.End || !strings.HasPrefix(v.Text, run.end) || v.Active {
			t.Fatalf("%s end = %+v", run.lang, v)
		}
		if v.Vars["crop"] != "maize" || v.Vars["market"] == "" {
			t.Errorf("%s vars = %v", run.lang, v.Vars)
		}
		if len(v.Inbox) != i+1 || !strings.HasPrefix(v.Inbox[0].Text, run.sms) || v.Inbox[0].Length.Encoding != run.encoding || v.Inbox[0].From != "flow" {
			t.Fatalf("%s inbox = %+v", run.lang, v.Inbox)
		}
	}
	if got := r.inbox.Messages(number); len(got) != 2 {
		t.Fatalf("inbox of %s: %d messages", number, len(got))
	}
	// A reply with no dialogue open is refused, not sent to a new one.
	if code := r.post(t, c, "reply", map[string]string{"input": "1"}, nil); code != http.StatusConflict {
		t.Errorf("reply after the end = %d", code)
	}
	// A third session hangs up on the crop list.
	r.post(t, c, "dial", map[string]string{"code": "*384#", "lang": "en"}, &v)
	r.post(t, c, "reply", map[string]string{"input": "1"}, &v)
	r.post(t, c, "hangup", struct{}{}, &v)

	rep, err := r.analytics.Report(context.Background(), "market", time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sessions != 3 || rep.Completed != 2 {
		t.Errorf("sessions %d, completed %d; want 3, 2", rep.Sessions, rep.Completed)
	}
	checks := []struct {
		node    string
		entered int64
		choices map[string]int64
		exits   map[string]int64
	}{
		{"main", 3, map[string]int64{"load_crops": 3}, nil},
		{"load_crops", 3, map[string]int64{"pick_crop": 3}, nil},
		{"pick_crop", 3, map[string]int64{"after_crop": 2}, map[string]int64{"abort": 1}},
		{"show_price", 2, map[string]int64{"sms_price": 2}, nil},
		{"sms_sent", 2, nil, map[string]int64{"end": 2}},
	}
	for _, ck := range checks {
		n := rep.Nodes[ck.node]
		if n == nil {
			t.Errorf("%s: no counts", ck.node)
			continue
		}
		if n.Entered != ck.entered {
			t.Errorf("%s entered %d, want %d", ck.node, n.Entered, ck.entered)
		}
		for k, want := range ck.choices {
			if n.Choices[k] != want {
				t.Errorf("%s → %s: %d, want %d", ck.node, k, n.Choices[k], want)
			}
		}
		for k, want := range ck.exits {
			if n.Exits[k] != want {
				t.Errorf("%s exits %s: %d, want %d", ck.node, k, n.Exits[k], want)
			}
		}
	}
	var svg string
	if code := r.get(t, c, "diagram/market", &svg); code != http.StatusOK {
		t.Fatalf("diagram = %d", code)
	}
	for _, want := range []string{`data-node="main" data-kind="menu" data-entered="3"`, `data-node="pick_crop" data-kind="menu" data-entered="3" data-left="1"`,
		`class="node kind-menu worst"`, "Most people leave at pick_crop: 1 of 3"} {
		if !strings.Contains(svg, want) {
			t.Errorf("diagram lacks %q", want)
		}
	}
}
