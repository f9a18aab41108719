package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// sendsms sends each number once, with the parameters Kannel's sendsms
// takes, and counts what smsbox accepted and what it refused.
func TestSendsms(t *testing.T) {
	tests := []struct {
		name             string
		n, c             int
		refuseEvery      int // answer 403 to every k-th number (0: none)
		dlrURL           string
		accepted, refuse int64
	}{
		{name: "all accepted", n: 300, c: 8, dlrURL: "http://127.0.0.1:1/dlr?type=%d", accepted: 300},
		{name: "some refused", n: 100, c: 3, refuseEvery: 10, accepted: 90, refuse: 10},
		{name: "one client", n: 5, c: 1, accepted: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				if q.Get("username") != "u" || q.Get("password") != "p" || q.Get("from") != "777" || q.Get("dlr-mask") != "3" ||
					q.Get("dlr-url") != tt.dlrURL || q.Get("text") == "" {
					t.Errorf("query %v", q)
				}
				to := q.Get("to")
				mu.Lock()
				seen[to]++
				mu.Unlock()
				i, _ := strconv.ParseInt(to, 10, 64)
				if tt.refuseEvery > 0 && (i-254700000000)%int64(tt.refuseEvery) == 0 {
					http.Error(w, "Authorization failed for sendsms", http.StatusForbidden)
					return
				}
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte("0: Accepted for delivery"))
			}))
			defer srv.Close()
			var out bytes.Buffer
			args := []string{"-url", srv.URL + "/cgi-bin/sendsms", "-user", "u", "-pass", "p", "-n", strconv.Itoa(tt.n), "-c", strconv.Itoa(tt.c)}
			if tt.dlrURL != "" {
				args = append(args, "-dlr-url", tt.dlrURL)
			}
			if err := run(context.Background(), args, &out); err != nil {
				t.Fatal(err)
			}
			var r result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if r.Sent != int64(tt.n) || r.Accepted != tt.accepted || r.Rejected != tt.refuse || r.Errors != 0 || r.Conc != tt.c {
				t.Errorf("result %+v: want %d sent, %d accepted, %d rejected", r, tt.n, tt.accepted, tt.refuse)
			}
			if tt.refuse > 0 && r.FirstBody == "" {
				t.Error("no first rejection reported")
			}
			if len(seen) != tt.n {
				t.Errorf("%d numbers: want %d", len(seen), tt.n)
			}
			for i := range tt.n {
				if to := strconv.FormatInt(254700000000+int64(i), 10); seen[to] != 1 {
					t.Errorf("number %s sent %d times", to, seen[to])
				}
			}
		})
	}
}

// A server that is not there is an error per message after the retries,
// not a hang.
func TestSendsmsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", url, "-n", "2", "-c", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	var r result
	_ = json.Unmarshal(out.Bytes(), &r)
	if r.Errors != 2 || r.Accepted != 0 || r.Retries != 8 {
		t.Errorf("result %+v: want 2 errors after 4 retries each", r)
	}
}
