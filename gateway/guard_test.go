package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/ussd"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// syncBuffer is a log sink the handler's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func guardedServer(t testing.TB, g gateway.Guard, log io.Writer) *gateway.Server {
	t.Helper()
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return gateway.New(gateway.Config{
		Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set}),
		Log:     logcheck.Wrap(t, slog.NewTextHandler(log, nil)),
		Guards:  map[string]gateway.Guard{gateway.AfricasTalking: g},
	})
}

func prefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := gateway.ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const secret = "s3cret-0123456789abcdef"

func TestCallbackGuard(t *testing.T) {
	type req struct {
		path, remote, secret, xff string
	}
	tests := []struct {
		name  string
		guard gateway.Guard
		req   req
		code  int
		body  string // prefix
	}{
		{"secret in header", gateway.Guard{Secret: secret}, req{"/ussd/africastalking", "198.51.100.1:4000", secret, ""}, 200, "CON Welcome"},
		{"secret in path", gateway.Guard{Secret: secret}, req{"/ussd/africastalking/" + secret, "198.51.100.1:4000", "", ""}, 200, "CON Welcome"},
		{"missing secret", gateway.Guard{Secret: secret}, req{"/ussd/africastalking", "198.51.100.1:4000", "", ""}, 403, "forbidden: missing secret"},
		{"wrong secret", gateway.Guard{Secret: secret}, req{"/ussd/africastalking", "198.51.100.1:4000", secret + "x", ""}, 403, "forbidden: wrong secret"},
		{"wrong secret in path", gateway.Guard{Secret: secret}, req{"/ussd/africastalking/guess", "198.51.100.1:4000", "", ""}, 403, "forbidden: wrong secret"},
		{"prefix of the secret", gateway.Guard{Secret: secret}, req{"/ussd/africastalking", "198.51.100.1:4000", secret[:8], ""}, 403, "forbidden: wrong secret"},
		{"events without secret", gateway.Guard{Secret: secret}, req{"/ussd/africastalking/events", "198.51.100.1:4000", "", ""}, 403, "forbidden: missing secret"},
		{"events with path secret", gateway.Guard{Secret: secret}, req{"/ussd/africastalking/" + secret + "/events", "198.51.100.1:4000", "", ""}, 200, "OK"},
		{"path segment without a configured secret", gateway.Guard{}, req{"/ussd/africastalking/whatever", "198.51.100.1:4000", "", ""}, 404, ""},
		{"open", gateway.Guard{}, req{"/ussd/africastalking", "198.51.100.1:4000", "", ""}, 200, "CON Welcome"},
		{"allowed address", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "198.51.100.9:4000", "", ""}, 200, "CON"},
		{"address not allowed", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "203.0.113.5:4000", "", ""}, 403, "forbidden: address not allowed"},
		{"forged X-Forwarded-For from an untrusted peer", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24")},
			req{"/ussd/africastalking", "203.0.113.5:4000", "", "198.51.100.9"}, 403, "forbidden: address not allowed"},
		{"X-Forwarded-For from a trusted proxy", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24"), TrustedProxies: prefixes(t, "10.0.0.1")},
			req{"/ussd/africastalking", "10.0.0.1:4000", "", "203.0.113.5, 198.51.100.9"}, 200, "CON"},
		{"forged left hop behind a trusted proxy", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24"), TrustedProxies: prefixes(t, "10.0.0.1")},
			req{"/ussd/africastalking", "10.0.0.1:4000", "", "198.51.100.9, 203.0.113.5"}, 403, "forbidden: address not allowed"},
		{"garbage X-Forwarded-For", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24"), TrustedProxies: prefixes(t, "10.0.0.0/8")},
			req{"/ussd/africastalking", "10.0.0.1:4000", "", "nonsense"}, 403, "forbidden: address not allowed"},
		{"both: secret missing", gateway.Guard{Secret: secret, Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "198.51.100.9:4000", "", ""}, 403, "forbidden: missing secret"},
		{"both: address wrong", gateway.Guard{Secret: secret, Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "203.0.113.5:4000", secret, ""}, 403, "forbidden: address not allowed"},
		{"both", gateway.Guard{Secret: secret, Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "198.51.100.9:4000", secret, ""}, 200, "CON"},
		{"IPv4-mapped IPv6 peer", gateway.Guard{Allow: prefixes(t, "198.51.100.0/24")}, req{"/ussd/africastalking", "[::ffff:198.51.100.9]:4000", "", ""}, 200, "CON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncBuffer
			h := guardedServer(t, tt.guard, &log)
			form := at("g1", "254700000009", "*500#", "")
			form.Set("status", "Completed")
			r := httptest.NewRequest(http.MethodPost, tt.req.path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = tt.req.remote
			if tt.req.secret != "" {
				r.Header.Set(gateway.SecretHeader, tt.req.secret)
			}
			if tt.req.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.req.xff)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code || !strings.HasPrefix(w.Body.String(), tt.body) {
				t.Fatalf("%d %q, want %d %q...", w.Code, w.Body.String(), tt.code, tt.body)
			}
			if strings.Contains(log.String(), secret) || strings.Contains(log.String(), "guess") {
				t.Fatalf("the log shows a secret: %s", log.String())
			}
		})
	}
}

