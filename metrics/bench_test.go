package metrics

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/ussd"
)

// BenchmarkStep is the cost the metrics add to one USSD step.
func BenchmarkStep(b *testing.B) {
	m := New(Options{})
	ctx := WithTransport(context.Background(), "http")
	sessions := make([]string, 1024)
	for i := range sessions {
		sessions[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Step(ctx, ussd.Step{Service: "market", Session: sessions[i%len(sessions)], Outcome: "continue", Duration: 30 * time.Millisecond})
			i++
		}
	})
}
