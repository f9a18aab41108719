package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:1111\nsession_timeout: 90s\nresume_window: 1m\nredis_prefix: \"file:\"\n"), 0o644)
	s, err := parseSettings("ussdgw", []string{"-config", cfg, "-listen", "127.0.0.1:2222"},
		env(map[string]string{"USSDGW_SESSION_TIMEOUT": "120s", "USSDGW_LISTEN": "127.0.0.1:3333"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != "127.0.0.1:2222" {
		t.Errorf("flag must win: listen %s", s.Listen)
	}
	if s.SessionTimeout != 120*time.Second {
		t.Errorf("env must beat the file: session timeout %s", s.SessionTimeout)
	}
	if s.ResumeWindow != time.Minute || s.RedisPrefix != "file:" {
		t.Errorf("the file must beat defaults: %s %q", s.ResumeWindow, s.RedisPrefix)
	}
	if s.Flows != "./flows-examples" || s.StepBudget != 4*time.Second {
		t.Errorf("defaults: %q %s", s.Flows, s.StepBudget)
	}
}

func TestSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: x\nsesion_timeout: 3s\nstep_budget: soon\n"), 0o644)
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-config", bad}, nil, bad + ":2:1: sesion_timeout: unknown setting; did you mean \"session_timeout\"? (unknown-setting)\n" + bad + ":3:14: step_budget: \"soon\" is not a duration like 180s or 5m (wrong-type)"},
		{nil, map[string]string{"USSDGW_STEP_BUDGET": "fast"}, `USSDGW_STEP_BUDGET: "fast" is not a duration like 180s or 5m`},
		{[]string{"-nope"}, nil, "flag provided but not defined: -nope"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
	} {
		_, err := parseSettings("ussdgw", tt.args, env(tt.env), io.Discard)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v %v: got %v\nwant %s", tt.args, tt.env, err, tt.want)
		}
	}
}

// The binary's run: it serves the examples from memory on a free port,
// answers a dial, and shuts down cleanly when its context ends.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples"}, env(nil), io.Discard, &logs, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	resp, err := http.PostForm("http://"+addr+"/ussd/africastalking", url.Values{
		"sessionId": {"run-1"}, "phoneNumber": {"+254700000001"}, "serviceCode": {"*384#"}, "text": {""}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "CON Market prices\n") {
		t.Fatalf("dial: %q", body)
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
	for _, want := range []string{"serving service", "service=market", `codes=*384#`, "gateway listening", `store="memory`, "shutting down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "254700000001") {
		t.Error("an MSISDN reached the logs")
	}
}

func TestRunRefusesBrokenFlows(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("id: x\nlanguages: [en]\nnodes:\n  a: {type: menu, text: hi, options: [{label: go, next: b}]}\n"), 0o644)
	err := run(context.Background(), []string{"-flows", dir, "-listen", "127.0.0.1:0"}, env(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `x.yaml:4:57: nodes.a.options[1].next: unknown node "b"`) {
		t.Fatalf("got %v", err)
	}
}

func TestLint(t *testing.T) {
	var out bytes.Buffer
	if err := lint([]string{"../../flows-examples"}, &out); err != nil || out.String() != "ok\n" {
		t.Fatalf("examples: %v %q", err, out.String())
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("id: x\nlanguages: [en]\nnodes:\n  a: {type: end, txt: hi}\n"), 0o644)
	out.Reset()
	err := lint([]string{dir}, &out)
	want := filepath.Join(dir, "x.yaml") + ":4:6: nodes.a.text: required field is missing (missing-field)\n" +
		filepath.Join(dir, "x.yaml") + ":4:18: nodes.a.txt: unknown field \"txt\"; did you mean \"text\"? (unknown-field)\n2 problem(s)\n"
	if err == nil || out.String() != want {
		t.Fatalf("got %v %q\nwant %q", err, out.String(), want)
	}
}
