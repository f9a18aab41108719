package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/ussd"
)

// scrape reads m's handler as Prometheus would.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, w.Body)
	}
	return fams
}

// value is the value of the series name{labels} (a histogram's sample
// count); labels not given may have any value and are summed over.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestStepsAndActiveSessions(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	m := New(Options{SessionTimeout: time.Minute, Now: clk.now})
	httpCtx := WithTransport(context.Background(), "http")
	smppCtx := WithTransport(context.Background(), "smpp")
	steps := []struct {
		ctx  context.Context
		step ussd.Step
	}{
		{httpCtx, ussd.Step{Service: "market", Session: "a", Outcome: "continue", Duration: 20 * time.Millisecond}},
		{httpCtx, ussd.Step{Service: "market", Session: "a", Outcome: "continue", Duration: 30 * time.Millisecond}},
		{httpCtx, ussd.Step{Service: "market", Session: "b", Outcome: "continue", Duration: 3 * time.Second}},
		{httpCtx, ussd.Step{Service: "market", Session: "b", Outcome: "end", Duration: time.Millisecond}},
		{smppCtx, ussd.Step{Service: "health", Session: "c", Outcome: "continue", Duration: time.Millisecond}},
		{httpCtx, ussd.Step{Service: "", Session: "d", Outcome: "unknown"}},
		{smppCtx, ussd.Step{Service: "market", Channel: "sms", Session: "e", Outcome: "continue"}},
		{context.Background(), ussd.Step{Service: "quiz", Session: "f", Outcome: "error"}},
	}
	for _, s := range steps {
		m.Step(s.ctx, s.step)
	}
	fams := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ussdgw_ussd_steps_total", nil, 8},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "http", "outcome": "continue"}, 3},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "http", "outcome": "end"}, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "none", "outcome": "unknown"}, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "sms"}, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "quiz", "transport": "other", "outcome": "error"}, 1},
		{"ussdgw_ussd_step_duration_seconds", map[string]string{"transport": "smpp"}, 1},
		{"ussdgw_ussd_step_duration_seconds", nil, 8},
		// a and c and e continue; b ended.
		{"ussdgw_ussd_sessions_active", nil, 3},
		{"ussdgw_ussd_sessions_active", map[string]string{"service": "market", "transport": "http"}, 1},
		{"ussdgw_ussd_sessions_active", map[string]string{"service": "health", "transport": "smpp"}, 1},
		{"ussdgw_refusals_total", map[string]string{"channel": "ussd", "verdict": "limited"}, 0},
	} {
		if got, ok := value(fams, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// The 3 s step falls in the 4 s bucket, not the 2 s one.
	for _, mm := range fams["ussdgw_ussd_step_duration_seconds"].Metric {
		for _, b := range mm.Histogram.Bucket {
			if b.GetUpperBound() == 2 && mm.Histogram.GetSampleCount() == 2 && b.GetCumulativeCount() != 1 {
				t.Errorf("bucket le=2 of market/http/continue: %d", b.GetCumulativeCount())
			}
		}
	}
	// A session with no step for a timeout no longer counts; a new step
	// of session a keeps it.
	clk.add(40 * time.Second)
	m.Step(httpCtx, ussd.Step{Service: "market", Session: "a", Outcome: "continue"})
	clk.add(30 * time.Second)
	if got, _ := value(scrape(t, m), "ussdgw_ussd_sessions_active", nil); got != 1 {
		t.Errorf("after the timeout: %v active, want 1 (session a)", got)
	}
	m.Refused("sms", "denied")
	m.Step(httpCtx, ussd.Step{Service: "market", Session: "g", Outcome: "limited"})
	m.Step(smppCtx, ussd.Step{Service: "market", Channel: "sms", Session: "h", Outcome: "limited"})
	fams = scrape(t, m)
	for _, tt := range []struct {
		channel, verdict string
		want             float64
	}{{"sms", "denied", 1}, {"ussd", "limited", 1}, {"sms", "limited", 1}, {"ussd", "denied", 0}} {
		if got, _ := value(fams, "ussdgw_refusals_total", map[string]string{"channel": tt.channel, "verdict": tt.verdict}); got != tt.want {
			t.Errorf("refusals %s %s: %v, want %v", tt.channel, tt.verdict, got, tt.want)
		}
	}
}

func TestTransportWrapper(t *testing.T) {
	var got string
	s := Transport(sessionsFunc(func(ctx context.Context) { got = transport(ctx, "") }), "smpp")
	s.Handle(context.Background(), ussd.Request{})
	if got != "smpp" {
		t.Errorf("Handle: transport %q", got)
	}
	got = ""
	s.Abort(context.Background(), "", "")
	if got != "smpp" {
		t.Errorf("Abort: transport %q", got)
	}
	m := New(Options{})
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = transport(r.Context(), "") }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	if got != "http" {
		t.Errorf("HTTP: transport %q", got)
	}
}

