package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/problem"
)

// runLint runs `ussdgw lint args...` through run, as main does, and
// returns what it printed and whether it reported problems.
func runLint(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"lint"}, args...), env(nil), &out, &out, nil)
	if err != nil && !errors.Is(err, errUsage) {
		t.Fatalf("lint %v: %v", args, err)
	}
	return out.String(), err != nil
}

// TestLintBrokenFlows: each file of testdata/lint/broken is
// testdata/lint/ok/price.yaml with one mistake; lint, with the config the
// good one lints clean with, reports exactly that mistake: its rule, its
// position and its words.
func TestLintBrokenFlows(t *testing.T) {
	const dir = "testdata/lint/broken"
	golden := map[string]string{
		"bad-value":               `4:9: codes[1]: "390#" is not a USSD code like *384# or *384*1# (bad-value)`,
		"duplicate-key":           `19:5: nodes.load.op: duplicate key (first at line 18) (duplicate-key)`,
		"empty-file":              `1:1: the file is empty (empty-file)`,
		"missing-field":           `25:5: nodes.show.text: required field is missing (missing-field)`,
		"missing-param":           `19:13: nodes.load.params.market: op latest of adapter prices needs param market (missing-param)`,
		"missing-text":            `11:16: nodes.main.options[1].label: missing text for fr (missing-text)`,
		"screen-too-long":         `27:3: nodes.sorry.text: in en the screen is 203 characters (GSM 7-bit), over the 182 it can hold (screen-too-long)`,
		"unknown-adapter":         `17:11: nodes.load.call: unknown adapter "price"; did you mean "prices"? (the gateway has prices) (unknown-adapter)`,
		"unknown-field":           `3:1: titel: unknown field "titel"; did you mean "title"? (unknown-field)`,
		"unknown-language":        `11:41: nodes.main.options[1].label.de: "de" is not one of the languages (en, fr) (unknown-language)`,
		"unknown-node":            `23:17: nodes.load.on_timeout: unknown node "sory"; did you mean "sorry"? (unknown-node)`,
		"unknown-op":              `18:9: nodes.load.op: adapter prices has no op "specis" (unknown-op)`,
		"unknown-op-typo":         `18:9: nodes.load.op: adapter prices has no op "lates"; did you mean "latest"? (unknown-op)`,
		"unknown-param":           `19:48: nodes.load.params.lnag: op latest of adapter prices has no param "lnag"; did you mean "lang"? (unknown-param)`,
		"unknown-variable":        `19:54: nodes.load.params.lang: undefined variable "lng"; did you mean "lang"? (unknown-variable)`,
		"unreachable":             `27:3: nodes.orphan: unreachable: no path from the start node "main" leads here (unreachable)`,
		"wrong-type":              `21:14: nodes.load.timeout: expected a positive duration like 2s or 500ms, got "soon" (wrong-type)`,
		"yaml-indent-less":        `20:4: this line is indented by 3 spaces, which lines up with no line above it (yaml-indent)`,
		"yaml-indent-list":        `13:6: this line is indented by 5 spaces, which lines up with no line above it (yaml-indent)`,
		"yaml-indent-more":        `18:6: this line is indented more than line 17 above it (5 spaces, not 4) (yaml-indent)`,
		"yaml-quote-at":           `29:11: quote this text: @later (text cannot start with @) (yaml-quote)`,
		"yaml-quote-colon":        `29:11: quote this text: Sorry: try again later. (a ": " inside it reads as a new key) (yaml-quote)`,
		"yaml-quote-colon-braces": `9:16: quote this text: Maize prices: Nakuru (a ": " inside {...} or [...] ends the text) (yaml-quote)`,
		"yaml-quote-question":     `9:16: quote this text: Which market? Choose one (a "?" inside {...} or [...] is YAML syntax) (yaml-quote)`,
		"yaml-tab":                `17:1: a tab in the indentation: YAML indents with spaces only (yaml-tab)`,
		"yaml-unclosed":           `19:13: this { is never closed (yaml-unclosed)`,
	}
	if out, bad := runLint(t, "-config", "testdata/lint/gateway.yaml", "testdata/lint/ok"); bad || out != "ok\n" {
		t.Fatalf("the good flow does not lint clean:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(golden) {
		t.Errorf("%d files in %s, %d in the golden table", len(files), dir, len(golden))
	}
	rules := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, ok := golden[name]
			if !ok {
				t.Fatalf("%s is not in the golden table", f)
			}
			out, bad := runLint(t, "-format", "json", "-config", "testdata/lint/gateway.yaml", f)
			var ps []*problem.Problem
			if err := json.Unmarshal([]byte(out), &ps); err != nil {
				t.Fatalf("output is not a JSON array of problems: %v\n%s", err, out)
			}
			if !bad || len(ps) != 1 || ps[0].File != f || strings.TrimPrefix(ps[0].Error(), f+":") != want {
				t.Fatalf("lint %s:\n%s\nwant one problem:\n%s:%s", f, out, f, want)
			}
			rules[ps[0].Rule] = true
		})
	}
	if len(rules) < 18 {
		t.Errorf("only %d distinct rules covered", len(rules))
	}
}

