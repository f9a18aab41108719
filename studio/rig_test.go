package studio_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/builtin"
	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/studio"
	"github.com/ussdgw/ussdgw/ussd"
)

// rig is the studio over the example services, with their built-in
// adapters on the shipped data, an in-memory session store and a real API
// key store (on an embedded Redis); the manager counts the analytics the
// diagram shows, as the gateway's does.
type rig struct {
	srv       *httptest.Server
	studio    *studio.Server
	manager   *ussd.Manager
	inbox     *studio.Inbox
	analytics *analytics.Store
	keys      *apikeys.Store
	key       string // a key with the studio scope
}

// examples is the directory of the example services.
const examples = "../flows-examples"

func newRig(t testing.TB) *rig {
	t.Helper()
	store := ussd.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	var section yaml.Node
	src := "prices: {kind: prices, file: data/prices.yaml}\nhealth: {kind: health, file: data/health.yaml}\nquiz: {kind: quiz, file: data/quiz.yaml}\njobs: {kind: jobs, file: data/jobs.yaml}\n"
	if err := yaml.Unmarshal([]byte(src), &section); err != nil {
		t.Fatal(err)
	}
	reg, err := adapters.Build(builtin.Kinds(), "(test)", &section, adapters.Deps{Dir: examples, KV: store})
	if err != nil {
		t.Fatal(err)
	}
	set, err := flows.Load(examples, flows.Options{Adapters: reg.Names()})
	if err != nil {
		t.Fatal(err)
	}
	inbox := studio.NewInbox(nil, nil)
	// The service's time zone, as the gateway wires it: the counts are
	// written under the day in the flow's zone, so a report read in UTC
	// finds none between midnight there and midnight UTC.
	an := analytics.New(analytics.Options{Counter: store, Location: func(service string) *time.Location {
		if f, ok := set.Flow(service); ok {
			return f.Location()
		}
		return nil
	}})
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set, Adapters: reg, SMS: inbox, Analytics: an})
	t.Cleanup(func() { m.Close(context.Background()) })

	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mr.Close)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	keys := apikeys.New(rc, "t:", nil)
	_, plain, err := keys.Create(context.Background(), "owner", []apikeys.Scope{apikeys.Studio})
	if err != nil {
		t.Fatal(err)
	}
	s := studio.New(studio.Config{Manager: m, Inbox: inbox, Analytics: an, Login: func(ctx context.Context, key string) (string, error) {
		k, err := keys.Check(ctx, key, apikeys.Studio)
		if err != nil {
			return "", err
		}
		return k.Name, nil
	}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &rig{srv: srv, studio: s, manager: m, inbox: inbox, analytics: an, keys: keys, key: plain}
}

// client is a browser-like HTTP client: cookies kept, redirects not
// followed (the tests look at them).
func (r *rig) client(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// login logs c in with key and returns the answer's status.
func (r *rig) login(t testing.TB, c *http.Client, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+"/studio/login", strings.NewReader(url.Values{"key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", r.srv.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// post sends a JSON change as the page does and decodes the answer.
func (r *rig) post(t testing.TB, c *http.Client, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", r.srv.URL+"/studio/api/"+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", r.srv.URL)
	return r.do(t, c, req, out)
}

func (r *rig) get(t testing.TB, c *http.Client, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+"/studio/api/"+path, nil)
	return r.do(t, c, req, out)
}

func (r *rig) do(t testing.TB, c *http.Client, req *http.Request, out any) int {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if s, ok := out.(*string); ok {
			*s = string(b)
		} else if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, b)
		}
	}
	return resp.StatusCode
}
