package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startStudioGateway runs the binary's run with args on a free port until the
// test ends and returns its address and log.
func startStudioGateway(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples"}, args...), env(nil), io.Discard, logs, ready)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("no shutdown")
		}
	})
	select {
	case addr := <-ready:
		return addr, logs
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	return "", nil
}

// With -studio on and no Redis, the gateway logs a login key; the
// workbench's simulator then runs a session of the examples through the
// gateway's own manager, and the SMS of the simulated number is captured,
// while a real number, with no SMSC configured, still gets the flow's "we
// could not send the SMS" as before.
func TestStudioOn(t *testing.T) {
	addr, logs := startStudioGateway(t, "-studio", "on")
	base := "http://" + addr
	key := regexp.MustCompile(`key=(ugw_\S+)`).FindStringSubmatch(logs.String())
	if key == nil {
		t.Fatalf("no login key in the log:\n%s", logs.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	if resp, err := c.Get(base + "/studio/api/phone"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("phone before login: %v %v", resp, err)
	}
	req, _ := http.NewRequest("POST", base+"/studio/login", strings.NewReader(url.Values{"key": {key[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/studio/" {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	var v struct {
		Text  string
		End   bool
		Inbox []struct{ Text string }
	}
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+"/studio/api/"+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	post("dial", map[string]string{"code": "*384#", "lang": "en"})
	for _, in := range []string{"1", "1", "2", "2"} {
		post("reply", map[string]string{"input": in})
	}
	if !v.End || v.Text != "Sent. Check your messages." || len(v.Inbox) != 1 || !strings.HasPrefix(v.Inbox[0].Text, "Maize at Eldoret") {
		t.Fatalf("simulated session: %+v", v)
	}
	// The diagram shows the gateway's analytics, which counted the session.
	resp, err = c.Get(base + "/studio/api/diagram/market")
	if err != nil {
		t.Fatal(err)
	}
	svg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(svg), `data-node="sms_sent" data-kind="end" data-entered="1"`) {
		t.Errorf("diagram without the session's count:\n%.600s", svg)
	}
	// A real number, over the aggregators' callback, has no SMS route.
	text := ""
	var body string
	for _, in := range []string{"", "1", "1", "2", "2"} {
		if in != "" {
			text = strings.TrimPrefix(text+"*"+in, "*")
		}
		resp, err := http.PostForm(base+"/ussd/africastalking", url.Values{
			"sessionId": {"real-1"}, "phoneNumber": {"+254700000009"}, "serviceCode": {"*384#"}, "text": {text}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	if !strings.HasPrefix(body, "END Sorry, we could not send the SMS") {
		t.Fatalf("real number's SMS step: %q", body)
	}
}

func TestStudioOffAndBadSetting(t *testing.T) {
	addr, _ := startStudioGateway(t)
	resp, err := http.Get("http://" + addr + "/studio/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/studio/ with the studio off: %d, want 404", resp.StatusCode)
	}
	err = run(context.Background(), []string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples", "-studio", "yes"}, env(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `-studio "yes": use on or off`) {
		t.Errorf("-studio yes: %v", err)
	}
}

// docs/studio.md with Redis: a key made with "ussdgw apikey create
// -scopes studio" opens the studio of a gateway sharing that Redis, and
// no key is logged.
func TestStudioDocCommands(t *testing.T) {
	redisURL, prefix := testPrefix(t)
	addr, logs := startStudioGateway(t, "-studio", "on", "-redis-url", redisURL, "-redis-prefix", prefix)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "-name", "amina", "-scopes", "studio", "-redis-url", redisURL, "-redis-prefix", prefix},
		env(nil), &out, &errb, nil); err != nil {
		t.Fatalf("apikey create: %v %s", err, errb.String())
	}
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	req, _ := http.NewRequest("POST", base+"/studio/login", strings.NewReader(url.Values{"key": {strings.TrimSpace(out.String())}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/studio/" {
		t.Fatalf("login with the created key: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	if resp, err = c.Get(base + "/studio/api/services"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("services after login: %v %v", resp, err)
	}
	resp.Body.Close()
	if strings.Contains(logs.String(), "key=ugw_") {
		t.Errorf("a key was logged though Redis is configured:\n%s", logs.String())
	}
}
