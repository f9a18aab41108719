// Command sendsms is the client side of the Kannel half of the MT fan-out
// benchmark (cmd/loadtest/push/run-kannel.sh): it sends n messages through
// Kannel's smsbox HTTP interface (/cgi-bin/sendsms) from c concurrent
// clients, one destination number per message, and reports how fast
// smsbox accepted them. It is a load tool, not a library: it imports
// nothing of ours, and nothing imports it.
//
//	sendsms -url http://127.0.0.1:13013/cgi-bin/sendsms -user u -pass p -n 100000 -c 64
//
// Numbers are -base, -base+1, ... (the same as the gateway half's
// subscribers), the text is the same for all, as in a broadcast. The
// last line on stdout is one JSON object with the counts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// result is what the script reads back.
type result struct {
	Sent      int64   `json:"sent"`     // requests made
	Accepted  int64   `json:"accepted"` // 2xx answers: smsbox took the message
	Rejected  int64   `json:"rejected"` // other HTTP statuses
	Errors    int64   `json:"errors"`   // transport errors after retries
	Retries   int64   `json:"retries"`
	Seconds   float64 `json:"seconds"`
	Rate      float64 `json:"rate"` // accepted per second, client side
	Conc      int     `json:"concurrency"`
	CPU       float64 `json:"cpu_seconds"` // this client's own user+system CPU
	FirstBody string  `json:"first_rejection,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sendsms:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sendsms", flag.ContinueOnError)
	endpoint := fs.String("url", "http://127.0.0.1:13013/cgi-bin/sendsms", "Kannel smsbox sendsms URL")
	user := fs.String("user", "bench", "sendsms-user username")
	pass := fs.String("pass", "bench", "sendsms-user password")
	from := fs.String("from", "777", "sender address")
	text := fs.String("text", "Maize at Eldoret: 3400 KES/90kg (+6%). Reply STOP to end.", "message text (the same for every number)")
	n := fs.Int("n", 10000, "messages to send")
	conc := fs.Int("c", 64, "concurrent HTTP clients")
	base := fs.Int64("base", 254700000000, "first destination number; message i goes to base+i")
	dlrMask := fs.Int("dlr-mask", 3, "dlr-mask (0: no receipts asked)")
	dlrURL := fs.String("dlr-url", "", "dlr-url (optional; Kannel calls it per receipt)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *conc < 1 {
		return errors.New("-n and -c must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	// One keep-alive connection per client: the HTTP side should not be
	// what is measured, smsbox and bearerbox are.
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        *conc,
			MaxIdleConnsPerHost: *conc,
			MaxConnsPerHost:     *conc,
			IdleConnTimeout:     time.Minute,
		},
	}
	fixed := url.Values{"username": {*user}, "password": {*pass}, "from": {*from}, "text": {*text}}
	if *dlrMask > 0 {
		fixed.Set("dlr-mask", strconv.Itoa(*dlrMask))
		if *dlrURL != "" {
			fixed.Set("dlr-url", *dlrURL)
		}
	}
	prefix := *endpoint + "?" + fixed.Encode() + "&to="

	var r result
	var next atomic.Int64
	var firstBody sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) || ctx.Err() != nil {
					return
				}
				to := strconv.FormatInt(*base+i, 10)
				code, body, retries, err := send(ctx, client, prefix+to)
				atomic.AddInt64(&r.Sent, 1)
				atomic.AddInt64(&r.Retries, int64(retries))
				switch {
				case err != nil:
					atomic.AddInt64(&r.Errors, 1)
					firstBody.Do(func() { r.FirstBody = err.Error() })
				case code/100 == 2:
					atomic.AddInt64(&r.Accepted, 1)
				default:
					atomic.AddInt64(&r.Rejected, 1)
					firstBody.Do(func() { r.FirstBody = fmt.Sprintf("%d %s", code, body) })
				}
			}
		}()
	}
	done := make(chan struct{})
	go progress(done, &r, *n)
	wg.Wait()
	close(done)
	r.Seconds = time.Since(start).Seconds()
	r.Rate = float64(r.Accepted) / r.Seconds
	r.Conc = *conc
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped after %d of %d: %w", r.Sent, *n, ctx.Err())
	}
	return nil
}

// send makes one request, retrying transport errors (a connection smsbox
// closed under us) a few times: a lost request would count as lost at the
// sink and say nothing about Kannel.
func send(ctx context.Context, c *http.Client, u string) (code int, body string, retries int, err error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, "", attempt, fmt.Errorf("building the request: %w", err)
		}
		resp, err := c.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if rerr == nil {
				return resp.StatusCode, string(b), attempt, nil
			}
			err = rerr
		}
		if attempt >= 4 || ctx.Err() != nil {
			return 0, "", attempt, fmt.Errorf("sendsms request: %w", err)
		}
		time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
	}
}

// progress logs a line every few seconds on stderr, so a slow run shows
// where it is.
func progress(done <-chan struct{}, r *result, n int) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			a := atomic.LoadInt64(&r.Accepted)
			slog.Info("sendsms", "accepted", a, "of", n, "rate", int(float64(a)/time.Since(start).Seconds()),
				"rejected", atomic.LoadInt64(&r.Rejected), "errors", atomic.LoadInt64(&r.Errors))
		}
	}
}
