package source

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

type doc struct {
	N int `yaml:"n" json:"n"`
}

func load(name string, data []byte, remote bool) (*doc, error) {
	d, ix, err := Decode[doc](name, data, remote)
	if err != nil {
		return nil, err
	}
	if d.N <= 0 {
		return nil, ix.Problem("n", "must be positive")
	}
	return d, nil
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "file: required: a data file, or a url serving the same data"},
		{Config{File: "a", URL: "http://x"}, "url: set file or url, not both"},
		{Config{URL: "ftp://x"}, "url: want an http or https URL"},
		{Config{File: "a", Refresh: time.Millisecond}, "refresh: want 0 (never) or at least 1s"},
		{Config{File: "a", Headers: map[string]string{"A": "b"}}, "headers: only used with url"},
		{Config{File: "does/not/exist.yaml"}, "file: reading data: open does/not/exist.yaml: no such file or directory"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg, adapters.Instance{}, load)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.cfg, err, tt.want)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.yaml")
	os.WriteFile(path, []byte("n: 1\n"), 0o644)
	var logs logBuf
	in := adapters.Instance{Deps: adapters.Deps{Dir: dir, Logger: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil))}}
	s, err := New(Config{File: "d.yaml", Refresh: time.Second}, in, load)
	if err != nil {
		t.Fatal(err)
	}
	if s.Current().N != 1 {
		t.Fatalf("N = %d", s.Current().N)
	}
	// A bad edit keeps the last good data.
	os.WriteFile(path, []byte("n: 0\n"), 0o644)
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second))
	err = s.Refresh(context.Background())
	if err == nil || err.Error() != "d.yaml:1:4: n: must be positive (bad-value)" {
		t.Errorf("Refresh = %v", err)
	}
	if s.Current().N != 1 {
		t.Errorf("after a bad refresh N = %d", s.Current().N)
	}
	os.WriteFile(path, []byte("n: 2\n"), 0o644)
	os.Chtimes(path, time.Now(), time.Now().Add(2*time.Second))
	if err := s.Refresh(context.Background()); err != nil || s.Current().N != 2 {
		t.Errorf("Refresh = %v, N = %d", err, s.Current().N)
	}
	// Start and Stop are idempotent and leave no goroutine (TestMain checks).
	for range 2 {
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestURL(t *testing.T) {
	var n, fail atomic.Int32
	n.Store(5)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fail.Load() == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if fail.Load() == 2 {
			w.Write([]byte(`{"n": "garbage`))
			return
		}
		w.Write([]byte(`{"n": ` + string(rune('0'+n.Load())) + `, "added_later": true}`))
	}))
	defer srv.Close()
	var logs logBuf
	in := adapters.Instance{
		Deps:    adapters.Deps{Logger: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil))},
		Secrets: []string{"tok-secret", "key-secret"},
	}
	cfg := Config{URL: srv.URL + "/data?key=key-secret", Refresh: time.Second,
		Headers: map[string]string{"Authorization": "Bearer tok-secret"}}
	s, err := New(cfg, in, load)
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() != nil {
		t.Fatal("a URL source has no data before Start")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if s.Current().N != 5 {
		t.Fatalf("N = %d", s.Current().N)
	}
	for _, mode := range []int32{1, 2} {
		fail.Store(mode)
		err := s.Refresh(context.Background())
		if err == nil || s.Current().N != 5 {
			t.Errorf("mode %d: Refresh = %v, N = %d", mode, err, s.Current().N)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("secret in %v", err)
		}
	}
	fail.Store(0)
	n.Store(7)
	if err := s.Refresh(context.Background()); err != nil || s.Current().N != 7 {
		t.Errorf("Refresh = %v, N = %d", err, s.Current().N)
	}
}

func TestURLStartFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	s, err := New(Config{URL: srv.URL + "/?token=abcd1234"}, adapters.Instance{Secrets: []string{"abcd1234"}}, load)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if adapters.KindOf(err) != adapters.KindUnavailable {
		t.Fatalf("Start = %v", err)
	}
	if want := "unavailable: loading data: fetching " + srv.URL + "/: status 500"; err.Error() != want {
		t.Errorf("Start = %q, want %q", err, want)
	}
	s.Stop(context.Background())
}

func TestRefreshLoopWarns(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{"n": 3}`))
	}))
	defer srv.Close()
	var logs logBuf
	in := adapters.Instance{Deps: adapters.Deps{Logger: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil))}}
	s, err := New(Config{URL: srv.URL, Refresh: time.Second}, in, load)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "data refresh failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop(context.Background())
	if !strings.Contains(logs.String(), "status 502") || s.Current().N != 3 {
		t.Errorf("logs = %q, N = %d", logs.String(), s.Current().N)
	}
}
