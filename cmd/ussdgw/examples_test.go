package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/ussd/storetest"
)

var update = flag.Bool("update", false, "rewrite the example transcripts with what the gateway shows")

// TestExampleTranscripts plays every transcript in flows-examples/transcripts
// through `ussdgw test` (the subcommand, as an owner runs it: built-in
// adapters over flows-examples/data, in memory), and again with the
// sessions and the push side on Redis. With -update it rewrites them.
func TestExampleTranscripts(t *testing.T) {
	// A step budget short enough for the timeout transcripts to be quick
	// (an @ slow adapter takes it and 200ms more), long enough for a
	// loaded machine's steps.
	args := []string{"test", "-flows", "../../flows-examples", "-step-budget", "500ms"}
	t.Run("memory", func(t *testing.T) {
		if *update {
			args = append(args, "-update")
		}
		var out bytes.Buffer
		if err := run(context.Background(), args, env(nil), &out, &out, nil); err != nil {
			t.Fatalf("ussdgw %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		checkAllPassed(t, out.String(), 20)
	})
	t.Run("redis", func(t *testing.T) {
		if *update {
			t.Skip("-update writes from the memory run")
		}
		r := storetest.Redis(t)
		s := defaults()
		s.Flows, s.StepBudget = "../../flows-examples", 500*time.Millisecond
		s.RedisURL = redisURLFor(t, r)
		var out bytes.Buffer
		o := &ownerTest{s: s, stdout: &out, log: slog.New(slog.NewTextHandler(io.Discard, nil)), redisPrefix: r.Prefix}
		failed, err := o.run(context.Background())
		if err != nil || failed > 0 {
			t.Fatalf("%d failed, %v\n%s", failed, err, out.String())
		}
		checkAllPassed(t, out.String(), 20)
	})
}

// TestAppointmentsExample runs the http adapter example the way its
// README line says: `ussdgw test -config examples/appointments/gateway.yaml`.
func TestAppointmentsExample(t *testing.T) {
	var out bytes.Buffer
	args := []string{"test", "-config", "../../examples/appointments/gateway.yaml"}
	if *update {
		args = append(args, "-update")
	}
	if err := run(context.Background(), args, env(nil), &out, &out, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checkAllPassed(t, out.String(), 2)
}

// checkAllPassed reads ussdgw test's closing line: at least min passed,
// none failed.
func checkAllPassed(t *testing.T, out string, min int) {
	t.Helper()
	if *update {
		t.Log(out)
		return
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var passed, failed int
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d passed, %d failed", &passed, &failed); err != nil || failed != 0 || passed < min {
		t.Errorf("closing line %q: want at least %d passed, none failed\n%s", lines[len(lines)-1], min, out)
	}
}

// redisURLFor returns REDIS_URL, or the embedded server's address.
func redisURLFor(t *testing.T, r *storetest.TestRedis) string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://" + r.Addr()
}
