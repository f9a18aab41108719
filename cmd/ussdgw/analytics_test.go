package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/ussd/storetest"
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
	addr := serveInProcess(t, "-flows", "../../flows-examples", "-redis-url", url, "-redis-prefix", prefix)
	runDocExamples(t, analyticsDoc, examples, bin, prefix, dir, addr, func(cmd string) string {
		return strings.ReplaceAll(cmd, "redis://127.0.0.1:6379/0", url)
	})
}

// BenchmarkHTTPStepAnalytics is BenchmarkHTTPStep with analytics on (the
// default) and off (-analytics-retention 0): what they cost per step
// through the whole gateway, Redis sessions, one request at a time.
func BenchmarkHTTPStepAnalytics(b *testing.B) {
	for _, pipeline := range []string{"off", "on"} {
		for _, an := range []string{"off", "on"} {
			b.Run("autopipeline-"+pipeline+"/analytics-"+an, func(b *testing.B) {
				r := storetest.Redis(b)
				s := defaults()
				s.Flows = "../../flows-examples"
				s.RedisURL, s.RedisPrefix, s.RedisPipeline = redisURLForB(r), r.Prefix, pipeline
				if an == "off" {
					s.AnalyticsRetention = 0
				}
				a, err := wire(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), wireOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer a.close()
				if (a.analytics != nil) != (an == "on") {
					b.Fatalf("analytics %s: %v", an, a.analytics)
				}
				b.ReportAllocs()
				defer cpuPerOp(b)()
				i := 0
				for b.Loop() {
					text := marketPath[i%len(marketPath)]
					sid := "bench-" + strconv.Itoa(i/len(marketPath))
					phone := "+2547" + fmt.Sprintf("%08d", i/len(marketPath))
					code, body, _ := postForm(a.handler, sid, phone, "*384#", text)
					if code != 200 || !strings.HasPrefix(body, "CON ") {
						b.Fatalf("%d %q", code, body)
					}
					i++
				}
			})
		}
	}
}

// cpuPerOp reports the process's CPU time (user and system) per
// iteration, as "cpu-ns/op": on a machine shared with other work the
// wall time per iteration measures the machine more than the code. Call
// its result when the loop is over.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}
