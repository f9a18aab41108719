// Package httpjson is the generic HTTP/JSON adapter (kind "http"): it
// plugs a flow into any back-end that answers JSON, with configuration
// alone. Each op is an endpoint: a URL template with {{param}}
// placeholders (URL-escaped), a method, a JSON body template for POST/PUT,
// and a mapping of response fields into the result. Around every call: a
// timeout, retries with backoff for idempotent methods only, a circuit
// breaker (github.com/sony/gobreaker/v2), and a response cache for GETs. It
// must not import flows, ussd or a transport: flows call it, not the other
// way round.
//
// Statuses map onto the flow's branches: 404 is KindNotFound, another 4xx
// KindInvalid, a 5xx, 429 or transport failure KindUnavailable, and a
// passed deadline KindTimeout. Errors and logs name the adapter, op,
// method and status, never the URL (which may carry keys) nor secrets.
// See adapters/README.md for the configuration.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
)

// Config is the configuration of an http instance.
type Config struct {
	// Endpoint is the instance's default op, called as "call" (or with no op).
	Endpoint `yaml:",inline"`
	// Ops are further named endpoints of the same back-end.
	Ops map[string]Endpoint `yaml:"ops"`
	// Headers are sent with every request; values may hold ${ENV} secrets.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds a call, retries included, within the caller's own
	// deadline. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	Retry   Retry         `yaml:"retry"`
	Breaker Breaker       `yaml:"breaker"`
	Cache   Cache         `yaml:"cache"`
	// MaxBody is the largest response body read, in bytes. Default 1 MiB.
	MaxBody int64 `yaml:"max_body"`
}

// Endpoint is one op: where to send the request and what to keep of the
// answer.
type Endpoint struct {
	// URL is the URL template: {{param}} is replaced by the param,
	// path-escaped in the path and query-escaped in the query.
	URL string `yaml:"url"`
	// Method is GET (default), HEAD, POST, PUT, PATCH or DELETE.
	Method string `yaml:"method"`
	// Body is the request body template, for POST, PUT and PATCH: JSON in
	// which {{param}} is replaced by the param escaped for a JSON string
	// (so write "name": "{{name}}").
	Body string `yaml:"body"`
	// List is the path of a list in the response: the result is then that
	// list, with Map applied to each item.
	List string `yaml:"list"`
	// Map gives each result key the path of its value in the response
	// (or in the list item). Without Map the response is passed through.
	Map map[string]string `yaml:"map"`
}