// TestLintBrokenConfigs: each file of testdata/lint/config is the config
// testdata/lint/ok lints clean with, plus an smpp: section, with one
// mistake in its settings, adapters, smpp: section or YAML.
func TestLintBrokenConfigs(t *testing.T) {
	t.Setenv("USSDGW_LINT_TEST_PW", "secret")
	const dir = "testdata/lint/config"
	golden := map[string]string{
		"adapter-bad-value":     `3:32: adapters.prices.file: reading data: open …/flows-examples/data/nothing.yaml: no such file or directory (bad-value)`,
		"adapter-unknown-field": `3:80: adapters.prices.refrsh: unknown key; did you mean "refresh"? (known: file, headers, refresh, timeout, url) (unknown-field)`,
		"smpp-bad-value":        `7:16: smpp.connections[0].address: want host:port, have "10.0.0.1" (bad-value)`,
		"smpp-receipt-ids":      `10:20: smpp.connections[0].receipt_ids: want same, submit-hex, receipt-hex or either, have "hex" (bad-value)`,
		"smpp-unknown-field":    `7:7: smpp.connections[0].adress: unknown field; did you mean "address"? (unknown-field)`,
		"smpp-wrong-type":       `11:15: smpp: "many" is not a whole number (wrong-type)`,
		"unknown-kind":          `3:18: adapters.prices.kind: unknown kind "price"; did you mean "prices"? (known kinds: health, http, jobs, prices, quiz) (unknown-kind)`,
		"unknown-setting":       `4:1: sesion_timeout: unknown setting; did you mean "session_timeout"? (unknown-setting)`,
		"wrong-type":            `4:18: session_timeout: "soon" is not a duration like 180s or 5m (wrong-type)`,
		"yaml-quote":            `4:9: quote this text: http://0.0.0.0: 8080 (a ": " inside it reads as a new key) (yaml-quote)`,
		"yaml-tab":              `3:1: a tab in the indentation: YAML indents with spaces only (yaml-tab)`,
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(golden) {
		t.Errorf("%d files in %s, %d in the golden table", len(files), dir, len(golden))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			out, bad := runLint(t, "-config", f, "testdata/lint/ok")
			first, _, _ := strings.Cut(out, "\n")
			// … stands for the path the adapter looked in, which depends
			// on the working directory.
			want := f + ":" + golden[name]
			match := first == want
			if pre, post, wild := strings.Cut(want, "…"); wild {
				match = strings.HasPrefix(first, pre) && strings.HasSuffix(first, post)
			}
			if !bad || !strings.HasSuffix(out, "\n1 problem(s)\n") || !match {
				t.Fatalf("lint -config %s:\n%s\nwant one problem:\n%s:%s", f, out, f, golden[name])
			}
		})
	}
}

// TestLintEverySectionInOneRun: a config with a bad setting, an adapter
// that does not build, a bad smpp: section, and flows with a misspelled op
// (of an adapter that builds) and a tab: every problem comes out of one
// run, sorted, in the one format; --format json gives them as an array.
func TestLintEverySectionInOneRun(t *testing.T) {
	t.Setenv("USSDGW_LINT_TEST_PW", "secret")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	data, _ := filepath.Abs("../../flows-examples/data/prices.yaml")
	os.WriteFile(cfg, []byte(`log_levl: debug
adapters:
  prices: {kind: prices, file: `+data+`}
  jobs: {kind: jobz}
smpp:
  connections:
    - {name: a, address: nohost, system_id: x, password_env: USSDGW_LINT_TEST_PW}
`), 0o644)
	flowsDir := filepath.Join(dir, "flows")
	os.Mkdir(flowsDir, 0o755)
	src, _ := os.ReadFile("testdata/lint/broken/unknown-op.yaml")
	os.WriteFile(filepath.Join(flowsDir, "price.yaml"), src, 0o644)
	os.WriteFile(filepath.Join(flowsDir, "tab.yaml"), []byte("id: x\nnodes:\n\tmain: {type: end, text: hi}\n"), 0o644)

	out, bad := runLint(t, "--format", "json", "-config", cfg, flowsDir)
	var ps []problem.Problem
	if err := json.Unmarshal([]byte(out), &ps); err != nil || !bad {
		t.Fatalf("bad=%v, %v:\n%s", bad, err, out)
	}
	var got []string
	for _, p := range ps {
		got = append(got, filepath.Base(p.File)+":"+p.Rule)
	}
	want := []string{"price.yaml:unknown-op", "tab.yaml:yaml-tab", "gateway.yaml:unknown-setting", "gateway.yaml:unknown-kind", "gateway.yaml:bad-value"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v\n%s", got, want, out)
	}
	for _, p := range ps {
		if p.Line == 0 || p.Col == 0 || p.Msg == "" {
			t.Errorf("not positioned: %+v", p)
		}
	}
	// The text format says the same, a line each, and the count.
	text, _ := runLint(t, "-config", cfg, flowsDir)
	if n := strings.Count(text, " ("); !strings.HasSuffix(text, "5 problem(s)\n") || n < 5 {
		t.Errorf("text:\n%s", text)
	}
}

