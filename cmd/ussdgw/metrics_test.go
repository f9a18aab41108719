package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ussdgw/ussdgw/metrics"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// scrapeURL reads a /metrics endpoint as Prometheus would.
func scrapeURL(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

func scrapeHandler(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := &bytes.Buffer{}
	rec := &recorder{h: http.Header{}, body: w}
	h.ServeHTTP(rec, mustRequest(t))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

type recorder struct {
	h    http.Header
	body *bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func mustRequest(t *testing.T) *http.Request {
	r, err := http.NewRequest(http.MethodGet, "/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sample sums the series name{labels} (a histogram's sample count);
// labels left out may have any value.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
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

type want struct {
	name   string
	labels map[string]string
	min    float64
	max    float64 // -1: no upper bound
}

func checkSeries(t *testing.T, fams map[string]*dto.MetricFamily, wants []want) {
	t.Helper()
	for _, w := range wants {
		got, ok := sample(fams, w.name, w.labels)
		if !ok || got < w.min || (w.max >= 0 && got > w.max) {
			t.Errorf("%s%v = %v (present %v), want %v..%v", w.name, w.labels, got, ok, w.min, w.max)
		}
	}
}

// TestMetricsHTTP wires the gateway (sessions in Redis, the example
// flows), drives USSD steps through its HTTP handler and checks what the
// metrics say: one step counted and timed per request, by service,
// transport and outcome; the open session active; the adapter calls; a
// dial over the per-number limit refused and counted; no Redis errors.
func TestMetricsHTTP(t *testing.T) {
	r := storetest.Redis(t)
	s := defaults()
	s.Flows = "../../flows-examples"
	s.RedisURL, s.RedisPrefix = redisURLFor(t, r), r.Prefix
	s.LimitDials = 2 // the third dial of a number within a minute is refused
	a, err := wire(context.Background(), s, logcheck.New(t), wireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	steps := []struct{ session, code, text, prefix string }{
		{"m1", "*384#", "", "CON Market prices"},
		{"m1", "*384#", "1", "CON Choose a crop"},
		{"m1", "*384#", "1*1", "CON Maize: choose a market"},
		{"m1", "*384#", "1*1*2", "CON Maize, Eldoret"},
		{"m2", "*384#", "3*1*2", "CON Maize at Eldoret"},
		{"m2", "*384#", "3*1*2*12", "END 12 x KES 2,900"},
		{"x1", "*999#", "", "END "},
		{"m3", "*384#", "", "END Too many requests"},
	}
	for _, st := range steps {
		code, body, _ := postForm(a.handler, st.session, "+254700000077", st.code, st.text)
		if code != http.StatusOK || !strings.HasPrefix(body, st.prefix) {
			t.Fatalf("%s %q: %d %q", st.session, st.text, code, body)
		}
	}
	fams := scrapeHandler(t, a.metrics.Handler())
	n := float64(len(steps))
	http := map[string]string{"transport": "http"}
	checkSeries(t, fams, []want{
		{"ussdgw_ussd_steps_total", nil, n, n},
		{"ussdgw_ussd_steps_total", http, n, n},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "http", "outcome": "continue"}, 5, 5},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "http", "outcome": "end"}, 1, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "none", "transport": "http", "outcome": "unknown"}, 1, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"service": "market", "transport": "http", "outcome": "limited"}, 1, 1},
		{"ussdgw_ussd_step_duration_seconds", http, n, n},
		// m1 is open; m2 ended; x1 never began.
		{"ussdgw_ussd_sessions_active", map[string]string{"service": "market", "transport": "http"}, 1, 1},
		{"ussdgw_ussd_sessions_active", nil, 1, 1},
		{"ussdgw_adapter_calls_total", map[string]string{"adapter": "prices", "outcome": "ok"}, 2, -1},
		{"ussdgw_adapter_call_duration_seconds", map[string]string{"adapter": "prices"}, 2, -1},
		{"ussdgw_redis_errors_total", nil, 0, 0},
		{"ussdgw_refusals_total", map[string]string{"channel": "ussd", "verdict": "limited"}, 1, 1},
		{"ussdgw_refusals_total", nil, 1, 1},
		{"go_goroutines", nil, 1, -1},
	})
	// Adapter calls and steps agree: a counted call has its latency.
	calls, _ := sample(fams, "ussdgw_adapter_calls_total", nil)
	timed, _ := sample(fams, "ussdgw_adapter_call_duration_seconds", nil)
	if calls != timed {
		t.Errorf("adapter calls %v, timed %v", calls, timed)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), "254700000077") || strings.Contains(l.GetValue(), "m1") {
					t.Errorf("%s has a number or session id in label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

var metricsAddr = regexp.MustCompile(`msg="metrics listening" addr=http://(\S+)/metrics`)

// TestMetricsSMPP runs the gateway with a bind to the node USSDC and the
// metrics listener from the config file, drives USSD over SMPP and HTTP,
// an MO keyword answered by SMS with a delivery receipt, scrapes
// /metrics over HTTP, and checks every series the gateway exports with
// values that match what was driven.
func TestMetricsSMPP(t *testing.T) {
	smsc := nodetest.Start(t)
	red := storetest.Redis(t)
	t.Setenv("USSDGW_TEST_SMPP_PW", "secret")
	smsc.Do(map[string]any{"cmd": "set", "dlr": map[string]any{"mode": "text", "id": "dec", "stat": "DELIVRD", "state": 2}})
	cfg := writeConfig(t, examplesConfig(t)+fmt.Sprintf(`redis_prefix: %q
metrics_listen: 127.0.0.1:0
smpp:
  connections:
    - name: sim-a
      group: sim
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "384", ton: 3, npi: 0}]
      reconnect: {min: 10ms, max: 100ms}
      ussd: {profile: tata}
  sms: {source: "384"}
`, red.Prefix, smsc.Addr()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	lw := &syncWriter{w: &bytes.Buffer{}}
	go func() {
		done <- run(ctx, []string{"-config", cfg, "-redis-url", redisURLFor(t, red)}, env(nil), io.Discard, lw, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, lw.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	defer func() {
		cancel()
		<-done
	}()
	m := metricsAddr.FindStringSubmatch(lw.String())
	if m == nil {
		t.Fatalf("no metrics listener in the logs:\n%s", lw.String())
	}
	metricsURL := "http://" + m[1] + "/metrics"
	smsc.WaitCount(0, 1, 5*time.Second, "bind", nodetest.IsEv("bind"))

	const msisdn = "254733000088"
	ussdStep := func(op int, text, its string) {
		t.Helper()
		from := smsc.Mark()
		smsc.Send("deliver_sm", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "384", "data_coding": 0x0F, "ussd_service_op": op},
			map[string]string{"short_message": hex.EncodeToString([]byte(text)), "its_session_info": its})
		smsc.WaitFor(from, 5*time.Second, "screen", func(e nodetest.Event) bool {
			return e.Str("ev") == "submit_sm" && e.Str("dst") == msisdn && e.Str("service_type") == "USSD"
		})
	}
	ussdStep(0x01, "*384#", "1300")
	ussdStep(0x12, "1", "1300")
	// An MO keyword: answered by SMS (the market menu), whose receipt
	// comes back.
	from := smsc.Mark()
	smsc.Send("deliver_sm", map[string]any{"source_addr": msisdn, "destination_addr": "384", "data_coding": 0},
		map[string]string{"short_message": hex.EncodeToString([]byte("price"))})
	smsc.WaitFor(from, 5*time.Second, "sms", func(e nodetest.Event) bool {
		return e.Str("ev") == "message" && e.Str("dst") == msisdn && !e.Has("ussd")
	})
	for _, text := range []string{"", "1*1*2"} {
		resp, err := http.PostForm("http://"+addr+"/ussd/africastalking", url.Values{
			"sessionId": {"h1"}, "phoneNumber": {"+254700000078"}, "serviceCode": {"*384#"}, "text": {text}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// The receipt is handled on the client's worker after the SMSC sent
	// it, and its deliver_sm_resp is written after that: wait for both to
	// be counted.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams = scrapeURL(t, metricsURL)
		rcpt, _ := sample(fams, "ussdgw_smpp_receipts_total", map[string]string{"state": "DELIVERED", "accepted": "true"})
		resps, _ := sample(fams, "ussdgw_smpp_pdus_total", map[string]string{"direction": "out", "command": "deliver_sm_resp"})
		if (rcpt >= 1 && resps >= 4) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	bind := map[string]string{"bind": "sim-a"}
	checkSeries(t, fams, []want{
		{"ussdgw_ussd_steps_total", map[string]string{"transport": "smpp", "service": "market", "outcome": "continue"}, 2, 2},
		{"ussdgw_ussd_steps_total", map[string]string{"transport": "sms", "service": "market"}, 1, 1},
		{"ussdgw_ussd_steps_total", map[string]string{"transport": "http", "service": "market"}, 2, 2},
		{"ussdgw_ussd_steps_total", nil, 5, 5},
		{"ussdgw_ussd_step_duration_seconds", map[string]string{"transport": "smpp"}, 2, 2},
		{"ussdgw_ussd_sessions_active", map[string]string{"transport": "smpp", "service": "market"}, 1, 1},
		{"ussdgw_ussd_sessions_active", map[string]string{"transport": "http", "service": "market"}, 1, 1},
		{"ussdgw_ussd_sessions_active", map[string]string{"transport": "sms", "service": "market"}, 1, 1},
		{"ussdgw_smpp_bind_up", map[string]string{"bind": "sim-a", "group": "sim"}, 1, 1},
		{"ussdgw_smpp_bind_drops_total", bind, 0, 0},
		{"ussdgw_smpp_window_in_use", bind, 0, 10},
		{"ussdgw_smpp_window_waiting", bind, 0, 0},
		// 2 USSD screens and at least one SMS part went out, each answered.
		{"ussdgw_smpp_pdus_total", map[string]string{"bind": "sim-a", "direction": "out", "command": "submit_sm", "status": "ESME_ROK"}, 3, -1},
		{"ussdgw_smpp_pdus_total", map[string]string{"bind": "sim-a", "direction": "in", "command": "submit_sm_resp", "status": "ESME_ROK"}, 3, -1},
		// 2 USSD messages, the MO SMS and the receipt came in, each answered.
		{"ussdgw_smpp_pdus_total", map[string]string{"bind": "sim-a", "direction": "in", "command": "deliver_sm"}, 4, -1},
		{"ussdgw_smpp_pdus_total", map[string]string{"bind": "sim-a", "direction": "out", "command": "deliver_sm_resp", "status": "ESME_ROK"}, 4, -1},
		{"ussdgw_smpp_pdus_total", map[string]string{"bind": "sim-a", "direction": "out", "command": "bind_transceiver"}, 1, 1},
		{"ussdgw_smpp_receipts_total", map[string]string{"bind": "sim-a", "state": "DELIVERED", "accepted": "true"}, 1, -1},
		{"ussdgw_smpp_throttled_total", bind, 0, 0},
		{"ussdgw_smpp_response_timeouts_total", bind, 0, 0},
		{"ussdgw_sms_mt_total", map[string]string{"outcome": "sent"}, 1, -1},
		{"ussdgw_sms_mt_total", map[string]string{"outcome": "failed"}, 0, 0},
		{"ussdgw_sms_mo_total", map[string]string{"outcome": "handled"}, 1, 1},
		{"ussdgw_smpp_ussd_events_total", map[string]string{"event": "refused"}, 0, 0},
		{"ussdgw_adapter_calls_total", map[string]string{"adapter": "prices", "outcome": "ok"}, 1, -1},
		{"ussdgw_redis_errors_total", nil, 0, 0},
		{"ussdgw_refusals_total", nil, 0, 0},
	})
	// The reply left through the outbox, which is readable and keeps
	// nothing dead.
	checkSeries(t, fams, []want{
		{"ussdgw_outbox_up", nil, 1, 1},
		{"ussdgw_outbox_dead", nil, 0, 0},
		{"ussdgw_outbox_delayed", nil, 0, 0},
		{"ussdgw_outbox_depth", map[string]string{"priority": "high"}, 0, 1},
		{"ussdgw_outbox_depth", map[string]string{"priority": "bulk"}, 0, 0},
		{"ussdgw_outbox_oldest_age_seconds", nil, 0, 60},
	})
	// Every series the gateway can export is there.
	for _, name := range metrics.SortedNames(metrics.AllNames()) {
		if _, ok := fams[name]; !ok {
			t.Errorf("the scrape lacks %s", name)
		}
	}
	if strings.Contains(lw.String(), msisdn) {
		t.Error("an MSISDN reached the logs")
	}
}

// TestMetricsListenerGuard: -metrics-listen refuses a non-loopback address
// before anything starts, unless -metrics-public (flag, env or file).
func TestMetricsListenerGuard(t *testing.T) {
	err := run(context.Background(), []string{"-flows", "../../flows-examples", "-listen", "127.0.0.1:0", "-metrics-listen", "0.0.0.0:0"}, env(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "-metrics-listen 0.0.0.0:0 is not a loopback address") || !strings.Contains(err.Error(), "-metrics-public") {
		t.Fatalf("got %v", err)
	}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		file string
	}{
		{args: []string{"-metrics-public"}},
		{env: map[string]string{"USSDGW_METRICS_PUBLIC": "true"}},
		{file: "metrics_public: true\n"},
	} {
		args := tt.args
		if tt.file != "" {
			args = append(args, "-config", writeConfig(t, tt.file))
		}
		s, err := parseSettings("ussdgw", args, env(tt.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !s.MetricsPublic {
			t.Errorf("%v %v %q: metrics-public not set", tt.args, tt.env, tt.file)
		}
	}
	if _, err := parseSettings("ussdgw", nil, env(map[string]string{"USSDGW_METRICS_PUBLIC": "maybe"}), io.Discard); err == nil ||
		err.Error() != `USSDGW_METRICS_PUBLIC: "maybe" is not true or false` {
		t.Errorf("bad bool: %v", err)
	}
	s := defaults()
	if s.MetricsListen != "" || s.MetricsPublic {
		t.Errorf("metrics must be off by default: %q %v", s.MetricsListen, s.MetricsPublic)
	}
}
