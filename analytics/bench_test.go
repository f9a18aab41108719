package analytics_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/analytics"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"github.com/ussdgw/ussdgw/ussd"
)

// BenchmarkStep is one step through the manager on the in-memory store
// (no I/O: the CPU cost alone), with analytics off and on. Each iteration
// is one request of a three-step session of the survey flow (dial, 1, an
// age: an end screen).
func BenchmarkStep(b *testing.B) {
	set := loadSurvey(b)
	for _, on := range []bool{false, true} {
		name := "analytics-off"
		if on {
			name = "analytics-on"
		}
		b.Run(name, func(b *testing.B) {
			st := ussd.NewMemoryStore()
			defer st.Close()
			cfg := ussd.Config{Store: st, Flows: set, Adapters: svc{}}
			if on {
				cfg.Analytics = analytics.New(analytics.Options{Counter: st})
			}
			m := ussd.NewManager(cfg)
			ctx := context.Background()
			inputs := []string{"", "1", "30"}
			b.ReportAllocs()
			defer cpuPerOp(b)()
			i := 0
			for b.Loop() {
				req := ussd.Request{SessionID: strconv.Itoa(i / 3), MSISDN: "254700000001", Input: inputs[i%3]}
				if i%3 == 0 {
					req.Dialled, req.New = "*600#", true
				}
				if _, err := m.Handle(ctx, req); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
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

// BenchmarkRedisSave is the session save alone on Redis, autopipelined,
// from concurrent steps: the compare-and-swap script, and the same with a
// step's counters (a choice, an arrival, latency: 5 increments).
func BenchmarkRedisSave(b *testing.B) {
	c, prefix := redistest.Open(b)
	st := ussd.NewRedisStore(c, prefix)
	if err := st.AutoPipeline(); err != nil {
		b.Fatal(err)
	}
	a := analytics.New(analytics.Options{Counter: st})
	ev := &ussd.Event{Service: "survey", Started: time.Now(), From: "main", Path: []string{"age"}, Node: "age", Latency: time.Millisecond}
	counts := a.Counts(nil, ev)
	val := make([]byte, 120)
	var n atomic.Int64 // a session key per goroutine of every run
	for _, with := range []bool{false, true} {
		name := "swap"
		if with {
			name = "swap+counts"
		}
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				key := "s:{" + strconv.FormatInt(n.Add(1), 10) + "}"
				var old []byte
				ctx := context.Background()
				for pb.Next() {
					var ok bool
					var err error
					if with {
						ok, err = st.SwapCount(ctx, key, old, val, time.Minute, counts, time.Hour)
					} else {
						ok, err = st.Swap(ctx, key, old, val, time.Minute)
					}
					if err != nil || !ok {
						b.Fatal(ok, err)
					}
					old = val
				}
			})
		})
	}
}
