package api

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkUpload100k measures the API's own share of a 100,000-number
// upload: reading, validating and normalizing the numbers and building
// the messages (the outbox is in memory here).
func BenchmarkUpload100k(b *testing.B) {
	var csv strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&csv, "07%08d\n", 20000000+i)
	}
	body := csv.String()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, nil)
		b.StartTimer()
		a := e.do("POST", fmt.Sprintf("/api/v1/broadcasts?service=market&text_en=Hi&id=b%d", i), e.send, "text/csv", body)
		if a.code != 201 {
			b.Fatal(a.raw)
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "numbers/s")
}
