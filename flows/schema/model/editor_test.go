package model

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// editorDir holds the YAML language server that VS Code's YAML extension
// runs (package.json), and check.js, which drives it as an editor does.
const editorDir = "testdata/editor"

// editor runs check.js with the schema argument ("-": the files'
// modelines) on files and returns its output. It installs the language
// server with npm ci the first time, and skips without node or npm.
func editor(t *testing.T, schema string, files ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the editor check needs node and `npm ci --prefix flows/schema/model/testdata/editor`")
	}
	if _, err := os.Stat(filepath.Join(editorDir, "node_modules", "yaml-language-server")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm is not installed: run `npm ci --prefix flows/schema/model/testdata/editor`")
		}
		out, err := exec.Command(npm, "ci", "--prefix", editorDir, "--no-audit", "--no-fund", "--loglevel=error").CombinedOutput()
		if err != nil {
			t.Skipf("npm ci --prefix %s failed (%v): %s", editorDir, err, out)
		}
	}
	out, err := exec.Command(node, append([]string{filepath.Join(editorDir, "check.js"), schema}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("check.js: %v\n%s", err, out)
	}
	return string(out)
}

// brokenFlow has the mistakes docs/editor.md shows, and a place to ask
// for completion inside an action node.
const brokenFlow = `id: demo
languages: [en]
nodes:
  main:
    type: menu
    text: Hello
    options:
      - lable: One
        next: done
    save: x
  ask:
    type: input
    text: Your age
    save: age
    next: Done
  fetch:
    type: action
    #complete
  done:
    type: end
    text: Bye
`

// TestEditor: the YAML language server, given the committed schema by
// the settings or by a modeline, underlines the mistakes of a flow with
// the messages docs/editor.md shows, completes an action node's keys,
// and finds nothing to say about the shipped flows.
func TestEditor(t *testing.T) {
	dir := t.TempDir()
	bySettings := filepath.Join(dir, "settings.yaml")
	must(t, os.WriteFile(bySettings, []byte(brokenFlow), 0o644))
	schemaFile, err := filepath.Abs("../flow.schema.json")
	must(t, err)
	byModeline := filepath.Join(dir, "modeline.yaml")
	must(t, os.WriteFile(byModeline, []byte("# yaml-language-server: $schema="+schemaFile+"\n"+brokenFlow), 0o644))

	want := []string{
		`:8:9: Property lable is not allowed.`,
		`:8:9: Missing property "label".`,
		`:10:5: Property save is not allowed.`,
		`:15:11: String does not match the pattern of "^(@back|@home|@language|[a-z][a-z0-9_]*)$".`,
		`:16:3: Missing property "call".`,
		`:18: complete: `,
	}
	for _, run := range []struct {
		name, schema, file string
		shift              int // the modeline's line
	}{
		{"settings", "../flow.schema.json", bySettings, 0},
		{"modeline", "-", byModeline, 1},
	} {
		out := editor(t, run.schema, run.file)
		for _, w := range want {
			w = shiftLine(w, run.shift)
			if !strings.Contains(out, run.file+w) {
				t.Errorf("%s: the editor does not say %q:\n%s", run.name, w, out)
			}
		}
		for _, key := range []string{"call", "late_sms", "next", "on_empty", "on_error", "on_invalid", "on_timeout", "op", "params", "save", "timeout"} {
			if !strings.Contains(out, " "+key) {
				t.Errorf("%s: completion in an action node lacks %s:\n%s", run.name, key, out)
			}
		}
	}
	// Hovering over a key shows its description (the doc comment).
	hover := filepath.Join(dir, "hover.yaml")
	must(t, os.WriteFile(hover, []byte("id: demo\nlanguages: [en]\nnodes:\n  fetch:\n    type: action\n    call: prices\n    next: done\n    on_timeout: done  #hover\n  done: {type: end, text: Bye}\n"), 0o644))
	if out := editor(t, "../flow.schema.json", hover); !strings.Contains(out, "Where to go when the back-end is too slow (default: the late screen with late_sms, else on_error).") {
		t.Errorf("hover on on_timeout:\n%s", out)
	}
	shipped := shippedFlows(t)
	if out := editor(t, "../flow.schema.json", shipped...); strings.TrimSpace(out) != "" {
		t.Errorf("the editor finds problems in the shipped flows:\n%s", out)
	}
	// The appointments example names the schema in its modeline, by a
	// path relative to itself.
	if out := editor(t, "-", "../../../examples/appointments/flows/appointments.yaml"); strings.TrimSpace(out) != "" {
		t.Errorf("appointments.yaml:\n%s", out)
	}
}

// shiftLine moves ":N:" or ":N: " (the first number) down by n lines.
func shiftLine(s string, n int) string {
	if n == 0 {
		return s
	}
	rest := s[1:]
	i := strings.IndexAny(rest, ":")
	var line int
	for _, c := range rest[:i] {
		line = line*10 + int(c-'0')
	}
	return ":" + strconv.Itoa(line+n) + rest[i:]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestVSCodeSettings: the repository's .vscode/settings.json maps the
// schema to every shipped flow and to nothing else.
func TestVSCodeSettings(t *testing.T) {
	data, err := os.ReadFile("../../../.vscode/settings.json")
	must(t, err)
	var settings struct {
		Schemas map[string][]string `json:"yaml.schemas"`
	}
	must(t, json.Unmarshal(data, &settings))
	globs := settings.Schemas["./flows/schema/flow.schema.json"]
	if len(globs) == 0 {
		t.Fatalf("no yaml.schemas entry for ./flows/schema/flow.schema.json: %s", data)
	}
	matched := map[string]bool{}
	for _, g := range globs {
		m, err := filepath.Glob(filepath.Join("../../..", g))
		must(t, err)
		for _, f := range m {
			matched[f] = true
		}
	}
	shipped := shippedFlows(t)
	for _, f := range shipped {
		if !matched[f] {
			t.Errorf("%s is a shipped flow the settings do not map", f)
		}
	}
	for f := range matched {
		if !slices.Contains(shipped, f) {
			t.Errorf("the settings map %s, which is not a flow", f)
		}
	}
}
