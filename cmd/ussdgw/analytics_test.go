package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// analyticsDoc is the analytics guide whose examples TestAnalyticsDoc runs.
const analyticsDoc = "../../docs/analytics.md"

// TestAnalyticsDoc runs the commands of docs/analytics.md, in order and in
// one shell, against the gateway as its run command wires it (on the
// shared Redis under a random prefix), and checks each output as
// TestAPIReadme does.
func TestAnalyticsDoc(t *testing.T) {
	for _, tool := range []string{"curl", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	examples := readDocExamples(t, analyticsDoc)
	if len(examples) < 3 {
		t.Fatalf("found %d examples with output in %s", len(examples), analyticsDoc)
	}
	url, prefix := testPrefix(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "ussdgw"), ".").CombinedOutput(); err != nil {
		t.Fatalf("building ussdgw: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-flows", "../../flows-examples", "-redis-url", url, "-redis-prefix", prefix},
			env(nil), io.Discard, &logs, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("%v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("gateway not ready")
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set -e\nexport PATH=%s:$PATH USSDGW_REDIS_PREFIX=%s\ncd %s\n", bin, prefix, dir)
	for i, ex := range examples {
		cmd := strings.ReplaceAll(ex.cmd, "127.0.0.1:8080", addr)
		cmd = regexp.MustCompile(`(?m)^ussdgw -listen .*&.*$`).ReplaceAllString(cmd, ": the gateway runs already")
		cmd = strings.ReplaceAll(cmd, "redis://127.0.0.1:6379/0", url)
		fmt.Fprintf(&script, "echo '@@@ %d'\n%s\necho\n", i, cmd)
	}
	sh := exec.Command("bash", "-c", script.String())
	var stderr bytes.Buffer
	sh.Stderr = &stderr
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("running the examples: %v\n%s\n%s", err, out, stderr.String())
	}
	parts := regexp.MustCompile(`(?m)^@@@ \d+\n`).Split(string(out), -1)[1:]
	if len(parts) != len(examples) {
		t.Fatalf("%d outputs for %d examples:\n%s", len(parts), len(examples), out)
	}
	for i, ex := range examples {
		got := strings.TrimSpace(parts[i])
		if ex.json {
			if err := matchJSONStream(ex.want, got); err != nil {
				t.Errorf("%s:%d: %v\nthe guide shows\n%s\nthe gateway answers\n%s", analyticsDoc, ex.line, err, ex.want, got)
			}
			continue
		}
		if err := matchText(ex.want, got); err != nil {
			t.Errorf("%s:%d: %v\nthe guide shows\n%s\nthe command prints\n%s", analyticsDoc, ex.line, err, ex.want, got)
		}
	}
	cancel()
	<-done
}