type sessionsFunc func(context.Context)

func (f sessionsFunc) Handle(ctx context.Context, _ ussd.Request) (ussd.Response, error) {
	f(ctx)
	return ussd.Response{}, nil
}

func (f sessionsFunc) Abort(ctx context.Context, _ msisdn.MSISDN, _ string) error {
	f(ctx)
	return nil
}

type fakeCaller map[string]error

func (f fakeCaller) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	return nil, f[req.Op]
}

func TestAdapters(t *testing.T) {
	m := New(Options{})
	c := m.Adapters(fakeCaller{"latest": nil, "find": adapters.ErrNotFound, "slow": context.DeadlineExceeded, "down": errors.New("connection refused")})
	for _, op := range []string{"latest", "latest", "find", "slow", "down"} {
		c.Call(context.Background(), "prices", adapters.Request{Op: op})
	}
	fams := scrape(t, m)
	for _, tt := range []struct {
		op, outcome string
		want        float64
	}{{"latest", "ok", 2}, {"find", "not_found", 1}, {"slow", "timeout", 1}, {"down", "unavailable", 1}} {
		if got, _ := value(fams, "ussdgw_adapter_calls_total", map[string]string{"adapter": "prices", "op": tt.op, "outcome": tt.outcome}); got != tt.want {
			t.Errorf("%s %s: %v, want %v", tt.op, tt.outcome, got, tt.want)
		}
	}
	if got, _ := value(fams, "ussdgw_adapter_call_duration_seconds", map[string]string{"adapter": "prices"}); got != 5 {
		t.Errorf("latency samples: %v", got)
	}
}

func TestRedisHook(t *testing.T) {
	mr := miniredis.RunT(t)
	m := New(Options{})
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer c.Close()
	c.AddHook(m.RedisHook())
	ctx := context.Background()
	if err := c.Set(ctx, "k", "text", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get missing: %v", err)
	}
	if err := c.Incr(ctx, "k").Err(); err == nil {
		t.Fatal("INCR of a string succeeded")
	}
	pipe := c.Pipeline()
	pipe.Incr(ctx, "k")
	pipe.Get(ctx, "k")
	pipe.Exec(ctx)
	// A dead server: the dial fails.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer dead.Close()
	dead.AddHook(m.RedisHook())
	dead.Ping(ctx)

	fams := scrape(t, m)
	if got, _ := value(fams, "ussdgw_redis_errors_total", map[string]string{"command": "incr"}); got != 2 {
		t.Errorf("incr errors: %v, want 2 (one alone, one in a pipeline)", got)
	}
	// go-redis dials again before giving up: at least one.
	if got, _ := value(fams, "ussdgw_redis_errors_total", map[string]string{"command": "dial"}); got < 1 {
		t.Errorf("dial errors: %v", got)
	}
	for _, cmd := range []string{"get", "set", "client"} {
		if _, ok := value(fams, "ussdgw_redis_errors_total", map[string]string{"command": cmd}); ok {
			t.Errorf("%s counted as an error (a missing key is none)", cmd)
		}
	}
}

