package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readDocSteps returns the ```sh blocks of a markdown file's section
// (from a "## " heading starting with heading to the next) that are
// followed by an output block, and the first sh block (the start
// command) separately.
func readDocSteps(t *testing.T, path, heading string) (start string, steps []tourStep) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in, inBlock bool
	var kind string
	var block []string
	var pending *tourStep
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## "+heading)
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(line, "```") {
			if !inBlock {
				inBlock, kind, block = true, strings.TrimPrefix(line, "```"), nil
				continue
			}
			inBlock = false
			text := strings.Join(block, "\n")
			switch {
			case kind == "sh" && start == "":
				start = text
			case kind == "sh":
				pending = &tourStep{line: n - len(block), cmd: text}
			case kind == "" && pending != nil:
				pending.want = text
				steps = append(steps, *pending)
				pending = nil
			}
			continue
		}
		if inBlock {
			block = append(block, line)
		} else if strings.TrimSpace(line) != "" {
			pending = nil
		}
	}
	return start, steps
}

// TestAggregatorsTour runs docs/aggregators.md's "Try it": the gateway as
// its start command starts it (the example config), then one curl per
// dialect, comparing every output shown.
func TestAggregatorsTour(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	start, steps := readDocSteps(t, "../../docs/aggregators.md", "Try it")
	const want = "go run ./cmd/ussdgw -config docs/aggregators.yaml"
	if start != want {
		t.Fatalf("docs/aggregators.md: the start command is %q; this test runs %q", start, want)
	}
	if len(steps) < 6 {
		t.Fatalf("found %d steps with output in docs/aggregators.md, want one per dialect at least", len(steps))
	}
	addr := serveInProcess(t, "-flows", "../../flows-examples", "-config", "../../docs/aggregators.yaml")
	playSteps(t, "docs/aggregators.md", addr, steps)
}

// TestHTTPRoutesConfig: the http: section's mistakes are reported at
// their line and column, with what would be right.
func TestHTTPRoutesConfig(t *testing.T) {
	for _, tc := range []struct {
		name, listen, yaml string
		want               []string // each in the error; none: no error
		routes             int
	}{
		{"two routes", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /ussd/at, dialect: africastalking}\n    - {path: /ussd/hubtel, dialect: hubtel}\n", nil, 2},
		{"unknown dialect", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /ussd/x, dialect: hubtle}\n",
			[]string{":3:32: http.routes[0].dialect: unknown dialect \"hubtle\" (one of africastalking, arkesel, emergent, hubtel, json, nalo)"}, 0},
		{"missing path", "127.0.0.1:8080", "http:\n  routes:\n    - {dialect: nalo}\n", []string{":3:7: http.routes[0].path: missing"}, 0},
		{"bad path", "127.0.0.1:8080", "http:\n  routes:\n    - {path: ussd/nalo/, dialect: nalo}\n", []string{"http.routes[0].path: \"ussd/nalo/\" is not a path"}, 0},
		{"own path", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /api/v1/x, dialect: nalo}\n", []string{"is the gateway's own"}, 0},
		{"duplicate", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo}\n    - {path: /u, dialect: hubtel}\n", []string{":4:14: http.routes[1].path: /u is already a route"}, 0},
		{"unknown key", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo, secrte: x}\n", []string{"http.routes[0].secrte: unknown setting"}, 0},
		{"short secret", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo, secret: abc}\n", []string{"http.routes[0].secret: must be at least 16 characters"}, 0},
		{"bad allow", "127.0.0.1:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo, allow: 10.0.0.300}\n", []string{"http.routes[0].allow:"}, 0},
		{"no routes", "127.0.0.1:8080", "http:\n  routes: []\n", []string{"http.routes: expected a list of routes"}, 0},
		{"exposed unguarded", "0.0.0.0:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo}\n", []string{"http.routes[0]: listening on 0.0.0.0:8080"}, 0},
		{"exposed, guarded per route", "0.0.0.0:8080", "http:\n  routes:\n    - {path: /u, dialect: nalo, secret: 0123456789abcdef0123}\n    - {path: /v, dialect: json, allow: 10.0.0.0/8}\n", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := parseSettings("ussdgw", []string{"-config", file, "-listen", tc.listen}, env(nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			guards, err := s.guards()
			if err != nil {
				t.Fatal(err)
			}
			routes, err := s.httpRoutes(guards["africastalking"])
			if len(tc.want) == 0 {
				if err != nil || len(routes) != tc.routes {
					t.Fatalf("got %d routes, %v; want %d", len(routes), err, tc.routes)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), file+":") {
				t.Errorf("error %q is not positioned in %s", err, file)
			}
		})
	}
}

// TestRouteSecrets: one gateway, two aggregators, each with its own
// secret: a route's secret replaces callback_secret for that route only.
func TestRouteSecrets(t *testing.T) {
	const global, hubtel = "global-secret-0123456789", "hubtel-secret-0123456789"
	file := filepath.Join(t.TempDir(), "c.yaml")
	cfg := "callback_secret: " + global + "\nhttp:\n  routes:\n    - {path: /ussd/at, dialect: africastalking}\n" +
		"    - {path: /ussd/hubtel, dialect: hubtel, secret: " + hubtel + "}\n"
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := serveInProcess(t, "-flows", "../loadtest/flows", "-config", file)
	at := "sessionId=s1&phoneNumber=%2B254700000001&serviceCode=%2A777%23&text="
	hub := `{"Type":"Initiation","Mobile":"233200000001","SessionId":"h1","ServiceCode":"777","Message":"*777#","Sequence":1}`
	for i, tc := range []struct {
		path, secret, ctype, body string
		want                      int
	}{
		{"/ussd/at", global, "application/x-www-form-urlencoded", at, 200},
		{"/ussd/at", hubtel, "application/x-www-form-urlencoded", at, 403},
		{"/ussd/at/" + global, "", "application/x-www-form-urlencoded", at, 200},
		{"/ussd/hubtel", hubtel, "application/json", hub, 200},
		{"/ussd/hubtel", global, "application/json", hub, 403},
		{"/ussd/hubtel", "", "application/json", hub, 403},
		{"/ussd/hubtel/" + hubtel, "", "application/json", hub, 200},
		{"/ussd/africastalking", global, "application/x-www-form-urlencoded", at, 404}, // not listed: not served
	} {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tc.ctype)
		if tc.secret != "" {
			req.Header.Set("X-Gateway-Secret", tc.secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("case %d: POST to %s: %d, want %d", i, tc.path[:strings.LastIndexByte(tc.path, '/')+1], resp.StatusCode, tc.want)
		}
	}
}
