package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
)

// marketPath is the market example's "check a price" path: dial, check,
// maize, Eldoret (the price screen).
var marketPath = []string{"", "1", "1*1", "1*1*2"}

// TestSessionBytes plays the market example and measures the session
// record after every step: its encoded size (what the gateway writes) and,
// on a real Redis, what Redis spends on the key (MEMORY USAGE).
func TestSessionBytes(t *testing.T) {
	r := storetest.Redis(t)
	s := defaults()
	s.Flows = "../../flows-examples"
	s.RedisURL, s.RedisPrefix = redisURLFor(t, r), r.Prefix
	a, err := wire(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), wireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ctx := context.Background()
	const msisdn = "254700000042"
	key := "s:{" + msisdn + "}"
	for _, text := range marketPath {
		resp, err := a.manager.Handle(ctx, ussd.Request{SessionID: "bytes", MSISDN: msisdn, Dialled: "*384#", Text: text, Cumulative: true})
		if err != nil {
			t.Fatal(err)
		}
		vals, err := a.store.Get(ctx, key)
		if err != nil || vals[0] == nil {
			t.Fatalf("no session after %q: %v", text, err)
		}
		line := "encoded " + itoa(len(vals[0])) + " B"
		if storetest.IsReal() {
			mem, err := r.Client.MemoryUsage(ctx, r.Prefix+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			line += ", Redis MEMORY USAGE " + itoa(int(mem)) + " B"
		}
		t.Logf("after %-8q %s  (%s)", text, line, strings.SplitN(resp.Text, "\n", 2)[0])
		// Lists are fetched again rather than kept; the price screen keeps
		// the fields of the price the flow shows.
		if len(vals[0]) > 300 {
			t.Errorf("session is %d bytes after %q", len(vals[0]), text)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkHTTPStep is one USSD step through the whole gateway (HTTP
// handler, session in Redis, the market example's flow and prices adapter):
// each iteration is one request of a four-step session.
func BenchmarkHTTPStep(b *testing.B) {
	for _, pipeline := range []string{"on", "off"} {
		b.Run("autopipeline-"+pipeline, func(b *testing.B) {
			r := storetest.Redis(b)
			s := defaults()
			s.Flows = "../../flows-examples"
			s.RedisURL, s.RedisPrefix, s.RedisPipeline = redisURLForB(r), r.Prefix, pipeline
			a, err := wire(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), wireOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer a.close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				text := marketPath[i%len(marketPath)]
				sid := "bench-" + strconv.Itoa(i/len(marketPath))
				// A number per session: one number's steps are rate limited.
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

func redisURLForB(r *storetest.TestRedis) string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://" + r.Addr()
}
