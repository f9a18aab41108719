package httpjson

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/adaptertest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

const (
	token  = "tok-SECRET-123"
	apiKey = "KEY-SECRET-456"
)

// backend is a test server whose behaviour the test switches: it serves
// a small patient API, and fails, hangs or talks garbage on demand.
type backend struct {
	*httptest.Server
	hits   atomic.Int64
	mode   atomic.Value // "", "500", "429", "garbage", "hang", "slow", "big"
	failN  atomic.Int64 // fail this many requests with 500, then serve
	mu     sync.Mutex
	bodies []string
	paths  []string
}

func newBackend(t testing.TB) *backend {
	b := &backend{}
	b.mode.Store("")
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.bodies = append(b.bodies, string(body))
	b.paths = append(b.paths, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
	b.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token || r.URL.Query().Get("key") != apiKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if b.failN.Load() > 0 {
		b.failN.Add(-1)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	switch b.mode.Load().(string) {
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "429":
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case "garbage":
		w.Write([]byte(`{"data": {"name": "Amina", `))
		return
	case "big":
		w.Write([]byte(`{"x":"` + strings.Repeat("a", 2<<20) + `"}`))
		return
	case "hang":
		<-r.Context().Done()
		return
	case "slow":
		select {
		case <-r.Context().Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	id := strings.TrimPrefix(r.URL.Path, "/api/patients/")
	switch {
	case r.URL.Path == "/api/visits":
		w.Write([]byte(`{"data": {"visits": [
			{"visitId": 7, "clinic": "Kisumu CRH", "date": "2026-12-01"},
			{"visitId": 8, "clinic": "Ahero SCH", "date": "2027-01-05"}]}}`))
	case r.URL.Path == "/api/notes" && r.Method == http.MethodPost:
		var in map[string]any
		if json.Unmarshal(body, &in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"saved": true, "text": in["text"]})
	case r.URL.Path == "/api/empty":
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/api/forbidden":
		w.WriteHeader(http.StatusForbidden)
	case id == "P-1":
		w.Write([]byte(`{"data": {"firstName": "Amina", "NextVisit": "2026-12-01", "visitsLeft": 3,
			"weightKg": 61.5, "tags": ["anc", "hiv-"], "clinic": {"Name": "Kisumu CRH", "phone-no": "057 202"}}}`))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (b *backend) lastBody() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bodies[len(b.bodies)-1]
}

func (b *backend) lastPath() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paths[len(b.paths)-1]
}

// config returns the test configuration for b, with ${ENV}-free values:
// the secrets are in place as Build would leave them.
func (b *backend) config() Config {
	c := *defaults()
	c.URL = b.URL + "/api/patients/{{id}}?key=" + apiKey
	c.Map = map[string]string{"name": "data.firstName", "next": "data.NextVisit", "left": "data.visitsLeft"}
	c.Headers = map[string]string{"Authorization": "Bearer " + token}
	c.Ops = map[string]Endpoint{
		"patient": {URL: b.URL + "/api/patients/{{id}}?key=" + apiKey},
		"visits": {URL: b.URL + "/api/visits?key=" + apiKey + "&patient={{id}}", List: "data.visits",
			Map: map[string]string{"id": "visitId", "name": "clinic", "date": "date"}},
		"note":      {URL: b.URL + "/api/notes?key=" + apiKey, Method: "POST", Body: `{"patient": "{{id}}", "text": "{{text}}"}`},
		"put":       {URL: b.URL + "/api/patients/{{id}}?key=" + apiKey, Method: "PUT", Body: `{"x": 1}`},
		"empty":     {URL: b.URL + "/api/empty?key=" + apiKey},
		"forbidden": {URL: b.URL + "/api/forbidden?key=" + apiKey},
		"head":      {URL: b.URL + "/api/patients/{{id}}?key=" + apiKey, Method: "HEAD"},
	}
	c.Retry.Backoff = 5 * time.Millisecond
	c.Retry.MaxBackoff = 20 * time.Millisecond
	return c
}

func newAdapter(t testing.TB, c Config, log *slog.Logger) *Adapter {
	t.Helper()
	if log == nil {
		log = logcheck.New(t)
	}
	a, err := New(c, adapters.Instance{Name: "crm", Secrets: []string{token, apiKey},
		Deps: adapters.Deps{Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	return a
}

var p = adaptertest.Params

func TestConformance(t *testing.T) {
	b := newBackend(t)
	hang := newBackend(t)
	hang.mode.Store("hang")
	c := b.config()
	c.Ops["slow"] = Endpoint{URL: hang.URL + "/api/patients/{{id}}?key=" + apiKey}
	c.Breaker.Failures = 0 // the odd params and the hanging call must not open it
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, log *slog.Logger) adapters.Adapter { return newAdapter(t, c, log) },
		OK: []adapters.Request{
			{Op: "call", Params: p("id", "P-1")},
			{Op: "patient", Params: p("id", "P-1")},
			{Op: "visits", Params: p("id", "P-1")},
			{Op: "head", Params: p("id", "P-1")},
		},
		NotFound: []adapters.Request{{Op: "patient", Params: p("id", "P-404")}},
		Invalid: []adapters.Request{
			{Op: "patient"},
			{Op: "forbidden"},
			{Op: "note", Params: p("id", "P-1")},
		},
		Slow:    &adapters.Request{Op: "slow", Params: p("id", "P-1")},
		Secrets: []string{token, apiKey},
	})
}

func call(a *Adapter, ctx context.Context, op string, params map[string]string) (string, adapters.Kind, error) {
	res, err := a.Call(ctx, adapters.Request{Op: op, Params: params})
	if err != nil {
		return "", adapters.KindOf(err), err
	}
	out, _ := json.Marshal(res)
	return string(out), 0, nil
}

func TestResults(t *testing.T) {
	b := newBackend(t)
	a := newAdapter(t, b.config(), nil)
	tests := []struct {
		op     string
		params map[string]string
		want   string
	}{
		{"call", p("id", "P-1"), `{"left":3,"name":"Amina","next":"2026-12-01"}`},
		{"", p("id", "P-1"), `{"left":3,"name":"Amina","next":"2026-12-01"}`},
		// Passed through: keys become identifiers, whole numbers ints.
		{"patient", p("id", "P-1"), `{"data":{"clinic":{"name":"Kisumu CRH","phone_no":"057 202"},"first_name":"Amina","next_visit":"2026-12-01","tags":["anc","hiv-"],"visits_left":3,"weight_kg":61.5}}`},
		{"visits", p("id", "P-1"), `[{"date":"2026-12-01","id":7,"name":"Kisumu CRH"},{"date":"2027-01-05","id":8,"name":"Ahero SCH"}]`},
		{"note", p("id", "P-1", "text", `She said "fine"\ok`), `{"saved":true,"text":"She said \"fine\"\\ok"}`},
		{"empty", nil, `null`},
		{"head", p("id", "P-1"), `{"status":200}`},
	}
	for _, tt := range tests {
		got, _, err := call(a, context.Background(), tt.op, tt.params)
		if err != nil || got != tt.want {
			t.Errorf("%s %v:\n got %s %v\nwant %s", tt.op, tt.params, got, err, tt.want)
		}
	}
	if got := b.lastBody(); got != "" {
		t.Errorf("HEAD sent a body %q", got)
	}
}

func TestEscaping(t *testing.T) {
	b := newBackend(t)
	a := newAdapter(t, b.config(), nil)
	call(a, context.Background(), "patient", p("id", "a/b?c d#e"))
	if got := b.lastPath(); got != "/api/patients/a%2Fb%3Fc%20d%23e?key="+apiKey {
		t.Errorf("path param sent as %s", got)
	}
	call(a, context.Background(), "visits", p("id", "1&key=evil"))
	if got := b.lastPath(); got != "/api/visits?key="+apiKey+"&patient=1%26key%3Devil" {
		t.Errorf("query param sent as %s", got)
	}
	call(a, context.Background(), "note", p("id", "P-1", "text", "a\"b\n\x01"))
	var body map[string]string
	if err := json.Unmarshal([]byte(b.lastBody()), &body); err != nil || body["text"] != "a\"b\n\x01" {
		t.Errorf("body %s: %v", b.lastBody(), err)
	}
}

func TestStatuses(t *testing.T) {
	b := newBackend(t)
	c := b.config()
	c.Retry.Attempts = 1
	c.Breaker.Failures = 0
	c.MaxBody = 1 << 20
	a := newAdapter(t, c, nil)
	tests := []struct {
		mode, op string
		kind     adapters.Kind
		msg      string
	}{
		{"", "patient", adapters.KindNotFound, "not_found: crm GET patient: status 404"},
		{"", "forbidden", adapters.KindInvalid, "invalid: crm GET forbidden: status 403"},
		{"500", "patient", adapters.KindUnavailable, "unavailable: crm GET patient: status 500"},
		{"429", "patient", adapters.KindUnavailable, "unavailable: crm GET patient: status 429"},
		{"garbage", "patient", adapters.KindUnavailable, "unavailable: crm GET patient: decoding response: unexpected EOF"},
		{"big", "patient", adapters.KindUnavailable, "unavailable: crm GET patient: response larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		b.mode.Store(tt.mode)
		_, kind, err := call(a, context.Background(), tt.op, p("id", "P-2"))
		if kind != tt.kind || err.Error() != tt.msg {
			t.Errorf("%s %s: %v (%v), want %v %q", tt.mode, tt.op, kind, err, tt.kind, tt.msg)
		}
	}
	b.mode.Store("")
	// A server that is down.
	c.URL = "http://127.0.0.1:1/x?key=" + apiKey
	down := newAdapter(t, c, nil)
	_, kind, err := call(down, context.Background(), "call", nil)
	if kind != adapters.KindUnavailable || strings.Contains(err.Error(), apiKey) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("down: %v %v", kind, err)
	}
}

func TestTimeouts(t *testing.T) {
	b := newBackend(t)
	b.mode.Store("slow") // answers after 300ms
	c := b.config()
	c.Timeout = 100 * time.Millisecond
	c.Retry.Attempts = 1
	a := newAdapter(t, c, nil)
	start := time.Now()
	_, kind, err := call(a, context.Background(), "patient", p("id", "P-1"))
	if el := time.Since(start); kind != adapters.KindTimeout || el > 250*time.Millisecond {
		t.Errorf("config timeout: %v %v after %v", kind, err, el)
	}
	if err.Error() != "timeout: crm GET patient: context deadline exceeded" {
		t.Errorf("text %q", err)
	}
	// The caller's deadline is shorter than the config's: it wins.
	c.Timeout = 5 * time.Second
	a = newAdapter(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, kind, _ := call(a, ctx, "patient", p("id", "P-1")); kind != adapters.KindTimeout || time.Since(start) > 200*time.Millisecond {
		t.Errorf("caller deadline: %v after %v", kind, time.Since(start))
	}
	// With time to spare, the slow server answers.
	if _, _, err := call(a, context.Background(), "call", p("id", "P-1")); err != nil {
		t.Error(err)
	}
}

func TestRetries(t *testing.T) {
	b := newBackend(t)
	c := b.config()
	c.Breaker.Failures = 0
	tests := []struct {
		op       string
		failN    int64
		kind     adapters.Kind
		requests int64
		retries  int64
	}{
		{"patient", 2, 0, 3, 2},                        // GET: two 500s, then served
		{"patient", 3, adapters.KindUnavailable, 3, 2}, // GET: gives up after 3 tries
		{"put", 1, 0, 2, 1},                            // PUT is idempotent
		{"note", 1, adapters.KindUnavailable, 1, 0},    // POST is never retried
	}
	for _, tt := range tests {
		a := newAdapter(t, c, nil)
		b.failN.Store(tt.failN)
		_, kind, err := call(a, context.Background(), tt.op, p("id", "P-1", "text", "x"))
		s := a.Stats()
		if kind != tt.kind || s.Requests != tt.requests || s.Retries != tt.retries {
			t.Errorf("%s after %d failures: %v %v, %d requests %d retries; want %v, %d, %d",
				tt.op, tt.failN, kind, err, s.Requests, s.Retries, tt.kind, tt.requests, tt.retries)
		}
		b.failN.Store(0)
	}
	// No retry on a 404 nor on garbage.
	a := newAdapter(t, c, nil)
	call(a, context.Background(), "patient", p("id", "P-404"))
	b.mode.Store("garbage")
	call(a, context.Background(), "patient", p("id", "P-1"))
	b.mode.Store("")
	if s := a.Stats(); s.Requests != 2 || s.Retries != 0 {
		t.Errorf("after a 404 and garbage: %+v", s)
	}
	// A retry that would outlive the deadline is not made.
	c.Retry.Backoff, c.Retry.MaxBackoff = time.Second, time.Second
	a = newAdapter(t, c, nil)
	b.failN.Store(1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, kind, _ := call(a, ctx, "patient", p("id", "P-1"))
	if kind != adapters.KindUnavailable || time.Since(start) > 150*time.Millisecond || a.Stats().Requests != 1 {
		t.Errorf("retry past the deadline: %v after %v, %+v", kind, time.Since(start), a.Stats())
	}
	b.failN.Store(0)
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBreaker(t *testing.T) {
	b := newBackend(t)
	c := b.config()
	c.Retry.Attempts = 1
	c.Breaker = Breaker{Failures: 3, Open: 150 * time.Millisecond}
	var logs logBuf
	a := newAdapter(t, c, logcheck.Wrap(t, slog.NewTextHandler(&logs, nil)))
	b.mode.Store("500")
	for range 3 {
		call(a, context.Background(), "patient", p("id", "P-1"))
	}
	if s := a.Stats(); s.Breaker != "open" || b.hits.Load() != 3 {
		t.Fatalf("after 3 failures: %+v, %d hits", s, b.hits.Load())
	}
	// Open: calls fail at once, without reaching the back-end.
	_, kind, err := call(a, context.Background(), "call", p("id", "P-1"))
	if kind != adapters.KindUnavailable || err.Error() != "unavailable: crm GET call: circuit breaker open" || b.hits.Load() != 3 {
		t.Errorf("open: %v %v, %d hits", kind, err, b.hits.Load())
	}
	// 4xx answers are a healthy back-end: they would not have opened it.
	b.mode.Store("")
	time.Sleep(200 * time.Millisecond)
	if s := a.Stats(); s.Breaker != "half-open" {
		t.Errorf("after the open period: %s", s.Breaker)
	}
	if _, _, err := call(a, context.Background(), "patient", p("id", "P-1")); err != nil {
		t.Errorf("probe: %v", err)
	}
	if s := a.Stats(); s.Breaker != "closed" || s.Rejected != 1 {
		t.Errorf("after a good probe: %+v", s)
	}
	for range 5 {
		call(a, context.Background(), "patient", p("id", "P-404"))
	}
	if s := a.Stats(); s.Breaker != "closed" {
		t.Errorf("404s opened the breaker: %+v", s)
	}
	// A hanging back-end opens it too: timeouts are failures.
	b.mode.Store("hang")
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		call(a, ctx, "patient", p("id", "P-1"))
		cancel()
	}
	if s := a.Stats(); s.Breaker != "open" {
		t.Errorf("after 3 timeouts: %+v", s)
	}
	b.mode.Store("")
	if l := logs.String(); !strings.Contains(l, "from=closed to=open") || !strings.Contains(l, "from=half-open to=closed") {
		t.Errorf("logs: %s", l)
	}
}

func TestCache(t *testing.T) {
	b := newBackend(t)
	c := b.config()
	c.Cache = Cache{TTL: time.Minute, Size: 2}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	a, err := New(c, adapters.Instance{Name: "crm", Deps: adapters.Deps{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	first, _, _ := call(a, context.Background(), "call", p("id", "P-1"))
	again, _, _ := call(a, context.Background(), "call", p("id", "P-1"))
	if first != again || b.hits.Load() != 1 {
		t.Errorf("a second GET reached the back-end: %d hits", b.hits.Load())
	}
	call(a, context.Background(), "patient", p("id", "P-1")) // another op: its own entry
	call(a, context.Background(), "note", p("id", "P-1", "text", "x"))
	call(a, context.Background(), "note", p("id", "P-1", "text", "x")) // POSTs are not cached
	if s := a.Stats(); s.CacheHits != 1 || s.CacheMisses != 2 || b.hits.Load() != 4 {
		t.Errorf("stats %+v, %d hits", s, b.hits.Load())
	}
	call(a, context.Background(), "call", p("id", "P-404")) // errors are not cached
	call(a, context.Background(), "call", p("id", "P-404"))
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	call(a, context.Background(), "call", p("id", "P-1"))
	if s := a.Stats(); s.CacheHits != 1 || b.hits.Load() != 7 {
		t.Errorf("after the TTL: %+v, %d hits", s, b.hits.Load())
	}
	if n := len(a.cache.m); n > 2 {
		t.Errorf("cache holds %d entries, size 2", n)
	}
}

func TestBuildProblems(t *testing.T) {
	const src = `crm:
  kind: http
  url: "https://{{tenant}}.example.org/api/{{id}}"
  method: FETCH
  body: '{"a": 1}'
  headers: {"Bad Header": x, Authorization: "Bearer ${CRM_TOKEN}"}
  timeout: 0s
  retry: {attempts: 0, backoff: 1s, max_backoff: 10ms}
  map: {Name: data.name, "ok": "data..x"}
  ops:
    call: {url: "https://x.org"}
    visits: {url: "ftp://x.org/{{id}}", list: "a.#.b", body: "{{x"}
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	_, err := adapters.Build(adapters.Kinds{"http": Kind()}, "gw.yaml", &n, adapters.Deps{
		LookupEnv: func(string) (string, bool) { return "s3cr3t-token", true },
	})
	if err == nil {
		t.Fatal("no problems")
	}
	want := []string{
		`gw.yaml:3:8: adapters.crm.url: placeholders may not stand in the host (bad-value)`,
		`gw.yaml:4:11: adapters.crm.method: want one of GET, HEAD, POST, PUT, PATCH, DELETE (bad-value)`,
		`gw.yaml:5:9: adapters.crm.body: only for POST, PUT or PATCH (bad-value)`,
		`gw.yaml:6:27: adapters.crm.headers.Bad Header: not a header name (bad-value)`,
		`gw.yaml:7:12: adapters.crm.timeout: want more than 0 and at most 1m (bad-value)`,
		`gw.yaml:8:21: adapters.crm.retry.attempts: want 1 to 10 (bad-value)`,
		`gw.yaml:8:50: adapters.crm.retry.max_backoff: must be at least backoff (bad-value)`,
		`gw.yaml:9:15: adapters.crm.map.Name: result keys are lower-case identifiers (bad-value)`,
		`gw.yaml:9:32: adapters.crm.map.ok: empty step in path "data..x" (bad-value)`,
		`gw.yaml:11:11: adapters.crm.ops.call: op names are lower-case identifiers, other than call (bad-value)`,
		`gw.yaml:12:19: adapters.crm.ops.visits.url: want an http or https URL (bad-value)`,
		`gw.yaml:12:47: adapters.crm.ops.visits.list: # must be the last step of "a.#.b" (bad-value)`,
		`gw.yaml:12:62: adapters.crm.ops.visits.body: only for POST, PUT or PATCH (bad-value)`,
		`gw.yaml:12:62: adapters.crm.ops.visits.body: unbalanced {{ }} (bad-value)`,
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Error("a secret in the problems")
	}
}

func TestBuildFromEnv(t *testing.T) {
	b := newBackend(t)
	src := `crm:
  kind: http
  url: "` + b.URL + `/api/patients/{{id}}?key=${CRM_KEY}"
  headers: {Authorization: "Bearer ${CRM_TOKEN}"}
  map: {name: data.firstName}
`
	var n yaml.Node
	yaml.Unmarshal([]byte(src), &n)
	env := map[string]string{"CRM_KEY": apiKey, "CRM_TOKEN": token}
	reg, err := adapters.Build(adapters.Kinds{"http": Kind()}, "gw.yaml", &n, adapters.Deps{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop(context.Background())
	res, err := reg.Call(context.Background(), "crm", adapters.Request{Op: "call", Params: p("id", "P-1")})
	if err != nil || res.(map[string]any)["name"] != "Amina" {
		t.Errorf("Call = %v, %v", res, err)
	}
	a, _ := reg.Lookup("crm")
	// The op of url: is declared twice: as call, and as "" for an action without op:.
	if ops := a.(adapters.Describer).Ops(); len(ops) != 2 || ops[0].Name != "" || ops[1].Name != "call" || ops[1].Required[0] != "id" {
		t.Errorf("Ops = %v", ops)
	}
}

func TestPath(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"a": {"items": [{"p": 1}, {"p": 2}], "n": null}}`), &doc)
	tests := map[string]any{"a.items.0.p": 1.0, "a.items.-1.p": 2.0, "a.items.#": 2, "a.#": 2, "a.items.2": nil, "a.x": nil, "a.n": nil}
	for s, want := range tests {
		pth, err := parsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := pth.get(doc); got != want {
			t.Errorf("%s = %v, want %v", s, got, want)
		}
	}
	if _, ok := mustPath(t, "a.n").get(doc); !ok {
		t.Error("a null is a value")
	}
	if _, ok := mustPath(t, "a.x").get(doc); ok {
		t.Error("a missing key is no value")
	}
	for k, want := range map[string]string{"firstName": "first_name", "NextVisit": "next_visit", "phone-no": "phone_no",
		"ID": "id", "2fa": "fa", "--": "", "HTTPCode": "httpcode", "a.b": "a_b"} {
		if got := key(k); got != want {
			t.Errorf("key(%q) = %q, want %q", k, got, want)
		}
	}
}

func mustPath(t *testing.T, s string) path {
	pth, err := parsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return pth
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"data": {"items": [{"id": 1, "name": "x"}]}}`), "data.items", "id", "name")
	f.Add([]byte(`[1, 2.5, "x", true, null, {"A-b": {"c": [[]]}}]`), "", "", "")
	f.Add([]byte(`{"a": 1e400}`), "", "n", "a")
	f.Add([]byte(`{"a":`), "a", "b", "c")
	f.Fuzz(func(t *testing.T, body []byte, list, k, pth string) {
		e := Endpoint{URL: "http://x.org/", List: list}
		if k != "" {
			e.Map = map[string]string{"id": k, "name": pth}
		}
		o, err := compileOp("call", e)
		if err != nil {
			return
		}
		a := &Adapter{name: "f"}
		res, err := a.decode(o, &response{status: 200, body: body})
		if err != nil {
			if adapters.KindOf(a.fail(o, err)) == adapters.KindNone {
				t.Fatal("an unclassified failure")
			}
			return
		}
		if err := adaptertest.CheckResult(res, -1); err != nil && !strings.Contains(err.Error(), "needs") &&
			!strings.Contains(err.Error(), "mixes") && !strings.Contains(err.Error(), "list in a list") &&
			!strings.Contains(err.Error(), "control character") && !strings.Contains(err.Error(), "deeper") {
			t.Fatalf("%s: %v", body, err)
		}
	})
}

func FuzzTemplate(f *testing.F) {
	f.Add("https://x.org/a/{{id}}?q={{q}}", "a b/c", "1&2")
	f.Add("{{", "", "")
	f.Add("{\"a\": \"{{id}}\"}", "\"\\\n", "")
	f.Fuzz(func(t *testing.T, tmpl, id, q string) {
		tp, err := parseTemplate(tmpl, true)
		if err != nil {
			return
		}
		out := tp.render(map[string]string{"id": id, "q": q}, forJSON)
		if strings.HasPrefix(tmpl, `{"a": "`) && strings.HasSuffix(tmpl, `"}`) && strings.Count(tmpl, "{{") == 1 {
			var m map[string]string
			if json.Unmarshal([]byte(out), &m) != nil && json.Valid([]byte(tp.render(dummy(tp), forJSON))) {
				t.Fatalf("%q rendered with %q is not JSON: %s", tmpl, id, out)
			}
		}
	})
}

func BenchmarkCall(b *testing.B) {
	srv := newBackend(b)
	for _, mode := range []string{"uncached", "cached"} {
		b.Run(mode, func(b *testing.B) {
			c := srv.config()
			if mode == "cached" {
				c.Cache.TTL = time.Hour
			}
			a := newAdapter(b, c, nil)
			adaptertest.Bench(b, a, adapters.Request{Op: "call", Params: p("id", "P-1")})
		})
	}
}

// BenchmarkBareHTTP is the floor: the same GET with net/http alone,
// decoded into a map, to measure the adapter's overhead against.
func BenchmarkBareHTTP(b *testing.B) {
	srv := newBackend(b)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()
	url := srv.URL + "/api/patients/P-1?key=" + apiKey
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
	}
}