// Retry is the retry policy for idempotent methods (GET, HEAD, PUT,
// DELETE) on a 5xx, a 429 or a transport failure; POST and PATCH are
// never retried.
type Retry struct {
	// Attempts is the number of tries in all. Default 3; 1 never retries.
	Attempts int `yaml:"attempts"`
	// Backoff is the pause before the first retry, doubled each time up
	// to MaxBackoff, with ±20% jitter. Default 100ms, max 1s.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Breaker is the circuit breaker: after Failures back-end failures in a
// row it opens, and calls fail at once with KindUnavailable; after Open
// it lets one call through, and closes again if that call succeeds.
type Breaker struct {
	Failures int           `yaml:"failures"` // default 5; 0 means no breaker
	Open     time.Duration `yaml:"open"`     // default 30s
}

// Cache keeps the results of GETs.
type Cache struct {
	TTL  time.Duration `yaml:"ttl"`  // 0 (default): no cache
	Size int           `yaml:"size"` // entries; default 1000
}

func defaults() *Config {
	return &Config{
		Timeout: 2 * time.Second,
		Retry:   Retry{Attempts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second},
		Breaker: Breaker{Failures: 5, Open: 30 * time.Second},
		Cache:   Cache{Size: 1000},
		MaxBody: 1 << 20,
	}
}

// Kind returns the factory of the "http" kind.
func Kind() adapters.Factory {
	return adapters.Define(defaults, func(c *Config, in adapters.Instance) (adapters.Adapter, error) {
		return New(*c, in)
	})
}

// Stats counts what an instance did since it was made.
type Stats struct {
	Requests    int64 // HTTP exchanges tried, retries included
	Retries     int64
	CacheHits   int64
	CacheMisses int64
	Rejected    int64  // calls refused by the open breaker
	Breaker     string // the breaker's state: closed, half-open or open
}

// Adapter calls an HTTP/JSON back-end. It is safe for concurrent use.
type Adapter struct {
	name    string
	ops     map[string]*op
	specs   []adapters.OpSpec
	names   string
	headers http.Header
	timeout time.Duration
	retry   Retry
	maxBody int64
	client  *http.Client
	ownHTTP bool
	breaker *gobreaker.CircuitBreaker[*response] // nil: none
	cache   *cache                               // nil: none
	secrets []string

	requests, retries, hits, misses, rejected atomic.Int64
}

var (
	_ adapters.Adapter   = (*Adapter)(nil)
	_ adapters.Stopper   = (*Adapter)(nil)
	_ adapters.Describer = (*Adapter)(nil)
)

type op struct {
	name       string
	method     string
	url        *template
	body       *template // nil: no body
	list       path
	hasList    bool
	mapping    map[string]path
	params     []string
	idempotent bool
}

var (
	methods    = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	headerRE   = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)
	resultKeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// New checks c and returns its adapter.
func New(c Config, in adapters.Instance) (*Adapter, error) {
	in.Deps = in.Deps.WithDefaults()
	var errs []error
	a := &Adapter{
		name: in.Name, ops: map[string]*op{}, headers: http.Header{}, timeout: c.Timeout,
		retry: c.Retry, maxBody: c.MaxBody, client: in.HTTPClient, secrets: in.Secrets,
	}
	if a.name == "" {
		a.name = "http"
	}
	if c.URL != "" {
		o, err := compileOp("call", c.Endpoint)
		errs = append(errs, err)
		a.ops["call"], a.ops[""] = o, o
	} else if c.Method != "" || c.Body != "" || c.List != "" || len(c.Map) > 0 {
		errs = append(errs, adapters.FieldErrorf("url", "required with method, body, list or map"))
	}
	for name, e := range c.Ops {
		if !resultKeRE.MatchString(name) || name == "call" {
			errs = append(errs, adapters.FieldErrorf("ops."+name, "op names are lower-case identifiers, other than call"))
			continue
		}
		o, err := compileOp(name, e)
		if err != nil {
			errs = append(errs, &adapters.FieldError{Field: "ops." + name, Err: err})
		}
		a.ops[name] = o
	}
	if len(a.ops) == 0 {
		errs = append(errs, adapters.FieldErrorf("url", "required: a url, or ops with one each"))
	}
	for k, v := range c.Headers {
		if !headerRE.MatchString(k) {
			errs = append(errs, adapters.FieldErrorf("headers."+k, "not a header name"))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			errs = append(errs, adapters.FieldErrorf("headers."+k, "control characters in the value"))
		}
		a.headers.Set(k, v)
	}
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		errs = append(errs, adapters.FieldErrorf("timeout", "want more than 0 and at most 1m"))
	}
	if c.Retry.Attempts < 1 || c.Retry.Attempts > 10 {
		errs = append(errs, adapters.FieldErrorf("retry.attempts", "want 1 to 10"))
	}
	if c.Retry.Backoff <= 0 {
		errs = append(errs, adapters.FieldErrorf("retry.backoff", "must be positive"))
	}
	if c.Retry.MaxBackoff < c.Retry.Backoff {
		errs = append(errs, adapters.FieldErrorf("retry.max_backoff", "must be at least backoff"))
	}
	if c.Breaker.Failures < 0 {
		errs = append(errs, adapters.FieldErrorf("breaker.failures", "must not be negative"))
	}
	if c.Breaker.Open <= 0 {
		errs = append(errs, adapters.FieldErrorf("breaker.open", "must be positive"))
	}
	if c.Cache.TTL < 0 {
		errs = append(errs, adapters.FieldErrorf("cache.ttl", "must not be negative"))
	}
	if c.Cache.Size < 1 {
		errs = append(errs, adapters.FieldErrorf("cache.size", "must be positive"))
	}
	if c.MaxBody < 1 {
		errs = append(errs, adapters.FieldErrorf("max_body", "must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if a.client == nil {
		a.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		a.ownHTTP = true
	}
	if c.Cache.TTL > 0 {
		a.cache = newCache(c.Cache.TTL, c.Cache.Size, in.Now)
	}
	if c.Breaker.Failures > 0 {
		log := in.Logger
		a.breaker = gobreaker.NewCircuitBreaker[*response](gobreaker.Settings{
			Name:        a.name,
			MaxRequests: 1,
			Timeout:     c.Breaker.Open,
			ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= uint32(c.Breaker.Failures) },
			IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
			OnStateChange: func(_ string, from, to gobreaker.State) {
				log.Warn("circuit breaker changed state", "from", from.String(), "to", to.String())
			},
		})
	}
	var names []string
	for name, o := range a.ops {
		// The op "" (an action without op:, when url: is set) is
		// declared too, so that a flow loader accepts it; it is not
		// listed among the names.
		a.specs = append(a.specs, adapters.OpSpec{Name: name, Required: o.params})
		if name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	slices.SortFunc(a.specs, func(x, y adapters.OpSpec) int { return strings.Compare(x.Name, y.Name) })
	a.names = strings.Join(names, ", ")
	return a, nil
}

func compileOp(name string, e Endpoint) (*op, error) {
	var errs []error
	o := &op{name: name, method: strings.ToUpper(e.Method), mapping: map[string]path{}}
	if o.method == "" {
		o.method = http.MethodGet
	}
	if !slices.Contains(methods, o.method) {
		errs = append(errs, adapters.FieldErrorf("method", "want one of %s", strings.Join(methods, ", ")))
	}
	switch o.method {
	case "GET", "HEAD", "PUT", "DELETE":
		o.idempotent = true
	}
	var err error
	if o.url, err = parseTemplate(e.URL, true); err != nil {
		errs = append(errs, adapters.FieldErrorf("url", "%v", err))
	} else if err := checkURL(e.URL, o.url); err != nil {
		errs = append(errs, adapters.FieldErrorf("url", "%v", err))
	}
	if e.Body != "" {
		if o.method != "POST" && o.method != "PUT" && o.method != "PATCH" {
			errs = append(errs, adapters.FieldErrorf("body", "only for POST, PUT or PATCH"))
		}
		if o.body, err = parseTemplate(e.Body, false); err != nil {
			errs = append(errs, adapters.FieldErrorf("body", "%v", err))
		} else if !json.Valid([]byte(o.body.render(dummy(o.body), forJSON))) {
			errs = append(errs, adapters.FieldErrorf("body", "not JSON once its placeholders are filled"))
		}
	}
	if e.List != "" {
		o.hasList = true
		if o.list, err = parsePath(e.List); err != nil {
			errs = append(errs, adapters.FieldErrorf("list", "%v", err))
		}
	}
	for k, p := range e.Map {
		if !resultKeRE.MatchString(k) {
			errs = append(errs, adapters.FieldErrorf("map."+k, "result keys are lower-case identifiers"))
			continue
		}
		if o.mapping[k], err = parsePath(p); err != nil {
			errs = append(errs, adapters.FieldErrorf("map."+k, "%v", err))
		}
	}
	seen := map[string]bool{}
	for _, t := range []*template{o.url, o.body} {
		if t == nil {
			continue
		}
		for _, n := range t.names {
			if !seen[n] {
				seen[n] = true
				o.params = append(o.params, n)
			}
		}
	}
	return o, errors.Join(errs...)
}

func dummy(t *template) map[string]string {
	p := map[string]string{}
	for _, n := range t.names {
		p[n] = "x"
	}
	return p
}

// checkURL checks the URL with its placeholders filled, and that none
// stands in the scheme or host: params choose a resource, not a server.
func checkURL(raw string, t *template) error {
	u, err := url.Parse(t.render(dummy(t), forURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http or https URL")
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		if strings.Contains(rest, "{{") {
			return errors.New("placeholders may not stand in the host")
		}
	}
	return nil
}

// Ops implements adapters.Describer.
func (a *Adapter) Ops() []adapters.OpSpec { return slices.Clone(a.specs) }

// Stop closes the idle connections of the adapter's own HTTP client.
// Calls in flight end on their own deadlines.
func (a *Adapter) Stop(context.Context) error {
	if a.ownHTTP {
		a.client.CloseIdleConnections()
	}
	return nil
}

// Stats returns the instance's counters.
func (a *Adapter) Stats() Stats {
	s := Stats{
		Requests: a.requests.Load(), Retries: a.retries.Load(), CacheHits: a.hits.Load(),
		CacheMisses: a.misses.Load(), Rejected: a.rejected.Load(), Breaker: "none",
	}
	if a.breaker != nil {
		s.Breaker = a.breaker.State().String()
	}
	return s
}

// response is what came back from one HTTP exchange.
type response struct {
	status int
	body   []byte
}

// errStatus is a status the breaker counts as a back-end failure.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d", int(e)) }

// Call implements adapters.Adapter.
func (a *Adapter) Call(ctx context.Context, req adapters.Request) (adapters.Result, error) {
	if err := opset.CtxErr(ctx); err != nil {
		return nil, err
	}
	o, ok := a.ops[req.Op]
	if !ok {
		return nil, adapters.Errorf(adapters.KindInvalid, "unknown op %q (known: %s)", req.Op, a.names)
	}
	for _, name := range o.params {
		if strings.TrimSpace(req.Params[name]) == "" {
			return nil, adapters.Errorf(adapters.KindInvalid, "%s: missing param %s", o.name, name)
		}
	}
	target := o.url.render(req.Params, forURL)
	cacheKey := ""
	if a.cache != nil && o.method == http.MethodGet {
		cacheKey = o.name + "\x00" + target
		if res, ok := a.cache.get(cacheKey); ok {
			a.hits.Add(1)
			return res, nil
		}
		a.misses.Add(1)
	}
	var body []byte
	if o.body != nil {
		body = []byte(o.body.render(req.Params, forJSON))
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	resp, err := a.exchange(ctx, o, target, body)
	if err != nil {
		return nil, a.fail(o, err)
	}
	res, err := a.decode(o, resp)
	if err != nil {
		return nil, a.fail(o, err)
	}
	if cacheKey != "" {
		a.cache.put(cacheKey, res)
	}
	return res, nil
}

// exchange sends the request, retrying what may be retried.
func (a *Adapter) exchange(ctx context.Context, o *op, target string, body []byte) (*response, error) {
	tries := 1
	if o.idempotent {
		tries = a.retry.Attempts
	}
	pause := a.retry.Backoff
	for i := 1; ; i++ {
		resp, err := a.try(ctx, o, target, body)
		if err == nil || i == tries || !retryable(err) {
			return resp, err
		}
		// Pause with ±20% jitter, unless the deadline would pass first.
		d := pause + time.Duration((rand.Float64()*0.4-0.2)*float64(pause))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return resp, err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		a.retries.Add(1)
		pause = min(2*pause, a.retry.MaxBackoff)
	}
}

func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return false
	}
	var st errStatus
	if errors.As(err, &st) {
		return st >= 500 || st == http.StatusTooManyRequests
	}
	var de *decodeError
	return !errors.As(err, &de)
}

// try makes one exchange through the breaker. A 5xx, 408 or 429 comes
// back as an errStatus error, counted by the breaker; another status is
// a healthy back-end's answer.
func (a *Adapter) try(ctx context.Context, o *op, target string, body []byte) (*response, error) {
	do := func() (*response, error) {
		a.requests.Add(1)
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		hr, err := http.NewRequestWithContext(ctx, o.method, target, rd)
		if err != nil {
			return nil, fmt.Errorf("making request: %w", err)
		}
		hr.Header = a.headers.Clone()
		if hr.Header.Get("Accept") == "" {
			hr.Header.Set("Accept", "application/json")
		}
		if body != nil && hr.Header.Get("Content-Type") == "" {
			hr.Header.Set("Content-Type", "application/json")
		}
		resp, err := a.client.Do(hr)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its text repeats the URL
			}
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
			return nil, errStatus(resp.StatusCode)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, a.maxBody+1))
		if err != nil {
			return nil, fmt.Errorf("reading response: %w", err)
		}
		if int64(len(b)) > a.maxBody {
			return nil, fmt.Errorf("response larger than %d bytes", a.maxBody)
		}
		return &response{status: resp.StatusCode, body: b}, nil
	}
	if a.breaker == nil {
		return do()
	}
	resp, err := a.breaker.Execute(do)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		a.rejected.Add(1)
	}
	return resp, err
}

