package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/ussd/storetest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestSecureByDefault(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" = accepted
	}{
		{"loopback without protection", map[string]string{"USSDGW_LISTEN": "127.0.0.1:8080"}, ""},
		{"localhost without protection", map[string]string{"USSDGW_LISTEN": "localhost:8080"}, ""},
		{"IPv6 loopback", map[string]string{"USSDGW_LISTEN": "[::1]:8080"}, ""},
		{"every interface without protection", map[string]string{"USSDGW_LISTEN": ":8080"}, "set -callback-secret"},
		{"public address without protection", map[string]string{"USSDGW_LISTEN": "0.0.0.0:8080"}, "set -callback-secret"},
		{"public with a secret", map[string]string{"USSDGW_LISTEN": ":8080", "USSDGW_CALLBACK_SECRET": "0123456789abcdef0123"}, ""},
		{"public with an allow-list", map[string]string{"USSDGW_LISTEN": ":8080", "USSDGW_CALLBACK_ALLOW": "196.201.214.0/24, 41.90.0.1"}, ""},
		{"short secret", map[string]string{"USSDGW_CALLBACK_SECRET": "short"}, "at least 16 characters"},
		{"secret with a slash", map[string]string{"USSDGW_CALLBACK_SECRET": "0123456789/abcdef"}, "path-safe"},
		{"bad CIDR", map[string]string{"USSDGW_CALLBACK_ALLOW": "10.0.0.0/33"}, "-callback-allow"},
		{"bad proxy", map[string]string{"USSDGW_CALLBACK_TRUSTED_PROXIES": "proxy.local"}, "-callback-trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSettings("ussdgw", nil, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.guards()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if err != nil && tt.env["USSDGW_CALLBACK_SECRET"] != "" && strings.Contains(err.Error(), tt.env["USSDGW_CALLBACK_SECRET"]) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	// The whole run refuses to start, saying what to set.
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-listen", "0.0.0.0:0"}, env(nil), io.Discard, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "USSDGW_CALLBACK_SECRET") || !strings.Contains(err.Error(), "-callback-allow") {
		t.Fatalf("run off loopback without protection: %v", err)
	}
}

func TestDebugListen(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		wantLog string
	}{
		{nil, "", ""},
		{[]string{"-debug-listen", "127.0.0.1:6060"}, "", ""},
		{[]string{"-debug-listen", ":6060"}, "not a loopback address", ""},
		{[]string{"-debug-listen", "0.0.0.0:6060"}, "set -debug-public", ""},
		{[]string{"-debug-listen", ":6060", "-debug-public"}, "", "level=WARN"},
	}
	for _, tt := range tests {
		s, err := parseSettings("ussdgw", tt.args, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var logBuf bytes.Buffer
		err = s.checkDebug(logcheck.Wrap(t, slog.NewTextHandler(&logBuf, nil)))
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.wantErr)
		}
		if tt.wantLog != "" && !strings.Contains(logBuf.String(), tt.wantLog) {
			t.Errorf("%v: log %q", tt.args, logBuf.String())
		}
	}
}

func TestDenyCommand(t *testing.T) {
	red := storetest.Redis(t)
	if red.Addr() != "" {
		t.Skip("needs REDIS_URL: the command connects by URL")
	}
	e := env(map[string]string{"USSDGW_REDIS_URL": os.Getenv("REDIS_URL"), "USSDGW_REDIS_PREFIX": red.Prefix})
	do := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"deny"}, args...), e, &out, &errOut, nil)
		return out.String() + errOut.String(), err
	}
	for _, st := range []struct {
		args []string
		want string
		err  bool
	}{
		{[]string{"add", "+254 700 000 001"}, "denied 254700000001\n", false},
		{[]string{"add", "254700000002"}, "denied 254700000002\n", false},
		{[]string{"list"}, "254700000001\n254700000002\n", false},
		{[]string{"remove", "254700000001"}, "removed 254700000001\n", false},
		{[]string{"remove", "254700000001"}, "254700000001 was not on the deny-list\n", false},
		{[]string{"list"}, "254700000002\n", false},
		{[]string{"add", "abc"}, "", true},
		{[]string{"add"}, "usage: ussdgw deny", true},
		{[]string{"purge"}, "usage: ussdgw deny", true},
	} {
		out, err := do(st.args...)
		if (err != nil) != st.err || !strings.HasPrefix(out, st.want) {
			t.Errorf("deny %v: %q %v", st.args, out, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"deny", "list"}, env(nil), &out, &out, nil); err == nil || !strings.Contains(err.Error(), "-redis-url") {
		t.Errorf("without Redis: %v", err)
	}
}
