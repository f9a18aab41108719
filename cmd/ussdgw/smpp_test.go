package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/smpp/bridge"
	"github.com/ussdgw/ussdgw/smpp/nodetest"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

// examplesConfig is a config file's start that serves the example flows
// with their demo adapters (absolute paths: the file lives elsewhere).
func examplesConfig(t *testing.T) string {
	flowsDir, err := filepath.Abs("../../flows-examples")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flows: %s\nlisten: 127.0.0.1:0\nadapters:\n", flowsDir)
	for _, name := range []string{"prices", "health", "quiz", "jobs"} {
		fmt.Fprintf(&b, "  %s: {kind: %s, file: %s}\n", name, name, filepath.Join(flowsDir, "data", name+".yaml"))
	}
	return b.String()
}

func writeConfig(t *testing.T, body string) string {
	f := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSMPPConfigErrors: the smpp: section's problems are reported all at
// once, each with the file, line and column of the field.
func TestSMPPConfigErrors(t *testing.T) {
	t.Setenv("USSDGW_TEST_SMPP_PW", "pw")
	for _, tt := range []struct {
		name, section string
		want          []string
	}{
		{"unknown keys", `
smpp:
  connections:
    - name: a
      adress: 127.0.0.1:2775
      ussd: {profile: tata, end_opp: 1}
  sms: {sourc: "384"}
`, []string{`:5:7: smpp.connections[0].adress: unknown field; did you mean "address"? (unknown-field)`, `:6:29: smpp.connections[0].ussd.end_opp: unknown field; did you mean "end_op"? (unknown-field)`, `:7:9: smpp.sms.sourc: unknown field; did you mean "source"? (unknown-field)`}},
		{"invalid values", `
smpp:
  connections:
    - name: a
      address: 127.0.0.1:2775
      system_id: test
      password_env: USSDGW_TEST_SMPP_UNSET
      sources: [{addr: "384"}]
      ussd: {profile: huawei}
    - name: a
      address: nohost
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      ussd: {profile: spec, end_op: 0x02}
  sms: {group: nope, source: "385"}
  mo: {max_octets: 20}
`, []string{
			":7:21: smpp.connections[0].password_env: environment variable USSDGW_TEST_SMPP_UNSET is empty or unset",
			":9:23: smpp.connections[0].ussd.profile: unknown profile \"huawei\" (mica, sixdee, spec, tata)",
			":11:16: smpp.connections[1].address: want host:port",
			":14:37: smpp.connections[1].ussd.end_op: 0x02 is also the continue op",
			":10:13: smpp.connections[1].name: \"a\" is also connections[0]",
			":15:16: smpp.sms.group: no connection is in group \"nope\"",
			":16:20: smpp.mo.max_octets: must be 140 to 1000",
		}},
		{"receipt ids", `
smpp:
  connections:
    - name: a
      address: 127.0.0.1:2775
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      receipt_ids: hex
    - name: b
      group: g
      address: 127.0.0.1:2775
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
    - name: c
      group: g
      address: 127.0.0.1:2775
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      receipt_ids: submit-hex
`, []string{
			`:8:20: smpp.connections[0].receipt_ids: want same, submit-hex, receipt-hex or either, have "hex" (bad-value)`,
			`:19:20: smpp.connections[2].receipt_ids: submit-hex differs from connections[1] of the same group "g" (same)`,
		}},
		{"type error", `
smpp:
  connections:
    - name: a
      window: many
`, []string{`:5:15: smpp: "many" is not a whole number (wrong-type)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.section+examplesConfig(t))
			err := run(context.Background(), []string{"-config", cfg}, env(nil), io.Discard, io.Discard, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), cfg+w) {
					t.Errorf("error lacks %s%s:\n%v", cfg, w, err)
				}
			}
		})
	}
}

// TestRunWithSMPP runs the gateway with an smpp: section against the node
// USSDC: a dial over SMPP is served by the example flows with sessions in
// Redis, an MO keyword is answered by SMS, /healthz shows nothing of the binds, and
// shutting down unbinds.
func TestRunWithSMPP(t *testing.T) {
	smsc := nodetest.Start(t)
	red := storetest.Redis(t)
	t.Setenv("USSDGW_TEST_SMPP_PW", "secret")
	cfg := writeConfig(t, examplesConfig(t)+fmt.Sprintf(`redis_prefix: %q
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
    - name: sim-b
      group: sim
      address: %s
      system_id: test
      password_env: USSDGW_TEST_SMPP_PW
      sources: [{addr: "384", ton: 3, npi: 0}]
      reconnect: {min: 10ms, max: 100ms}
      ussd: {profile: tata}
  sms: {source: "384"}
`, red.Prefix, smsc.Addr(), smsc.Addr()))
	args := []string{"-config", cfg, "-redis-url", redisURLFor(t, red)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	lw := &syncWriter{w: &logs}
	go func() { done <- run(ctx, args, env(nil), io.Discard, lw, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, lw.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	smsc.WaitCount(0, 2, 5*time.Second, "bind", nodetest.IsEv("bind"))

	const msisdn = "254733000001"
	ussdStep := func(op int, text, its string) nodetest.Event {
		t.Helper()
		from := smsc.Mark()
		smsc.Send("deliver_sm", map[string]any{"service_type": "USSD", "source_addr": msisdn, "destination_addr": "384", "data_coding": 0x0F, "ussd_service_op": op},
			map[string]string{"short_message": hex.EncodeToString([]byte(text)), "its_session_info": its})
		return smsc.WaitFor(from, 5*time.Second, "screen", func(e nodetest.Event) bool {
			return e.Str("ev") == "submit_sm" && e.Str("dst") == msisdn && e.Str("service_type") == "USSD"
		})
	}
	if s := ussdStep(0x01, "*384#", "1200"); !strings.HasPrefix(s.Str("text"), "Market prices\n1. Check a price") || s.Num("ussd_service_op") != 2 || s.Str("its_session_info") != "1200" {
		t.Errorf("dial: %v", s)
	}
	if s := ussdStep(0x12, "1", "1200"); !strings.HasPrefix(s.Str("text"), "Choose a crop") {
		t.Errorf("reply: %v", s)
	}
	from := smsc.Mark()
	smsc.Send("deliver_sm", map[string]any{"source_addr": msisdn, "destination_addr": "384", "data_coding": 0},
		map[string]string{"short_message": hex.EncodeToString([]byte("price"))})
	m := smsc.WaitFor(from, 5*time.Second, "sms", func(e nodetest.Event) bool {
		return e.Str("ev") == "message" && e.Str("dst") == msisdn && !e.Has("ussd")
	})
	// The market service runs by SMS too: its keyword opens the menu.
	if !strings.HasPrefix(m.Str("text"), "Market prices\n1. Check a price") || m.Str("src") != "384" {
		t.Errorf("keyword reply %v", m)
	}

	// STOP <keyword> over SMPP: recorded in the consent registry, answered.
	reg := consent.New(red.Client, red.Prefix, consent.Options{})
	for _, step := range []struct {
		text, want string
		allowed    bool
	}{
		{"STOP PRICE", "You will receive no more messages from Market prices. Send START PRICE to receive them again.", false},
		{"start price", "Messages from Market prices will come again. Send STOP PRICE to end them.", true},
	} {
		from := smsc.Mark()
		smsc.Send("deliver_sm", map[string]any{"source_addr": msisdn, "destination_addr": "384", "data_coding": 0},
			map[string]string{"short_message": hex.EncodeToString([]byte(step.text))})
		m := smsc.WaitFor(from, 5*time.Second, "sms", func(e nodetest.Event) bool {
			return e.Str("ev") == "message" && e.Str("dst") == msisdn && !e.Has("ussd")
		})
		if m.Str("text") != step.want {
			t.Errorf("%s: answered %q", step.text, m.Str("text"))
		}
		if ok, err := reg.Allowed(ctx, msisdn, "market"); err != nil || ok != step.allowed {
			t.Errorf("after %s: allowed %v %v", step.text, ok, err)
		}
	}

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The binds' states are for operators (gateway.Server.Details), not
	// for whoever reaches /healthz.
	if string(body) != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz: %s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no shutdown")
	}
	smsc.WaitCount(0, 2, 5*time.Second, "unbind", nodetest.IsEv("unbind"))
	out := lw.String()
	for _, want := range []string{"smpp connection", "bind=sim-a", "group=sim", "ussd=tata", "msg=bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, msisdn) || strings.Contains(out, "secret") {
		t.Errorf("an MSISDN or the password reached the logs:\n%s", out)
	}
}

// syncWriter is a log sink safe for the gateway's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// TestSMPPConfigReference: the reference section in testdata (every key,
// the defaults) decodes, validates, and its explicit defaults equal the
// ones left out.
func TestSMPPConfigReference(t *testing.T) {
	t.Setenv("OP1_SMPP_PASSWORD", "pw")
	data, err := os.ReadFile("testdata/smpp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	c, err := decodeSMPP("testdata/smpp.yaml", doc.Content[0].Content[1])
	if err != nil {
		t.Fatal(err)
	}
	full, short := c.Connections[0], c.Connections[1]
	pf, _ := full.USSD.Resolve()
	ps, _ := short.USSD.Resolve()
	if !reflect.DeepEqual(pf, ps) {
		t.Errorf("the tata preset written out differs from the preset:\n%+v\n%+v", pf, ps)
	}
	full.Address, full.USSD, short.USSD = short.Address, smpp.USSDConfig{}, smpp.USSDConfig{}
	full.Name = short.Name
	if !reflect.DeepEqual(full, short) {
		t.Errorf("explicit defaults differ from the defaults:\n%+v\n%+v", full, short)
	}
	if d := bridge.Defaults(); c.SMS.ReceiptTTL != d.SMS.ReceiptTTL || c.MO != d.MO || c.USSD != d.USSD {
		t.Errorf("section defaults: %+v", c)
	}
}