// decodeError is a 2xx answer that is not the JSON expected.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func (a *Adapter) decode(o *op, r *response) (adapters.Result, error) {
	switch {
	case r.status == http.StatusNotFound:
		return nil, &adapters.Error{Kind: adapters.KindNotFound, Msg: fmt.Sprintf("%s %s %s: status 404", a.name, o.method, o.name)}
	case r.status >= 400:
		return nil, &adapters.Error{Kind: adapters.KindInvalid, Msg: fmt.Sprintf("%s %s %s: status %d", a.name, o.method, o.name, r.status)}
	case r.status >= 300:
		return nil, errStatus(r.status)
	case o.method == http.MethodHead:
		return map[string]any{"status": r.status}, nil
	case r.status == http.StatusNoContent || len(bytes.TrimSpace(r.body)) == 0:
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &decodeError{fmt.Errorf("decoding response: %w", err)}
	}
	if dec.More() {
		return nil, &decodeError{errors.New("decoding response: data after the JSON value")}
	}
	if !o.hasList {
		return o.pick(doc), nil
	}
	v, ok := o.list.get(doc)
	if !ok || v == nil {
		return []any{}, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, &decodeError{fmt.Errorf("decoding response: list is not a list")}
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = o.pick(it)
	}
	return out, nil
}

// pick applies the op's map to v, or passes v through.
func (o *op) pick(v any) any {
	if len(o.mapping) == 0 {
		return result(v, 0)
	}
	out := make(map[string]any, len(o.mapping))
	for k, p := range o.mapping {
		if x, ok := p.get(v); ok {
			out[k] = result(x, 1)
		}
	}
	return out
}

// fail classifies err and words it without URL or secret.
func (a *Adapter) fail(o *op, err error) error {
	var ae *adapters.Error
	if errors.As(err, &ae) {
		return err
	}
	kind := adapters.KindUnavailable
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		kind = adapters.KindTimeout
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		err = errors.New("circuit breaker open")
	}
	what := fmt.Sprintf("%s %s %s", a.name, o.method, o.name)
	if kind == adapters.KindTimeout {
		return &adapters.Error{Kind: kind, Msg: what, Err: context.DeadlineExceeded}
	}
	return &adapters.Error{Kind: kind, Msg: what + ": " + adapters.Redact(err.Error(), a.secrets)}
}
