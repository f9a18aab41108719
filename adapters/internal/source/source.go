// Package source feeds a built-in adapter its data set: from a file
// shipped beside the flows (read when the adapter is built, so that its
// problems are reported with the rest of the configuration) or from an
// HTTP back-end (fetched at start). Either can be re-read on an interval;
// a failed refresh logs a warning and the last good data keeps serving. It
// must not import flows, ussd or a transport: flows call it, not the other
// way round.
package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
)

// Config says where an adapter's data comes from. It is inlined in each
// built-in kind's configuration.
type Config struct {
	// File is a YAML or JSON data file (relative to the gateway's data dir).
	File string `yaml:"file"`
	// URL is a back-end serving the same document as JSON (or YAML).
	URL string `yaml:"url"`
	// Refresh re-reads the data this often; 0 never does. Default for a
	// URL: 10m; for a file: 0.
	Refresh time.Duration `yaml:"refresh"`
	// Timeout bounds one fetch from URL. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Headers are sent with each fetch (an Authorization with ${TOKEN}, say).
	Headers map[string]string `yaml:"headers"`
}

// MaxBytes is the largest data document read.
const MaxBytes = 8 << 20

// Loader turns a data document into the adapter's compiled data set; name
// says where the document came from, for problems, and remote whether it
// came from a URL (see Decode).
type Loader[T any] func(name string, data []byte, remote bool) (*T, error)

// Source is a data set of type T, replaced whole on refresh. Current is
// safe for concurrent use; Start and Stop are for setup and shutdown.
type Source[T any] struct {
	cfg     Config
	path    string
	load    Loader[T]
	log     *slog.Logger
	secrets []string
	client  *http.Client
	ownHTTP bool

	cur       atomic.Pointer[T]
	refreshMu sync.Mutex // serializes Refresh; guards modTime and size
	modTime   time.Time
	size      int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks cfg and returns its source; a file is read now. Problems are
// *adapters.FieldError values for the config fields they concern.
func New[T any](cfg Config, in adapters.Instance, load Loader[T]) (*Source[T], error) {
	in.Deps = in.Deps.WithDefaults()
	var errs []error
	switch {
	case cfg.File == "" && cfg.URL == "":
		errs = append(errs, adapters.FieldErrorf("file", "required: a data file, or a url serving the same data"))
	case cfg.File != "" && cfg.URL != "":
		errs = append(errs, adapters.FieldErrorf("url", "set file or url, not both"))
	case cfg.URL != "":
		if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, adapters.FieldErrorf("url", "want an http or https URL"))
		}
		if cfg.Refresh == 0 {
			cfg.Refresh = 10 * time.Minute
		}
	}
	if cfg.Refresh < 0 || (cfg.Refresh > 0 && cfg.Refresh < time.Second) {
		errs = append(errs, adapters.FieldErrorf("refresh", "want 0 (never) or at least 1s"))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Timeout < 0 {
		errs = append(errs, adapters.FieldErrorf("timeout", "must be positive"))
	}
	if len(cfg.Headers) > 0 && cfg.URL == "" {
		errs = append(errs, adapters.FieldErrorf("headers", "only used with url"))
	}
	s := &Source[T]{
		cfg: cfg, path: in.Path(cfg.File), load: load, log: in.Logger, secrets: in.Secrets,
		client: in.HTTPClient,
	}
	if s.client == nil && cfg.URL != "" {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s.ownHTTP = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.File != "" {
		data, info, err := s.readFile()
		if err != nil {
			return nil, &adapters.FieldError{Field: "file", Err: err}
		}
		d, err := load(cfg.File, data, false)
		if err != nil {
			return nil, &adapters.FieldError{Field: "file", Err: err}
		}
		s.cur.Store(d)
		s.modTime, s.size = info.ModTime(), info.Size()
	}
	return s, nil
}

// FromData returns a source that serves d and never refreshes, for tests
// and benchmarks.
func FromData[T any](d *T) *Source[T] {
	s := &Source[T]{log: slog.Default()}
	s.cur.Store(d)
	return s
}

// Current returns the data set, or nil when none has been loaded yet (a
// URL source before Start).
func (s *Source[T]) Current() *T { return s.cur.Load() }

// NotLoaded is the error an adapter returns when Current is nil.
var NotLoaded error = &adapters.Error{Kind: adapters.KindUnavailable, Msg: "data not loaded yet"}

func (s *Source[T]) readFile() ([]byte, os.FileInfo, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading data: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("reading data: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading data: %w", err)
	}
	if len(data) > MaxBytes {
		return nil, nil, fmt.Errorf("reading data: larger than %d bytes", MaxBytes)
	}
	return data, info, nil
}

