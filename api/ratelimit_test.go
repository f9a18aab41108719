package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A burst from one key is refused with 429, Retry-After and a JSON error,
// counted, and not audited, while another key is still served.
func TestRateLimitPerKey(t *testing.T) {
	var refused atomic.Int64
	const rate = 5
	e := newEnv(t, func(c *Config) {
		c.RatePerMinute = rate
		c.Refused = func() { refused.Add(1) }
	})
	// GCRA with a burst of rate: the first rate requests pass, then the
	// key waits about 60/rate seconds per request.
	var got []int
	for range rate + 3 {
		got = append(got, e.do("GET", "/api/v1/health", e.send, "", "").code)
	}
	for i, code := range got {
		want := http.StatusOK
		if i >= rate {
			want = http.StatusTooManyRequests
		}
		if code != want {
			t.Errorf("request %d of the burst: %d, want %d (all: %v)", i+1, code, want, got)
		}
	}
	if n := refused.Load(); n != 3 {
		t.Errorf("refusals counted: %d, want 3", n)
	}

	// The 429 answer itself.
	req := httptest.NewRequest("POST", "/api/v1/broadcasts/x/cancel", nil)
	req.Header.Set("Authorization", "Bearer "+e.send)
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("mutation over the limit: %d %s", w.Code, w.Body)
	}
	ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60/rate+1 {
		t.Errorf("Retry-After %q, want 1..%d seconds", w.Header().Get("Retry-After"), 60/rate+1)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(w.Body.String(), `"error":"API key`) || !strings.Contains(w.Body.String(), "requests per minute") {
		t.Errorf("body %s", w.Body)
	}
	if n, err := e.rdb.XLen(context.Background(), e.srv.auditKey()).Result(); err != nil || n != 0 {
		t.Errorf("audit entries after refused requests: %d, %v; want none", n, err)
	}

	// Another key is served meanwhile, also several times.
	for i := range rate {
		if a := e.do("GET", "/api/v1/health", e.read, "", ""); a.code != http.StatusOK {
			t.Fatalf("other key, request %d: %d %s", i+1, a.code, a.raw)
		}
	}
	// A wrong key is refused as unauthenticated, not rate limited.
	if a := e.do("GET", "/api/v1/health", "nope", "", ""); a.code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", a.code)
	}
}

// The limiter fails open: with its Redis gone, requests still reach the
// handlers (which answer on their own).
func TestRateLimitRedisDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	e := newEnv(t, func(c *Config) { c.RatePerMinute = 1 })
	e.srv.lim = newLimiter(dead)
	for i := range 3 {
		if a := e.do("GET", "/api/v1/health", e.send, "", ""); a.code != http.StatusOK {
			t.Fatalf("request %d with the limiter's Redis down: %d %s", i+1, a.code, a.raw)
		}
	}
}

// No limit configured: no limiter, no refusal.
func TestRateLimitOff(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 20 {
		if a := e.do("GET", "/api/v1/health", e.send, "", ""); a.code != http.StatusOK {
			t.Fatalf("request %d without a limit: %d", i+1, a.code)
		}
	}
}
