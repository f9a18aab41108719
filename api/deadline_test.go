package api

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A fan-out longer than the server's write deadline (the gateway's is a
// USSD step's budget) still gets its answer.
func TestFanOutOutlivesWriteTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Batch = 1 })
	e.srv.cfg.Outbox = slowOutbox{fakeOutbox: e.outbox, delay: 150 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.srv, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/broadcasts", strings.NewReader(
		`{"service": "market", "audience": {"numbers": ["0712000001", "0712000002", "0712000003", "0712000004", "0712000005", "0712000006", "0712000007", "0712000008", "0712000009"]}, "text": {"en": "Hi"}}`))
	req.Header.Set("Authorization", "Bearer "+e.send)
	req.Header.Set("Content-Type", jsonCT)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(t0), err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || time.Since(t0) < 300*time.Millisecond {
		t.Fatalf("%d after %v", resp.StatusCode, time.Since(t0))
	}
}
