package outbox

import (
	"context"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The throughput of the queue on the local Redis, the figures of the
// commit message and README:
//
//	go test -run '^$' -bench . -benchtime 20000x ./outbox/
//
// BenchmarkEnqueue: batches of one (a flow's sms node) and of 500 (a
// broadcast page), from 8 goroutines. BenchmarkSend: b.N messages queued,
// then the time one Run takes to send them all through a Sender that
// returns at once (batch XREADGROUP, a pipeline of take scripts, the
// workers, a pipeline of finish scripts that also XACK and XDEL).

const benchText = "Maize at Eldoret: KES 3,450 per 90kg bag (+4.5% since Monday). Reply STOP to stop price alerts."

func BenchmarkEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c, p := redistest.Open(b)
			q := New(c, p, Options{})
			var mu sync.Mutex
			left := b.N
			b.ResetTimer()
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						mu.Lock()
						n := min(batch, left)
						left -= n
						mu.Unlock()
						if n == 0 {
							return
						}
						msgs := make([]Message, n)
						for i := range msgs {
							msgs[i] = Message{MSISDN: "254700000001", Text: benchText, Service: "market", Kind: "alert", Priority: Bulk, Group: "bench"}
						}
						if _, _, err := q.Enqueue(context.Background(), msgs...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkSend(b *testing.B) {
	c, p := redistest.Open(b)
	q := New(c, p, Options{Workers: 16, Batch: 200})
	fill(b, q, b.N, "bench")
	s := SenderFunc(func(context.Context, string, string, string) error { return nil })
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = q.Run(ctx, s); close(done) }()
	for {
		g, err := q.Group(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if g.Sent == int64(b.N) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	cancel()
	<-done
}

func fill(tb testing.TB, q *Queue, n int, group string) {
	var wg sync.WaitGroup
	for i := 0; i < n; i += 500 {
		wg.Go(func() {
			msgs := make([]Message, min(500, n-i))
			for j := range msgs {
				msgs[j] = Message{MSISDN: fmt.Sprintf("2547%08d", i+j), Text: benchText, Service: "market", Kind: "alert", Priority: Bulk, Group: group}
			}
			if _, _, err := q.Enqueue(context.Background(), msgs...); err != nil {
				tb.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestBytesPerQueuedMessage measures what a queued message costs in
// Redis (MEMORY USAGE of its status hash and its share of the stream) and
// holds it under 1 KiB.
func TestBytesPerQueuedMessage(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	const n = 2000
	fill(t, q, n, "mem")
	ctx := context.Background()
	stream, err := c.MemoryUsage(ctx, q.k.bulk, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	var hashes, texts int64
	iter := c.Scan(ctx, 0, q.k.base+"[mt]:*", 1000).Iterator()
	for iter.Next(ctx) {
		m, err := c.MemoryUsage(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(iter.Val(), q.k.msg) {
			hashes += m
		} else {
			texts += m
		}
	}
	per := (stream + hashes + texts) / n
	t.Logf("Redis bytes per queued message: %d (status hash %d, text %d for %d bytes of text, stream entry %d); once sent: %d",
		per, hashes/n, texts/n, len(benchText), stream/n, hashes/n)
	if per > 1024 || !strings.Contains(q.k.bulk, "{outbox}") {
		t.Errorf("%d bytes per queued message", per)
	}
}

// TestTextDroppedOnceSent: a sent message keeps only its small status
// hash; a dead letter keeps its text for a look and a resend.
func TestTextDroppedOnceSent(t *testing.T) {
	c, p := redistest.Open(t)
	q := New(c, p, Options{})
	ids, _, err := q.Enqueue(bg, Message{MSISDN: "1", Text: benchText, Kind: "reply"}, Message{MSISDN: "bad", Text: benchText, Kind: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	start(t, q, SenderFunc(func(_ context.Context, to, _, _ string) error {
		if to == "bad" {
			return errPerm
		}
		return nil
	}))
	eventually(t, 5*time.Second, "both done", func() bool {
		return mustStatus(t, q, ids[0]).State == StateSent && mustStatus(t, q, ids[1]).State == StateFailed
	})
	for i, want := range []int64{0, 1} {
		if n, _ := c.Exists(bg, q.k.text+ids[i]).Result(); n != want {
			t.Errorf("message %d: text key exists %d, want %d", i, n, want)
		}
	}
}
