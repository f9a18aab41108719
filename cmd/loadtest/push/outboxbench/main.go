// Command outboxbench is the queue half of the MT fan-out benchmark
// without the API (cmd/loadtest/push/outboxbench.sh): it enqueues n Bulk
// messages straight into the outbox (outbox.Enqueue, batches of -batch)
// of a gateway that runs against the same Redis and prefix, then waits
// until the sink (sink.js) saw them all and acknowledged their receipts,
// and until the outbox's group counts them delivered (the receipts as the
// gateway matched them). It measures the queue, the Hub and the receipts
// without HTTP and fan-out in between. A command: it may import anything of
// ours and nothing imports it.
//
//	outboxbench -redis-url redis://127.0.0.1:6379/0 -prefix bench: -n 100000 -sink-http 127.0.0.1:9000
//
// The last line on stdout is one JSON object with the counts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/ussd"
)

// sinkStats is what sink.js's GET /stats answers (the fields used here).
type sinkStats struct {
	Submits       int64   `json:"submits"`
	Unique        int64   `json:"unique"`
	Duplicates    int64   `json:"duplicates"`
	ReceiptsAcked int64   `json:"receipts_acked"`
	ReceiptsFail  int64   `json:"receipts_failed"`
	Seconds       float64 `json:"seconds"`
	Rate          float64 `json:"rate"`
	FirstMS       int64   `json:"first_ms"`
	LastMS        int64   `json:"last_ms"`
}

type result struct {
	N              int               `json:"n"`
	EnqueueSeconds float64           `json:"enqueue_seconds"`
	EnqueueRate    float64           `json:"enqueue_rate"`
	Sink           sinkStats         `json:"sink"`
	Lost           int64             `json:"lost"`
	E2ESeconds     float64           `json:"e2e_seconds"` // first Enqueue to the last submit at the sink
	E2ERate        float64           `json:"e2e_rate"`
	Group          outbox.GroupStats `json:"group"`
	Stalled        string            `json:"stalled,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "outboxbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("outboxbench", flag.ContinueOnError)
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "the gateway's Redis")
	prefix := fs.String("prefix", "ussdgw:", "the gateway's -redis-prefix")
	n := fs.Int("n", 10000, "messages")
	batch := fs.Int("batch", 1000, "messages per Enqueue")
	conc := fs.Int("c", 1, "goroutines enqueueing")
	base := fs.Int64("base", 254700000000, "first destination number")
	text := fs.String("text", "Maize at Eldoret: 3400 KES/90kg (+6%). Reply STOP to end.", "message text")
	service := fs.String("service", "market", "the messages' service")
	group := fs.String("group", "", "the messages' group (default: a new one)")
	sinkHTTP := fs.String("sink-http", "", "sink.js's HTTP address (host:port)")
	stall := fs.Duration("stall", 30*time.Second, "give up when nothing moved for this long")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 || *conc < 1 || *sinkHTTP == "" {
		return errors.New("-n, -batch and -c must be at least 1, and -sink-http is needed")
	}
	if *group == "" {
		*group = "bench-" + outbox.NewID()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := ussd.NewRedisClient(*redisURL)
	if err != nil {
		return err
	}
	defer c.Close()
	q := outbox.New(c, *prefix, outbox.Options{})

	r := result{N: *n}
	start := time.Now()
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, *conc)
	for range *conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				from := next
				k := min(int64(*batch), int64(*n)-from)
				next += max(k, 0)
				mu.Unlock()
				if k <= 0 {
					return
				}
				msgs := make([]outbox.Message, k)
				for i := range msgs {
					msgs[i] = outbox.Message{MSISDN: strconv.FormatInt(*base+from+int64(i), 10), Text: *text,
						Service: *service, Kind: "alert", Priority: outbox.Bulk, Group: *group}
				}
				if _, _, err := q.Enqueue(ctx, msgs...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("enqueueing: %w", err)
	}
	r.EnqueueSeconds = time.Since(start).Seconds()
	r.EnqueueRate = float64(*n) / r.EnqueueSeconds

	// Wait for the sink: every submit, and every receipt acknowledged.
	last, moved := int64(-1), time.Now()
	for {
		s, err := stats(ctx, *sinkHTTP)
		if err != nil {
			return err
		}
		r.Sink = s
		if s.Submits >= int64(*n) && s.ReceiptsAcked >= s.Submits {
			break
		}
		if p := s.Submits + s.ReceiptsAcked + s.ReceiptsFail; p != last {
			last, moved = p, time.Now()
		}
		if time.Since(moved) > *stall || ctx.Err() != nil {
			r.Stalled = fmt.Sprintf("sink at %d submits, %d receipts acked, %d refused", s.Submits, s.ReceiptsAcked, s.ReceiptsFail)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.Lost = int64(*n) - r.Sink.Unique
	if r.Sink.LastMS > 0 {
		r.E2ESeconds = float64(r.Sink.LastMS-start.UnixMilli()) / 1000
		r.E2ERate = float64(r.Sink.Unique) / r.E2ESeconds
	}
	// The receipts as the gateway matched them.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		g, err := q.Group(ctx, *group)
		if err != nil {
			return err
		}
		r.Group = g
		if g.Delivered+g.Failed >= r.Sink.Unique && r.Stalled == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Group.Delivered+r.Group.Failed < r.Sink.Unique {
		explain(ctx, c, *prefix)
	}
	return json.NewEncoder(stdout).Encode(r)
}

// explain shows on stderr a few messages the sink took whose receipt the
// outbox did not record: their status there and in the Hub's store.
func explain(ctx context.Context, c redis.UniversalClient, prefix string) {
	shown := 0
	iter := c.Scan(ctx, 0, prefix+"{outbox}:m:*", 1000).Iterator()
	for iter.Next(ctx) && shown < 3 {
		h, err := c.HGetAll(ctx, iter.Val()).Result()
		if err != nil || h["st"] != outbox.StateSent {
			continue
		}
		ref := strings.TrimPrefix(iter.Val(), prefix+"{outbox}:m:")
		dlr, _ := c.Get(ctx, prefix+"smpp:dlr:msg:"+ref).Result()
		var st struct{ Parts []struct{ ID string } }
		_ = json.Unmarshal([]byte(dlr), &st)
		fmt.Fprintf(os.Stderr, "no receipt in the outbox: %s %v\n  hub: %s\n", ref, h, dlr)
		for _, p := range st.Parts {
			id, _ := c.Get(ctx, prefix+"smpp:dlr:id:"+p.ID).Result()
			orphan, _ := c.Get(ctx, prefix+"smpp:dlr:orphan:"+p.ID).Result()
			fmt.Fprintf(os.Stderr, "  id %s: %s; orphan: %s\n", p.ID, id, orphan)
		}
		shown++
	}
}

func stats(ctx context.Context, addr string) (sinkStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/stats", nil)
	if err != nil {
		return sinkStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sinkStats{}, fmt.Errorf("reading the sink's stats: %w", err)
	}
	defer resp.Body.Close()
	var s sinkStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return sinkStats{}, fmt.Errorf("reading the sink's stats: %w", err)
	}
	return s, nil
}