// TestLintShippedClean: the example flows and every shipped config lint
// clean: the flows alone (the built-in adapters over their data), with
// the simulator's config, and with the reference smpp: section.
func TestLintShippedClean(t *testing.T) {
	t.Setenv("SIM_SMPP_PASSWORD", "secret")
	t.Setenv("OP1_SMPP_PASSWORD", "secret")
	if out, bad := runLint(t, "../../flows-examples"); bad || out != "ok\n" {
		t.Errorf("flows-examples:\n%s", out)
	}
	if out, bad := runLint(t, "-config", "../smsc-sim/gateway.yaml", "../../flows-examples"); bad || out != "ok\n" {
		t.Errorf("cmd/smsc-sim/gateway.yaml:\n%s", out)
	}
	ref, err := os.ReadFile("testdata/smpp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, examplesConfig(t)+string(ref))
	if out, bad := runLint(t, "-config", cfg); bad || out != "ok\n" {
		t.Errorf("testdata/smpp.yaml:\n%s", out)
	}
}

// TestLintCatchesWrongOpInShippedFlow: a shipped flow with one op
// misspelled, linted as shipped (no config), is caught: the op names the
// adapter, the position and a suggestion.
func TestLintCatchesWrongOpInShippedFlow(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../flows-examples/market.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "market.yaml"), bytes.Replace(src, []byte("op: compare"), []byte("op: compair"), 1), 0o644)
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	data, _ := os.ReadFile("../../flows-examples/data/prices.yaml")
	os.WriteFile(filepath.Join(dir, "data", "prices.yaml"), data, 0o644)
	const want = `market.yaml:102:9: nodes.load_compare.op: adapter prices has no op "compair"; did you mean "compare"? (unknown-op)`
	out, bad := runLint(t, dir)
	if !bad || !strings.Contains(out, want) {
		t.Errorf("got\n%s", out)
	}
	// The gateway refuses it at start too.
	err = run(context.Background(), []string{"-flows", dir, "-listen", "127.0.0.1:0"}, env(nil), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("start: %v", err)
	}
}

func TestLintUsage(t *testing.T) {
	out, bad := runLint(t, "-h")
	if bad || !strings.Contains(out, "usage: ussdgw lint [-config FILE] [-format text|json] [DIR|FILE]") || !strings.Contains(out, "-format") {
		t.Errorf("lint -h:\n%s", out)
	}
	var b bytes.Buffer
	if err := run(context.Background(), []string{"lint", "-format", "xml"}, env(nil), &b, &b, nil); err == nil || !strings.Contains(err.Error(), "use text or json") {
		t.Errorf("-format xml: %v", err)
	}
}

// TestLintDoc: the commands of docs/lint.md run as written (from the
// repository root) and lint clean, and every example the doc takes from
// testdata/lint is what lint prints for that file.
func TestLintDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, f := range []string{"broken", "config"} {
		files, _ := filepath.Glob(filepath.Join("testdata/lint", f, "*.yaml"))
		for _, file := range files {
			cfg, target := "testdata/lint/gateway.yaml", file
			if f == "config" {
				cfg, target = file, "testdata/lint/ok"
			}
			t.Setenv("USSDGW_LINT_TEST_PW", "secret")
			out, _ := runLint(t, "-config", cfg, target)
			for _, l := range strings.Split(out, "\n") {
				if _, rest, ok := strings.Cut(l, ".yaml:"); ok && !strings.Contains(l, "…") {
					outputs = append(outputs, rest)
				}
			}
		}
	}
	checked := 0
	for _, l := range strings.Split(string(doc), "\n") {
		// Examples of files named like the test files: price.yaml (a
		// broken flow) and gateway.yaml (a broken config).
		for _, name := range []string{"price.yaml:", "gateway.yaml:"} {
			for _, ex := range strings.Split(l, "`") {
				if !strings.HasPrefix(strings.TrimSpace(ex), name) {
					continue
				}
				rest := strings.TrimPrefix(strings.TrimSpace(ex), name)
				if rest == "" || strings.Contains(rest, "adapters.prices.file") {
					continue
				}
				checked++
				if !slices.Contains(outputs, rest) {
					t.Errorf("docs/lint.md shows %s%s, which lint does not print for testdata/lint", name, rest)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d examples of docs/lint.md checked", checked)
	}
	t.Chdir("../..")
	for _, l := range strings.Split(string(doc), "\n") {
		args, ok := strings.CutPrefix(l, "go run ./cmd/ussdgw lint")
		if !ok {
			continue
		}
		if out, bad := runLint(t, strings.Fields(args)...); bad {
			t.Errorf("%s:\n%s", l, out)
		}
	}
}
