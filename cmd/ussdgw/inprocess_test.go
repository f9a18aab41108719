package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serveInProcess runs the gateway in this process on a free loopback port
// with args, and returns its address once it listens. The test's cleanup
// stops it and waits for run to return.
func serveInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: &bytes.Buffer{}}
	go func() {
		done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), env(nil), io.Discard, logs, ready)
	}()
	select {
	case addr := <-ready:
		t.Cleanup(func() { cancel(); <-done })
		return addr
	case err := <-done:
		cancel()
		t.Fatalf("gateway did not start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("gateway not ready within 30s\n%s", logs.String())
	}
	return ""
}

// playSteps runs each step's command (curl at 127.0.0.1:8080, as the
// document shows it) against the gateway at addr and compares what it
// prints with what doc shows.
func playSteps(t *testing.T, doc, addr string, steps []tourStep) {
	t.Helper()
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "127.0.0.1:8080", addr)
		out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s:%d: %v\n%s", doc, st.line, err, out)
		}
		if got := strings.TrimRight(string(out), "\n"); got != st.want {
			t.Errorf("%s:%d: the document shows\n%s\nbut the gateway answers\n%s", doc, st.line, st.want, got)
		}
	}
}