// Start fetches the data from the URL (within ctx and the fetch timeout)
// if none is loaded yet, and starts the refresh loop if there is one.
// Starting a started source does nothing.
func (s *Source[T]) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return nil
	}
	if s.cfg.URL != "" && s.cur.Load() == nil {
		d, err := s.fetch(ctx)
		if err != nil {
			return &adapters.Error{Kind: adapters.KindUnavailable, Msg: "loading data", Err: err}
		}
		s.cur.Store(d)
	}
	if s.cfg.Refresh <= 0 {
		return nil
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.loop(loopCtx, s.done)
	return nil
}

// Stop ends the refresh loop and waits for it, within ctx. Stopping a
// stopped source does nothing.
func (s *Source[T]) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("stopping data refresh: %w", ctx.Err())
		}
	}
	if s.ownHTTP {
		s.client.CloseIdleConnections()
	}
	return nil
}

func (s *Source[T]) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("data refresh failed; serving the last good data", "err", err)
		}
	}
}

// Refresh re-reads the data now; on failure the current data stays.
// A file that has not changed since it was read is not parsed again.
func (s *Source[T]) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	var d *T
	var err error
	if s.cfg.URL != "" {
		d, err = s.fetch(ctx)
	} else {
		info, statErr := os.Stat(s.path)
		if statErr == nil && info.ModTime().Equal(s.modTime) && info.Size() == s.size {
			return nil
		}
		var data []byte
		data, info, err = s.readFile()
		if err == nil {
			d, err = s.load(s.cfg.File, data, false)
		}
		if err == nil {
			s.modTime, s.size = info.ModTime(), info.Size()
		}
	}
	if err != nil {
		return err
	}
	s.cur.Store(d)
	s.log.Debug("data refreshed")
	return nil
}

func (s *Source[T]) fetch(ctx context.Context) (*T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	where := SafeURL(s.cfg.URL)
	d, err := s.fetchURL(ctx, where)
	if err != nil {
		return nil, errors.New(adapters.Redact(err.Error(), s.secrets))
	}
	return d, nil
}

func (s *Source[T]) fetchURL(ctx context.Context, where string) (*T, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: bad request", where)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the whole URL
		}
		return nil, fmt.Errorf("fetching %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: status %d", where, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", where, err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("fetching %s: larger than %d bytes", where, MaxBytes)
	}
	return s.load(where, data, true)
}

// SafeURL returns raw without its query, fragment and user info, which may
// hold keys: what may appear in logs and errors.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the back-end"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// Decode decodes a data document into a D. A remote document that is JSON
// (starting with '{') is read with encoding/json, leniently (a back-end may
// add fields), with problems located by path only; anything else, and
// every file, is read strictly as YAML (JSON being YAML) with positioned
// problems. The returned index places the loader's later checks.
func Decode[D any](name string, data []byte, remote bool) (*D, *yamlx.Index, error) {
	d := new(D)
	if remote && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		if err := json.Unmarshal(data, d); err != nil {
			return nil, nil, &yamlx.Problem{File: name, Msg: "decoding JSON: " + err.Error()}
		}
		return d, &yamlx.Index{File: name}, nil
	}
	ix, err := yamlx.Parse(name, data, d)
	if err != nil {
		return nil, nil, err
	}
	return d, ix, nil
}