func TestSMPP(t *testing.T) {
	m := New(Options{})
	snap := SMPP{
		Binds: []Bind{
			{Name: "op1-a", Group: "op1", Status: smpp.Status{Bound: true, Waiting: 2,
				Sessions: []smpp.SessionStatus{{InFlight: 3, Drops: 1}, {InFlight: 4}},
				Counters: smpp.Counters{Throttled: 5, Timeouts: 6}},
				Tally: smpp.Tally{
					PDUs: map[smpp.PDUKey]int64{{Dir: "out", Command: "submit_sm", Status: "ESME_ROK"}: 10,
						{Dir: "in", Command: "submit_sm_resp", Status: "ESME_RTHROTTLED"}: 4},
					Receipts: map[smpp.ReceiptKey]int64{{State: "DELIVERED", Accepted: true}: 7}}},
			{Name: "op1-b", Group: "op1", Status: smpp.Status{Bound: false}},
		},
		Totals: Totals{MTSent: 9, MTFailed: 1, MOHandled: 3, USSDAborts: 2},
	}
	m.WatchSMPP(func() SMPP { return snap })
	fams := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ussdgw_smpp_bind_up", map[string]string{"bind": "op1-a", "group": "op1"}, 1},
		{"ussdgw_smpp_bind_up", map[string]string{"bind": "op1-b", "group": "op1"}, 0},
		{"ussdgw_smpp_bind_drops_total", map[string]string{"bind": "op1-a"}, 1},
		{"ussdgw_smpp_window_in_use", map[string]string{"bind": "op1-a"}, 7},
		{"ussdgw_smpp_window_waiting", map[string]string{"bind": "op1-a"}, 2},
		{"ussdgw_smpp_throttled_total", map[string]string{"bind": "op1-a"}, 5},
		{"ussdgw_smpp_response_timeouts_total", map[string]string{"bind": "op1-a"}, 6},
		{"ussdgw_smpp_pdus_total", map[string]string{"direction": "out", "command": "submit_sm", "status": "ESME_ROK"}, 10},
		{"ussdgw_smpp_pdus_total", map[string]string{"direction": "in", "status": "ESME_RTHROTTLED"}, 4},
		{"ussdgw_smpp_receipts_total", map[string]string{"bind": "op1-a", "state": "DELIVERED", "accepted": "true"}, 7},
		{"ussdgw_sms_mt_total", map[string]string{"outcome": "sent"}, 9},
		{"ussdgw_sms_mt_total", map[string]string{"outcome": "failed"}, 1},
		{"ussdgw_sms_mo_total", map[string]string{"outcome": "handled"}, 3},
		{"ussdgw_smpp_ussd_events_total", map[string]string{"event": "abort"}, 2},
	} {
		if got, ok := value(fams, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}

func TestQueue(t *testing.T) {
	m := New(Options{})
	var fail bool
	m.WatchQueue(func(ctx context.Context) (Queue, error) {
		if fail {
			return Queue{}, errors.New("redis down")
		}
		return Queue{Depth: map[string]int64{"high": 3, "bulk": 40}, Oldest: 90 * time.Second, Delayed: 5, Dead: 1}, nil
	})
	fams := scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ussdgw_outbox_depth", map[string]string{"priority": "high"}, 3},
		{"ussdgw_outbox_depth", map[string]string{"priority": "bulk"}, 40},
		{"ussdgw_outbox_oldest_age_seconds", nil, 90},
		{"ussdgw_outbox_delayed", nil, 5},
		{"ussdgw_outbox_dead", nil, 1},
		{"ussdgw_outbox_up", nil, 1},
	} {
		if got, ok := value(fams, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	fail = true
	fams = scrape(t, m)
	if got, ok := value(fams, "ussdgw_outbox_up", nil); !ok || got != 0 {
		t.Errorf("up while the queue cannot be read: %v %v", got, ok)
	}
	if _, ok := fams["ussdgw_outbox_depth"]; ok {
		t.Error("a depth exported while the queue cannot be read")
	}
}

func TestCheckListen(t *testing.T) {
	for _, tt := range []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"", false, true},
		{"127.0.0.1:9464", false, true},
		{"[::1]:9464", false, true},
		{"localhost:9464", false, true},
		{":9464", false, false},
		{"0.0.0.0:9464", false, false},
		{"10.1.2.3:9464", false, false},
		{"10.1.2.3:9464", true, true},
		{":9464", true, true},
	} {
		err := CheckListen(tt.addr, tt.public)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, %v) = %v", tt.addr, tt.public, err)
		}
	}
}

// Every series has the prefix and a known type; AllNames holds those of
// the collectors that need a source.
func TestNames(t *testing.T) {
	names := AllNames()
	for _, want := range []string{"ussdgw_ussd_steps_total", "ussdgw_smpp_bind_up", "ussdgw_outbox_depth", "ussdgw_redis_errors_total", "ussdgw_ussd_sessions_active"} {
		if _, ok := names[want]; !ok {
			t.Errorf("AllNames lacks %s", want)
		}
	}
	for n, typ := range names {
		if !strings.HasPrefix(n, "ussdgw_") || (typ != "counter" && typ != "gauge" && typ != "histogram") {
			t.Errorf("%s: %s", n, typ)
		}
		if typ == "counter" && !strings.HasSuffix(n, "_total") {
			t.Errorf("counter %s lacks _total", n)
		}
	}
}