// TestRefusalLogBounded: a flood of forged callbacks logs once per source,
// and a few lines overall however many sources there are.
func TestRefusalLogBounded(t *testing.T) {
	var log syncBuffer
	h := guardedServer(t, gateway.Guard{Secret: secret}, &log)
	send := func(remote string) {
		r := httptest.NewRequest(http.MethodPost, "/ussd/africastalking", strings.NewReader(at("f", "254700000010", "*500#", "").Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 403 {
			t.Fatalf("forged callback: %d", w.Code)
		}
	}
	for range 1000 {
		send("203.0.113.5:1234")
	}
	if n := strings.Count(log.String(), "callback refused"); n != 1 {
		t.Fatalf("1000 refusals from one source: %d log lines, want 1\n%s", n, log.String())
	}
	for i := range 1000 {
		send(fmt.Sprintf("10.%d.%d.1:1234", i/250, i%250))
	}
	// The overall limiter allows a burst of 10 and 5 a second.
	if n := strings.Count(log.String(), "callback refused"); n > 20 {
		t.Fatalf("1000 sources: %d log lines", n)
	}
}

// TestSlowClients: 500 connections that send their headers a byte at a
// time do not stop other clients from being served, and the server drops
// them once the header timeout has passed.
func TestSlowClients(t *testing.T) {
	h := newServer(t, ussd.NewMemoryStore())
	srv := gateway.NewHTTPServer(h, 5*time.Second)
	srv.ReadHeaderTimeout = 2 * time.Second // shorter than in production, so the test ends sooner
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	const slow = 500
	conns := make([]net.Conn, 0, slow)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow connection %d: %v", len(conns), err)
		}
		if _, err := io.WriteString(c, "POST /ussd/africastalking HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Keep them trickling while others are served.
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	trickle.Add(1)
	go func() {
		defer trickle.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for _, c := range conns {
					c.Write([]byte("X"))
				}
			}
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	for i := range 20 {
		start := time.Now()
		form := at(fmt.Sprintf("ok-%d", i), fmt.Sprintf("2547000001%02d", i), "*500#", "")
		resp, err := client.PostForm("http://"+addr+"/ussd/africastalking", form)
		if err != nil {
			t.Fatalf("a normal client beside 500 slow ones: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "CON Welcome") {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("a normal request took %s beside 500 slow clients", d)
		}
	}
	close(stop)
	trickle.Wait()
	// Every slow connection is closed by the server (a 408 or EOF).
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range conns {
		c.SetReadDeadline(deadline)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && !strings.Contains(line, "408") {
			t.Fatalf("slow connection %d got %q", i, line)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow connection %d still open 10 s later", i)
		}
	}
}
