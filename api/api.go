// Package api is the gateway's HTTP API under /api/v1: broadcasts
// (create, progress, cancel), the delivery status of a message, new
// prices that become price alerts, the consent record of a number and the
// detailed health, and services' analytics. Callers authenticate with an API key (package apikeys)
// as "Authorization: Bearer <key>"; each route needs a scope. Errors are
// JSON: {"error": "..."} with, for invalid input, the list of problems.
// Every mutation is audited (key, what, when, outcome) in a Redis stream
// trimmed to a retention. It is a transport (HTTP): it may import the
// stores, flows and the codecs, and nothing below the transports (ussd,
// flows, adapters, stores) may import it; it must not import cmd/.
//
// It is an http.Handler mounted by package gateway. It reaches Redis,
// the consent registry, the outbox and the alerts through the small
// interfaces of deps.go; it must not import transports (gateway, smpp).
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/flows"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// KeyChecker checks an API key (*apikeys.Store).
type KeyChecker interface {
	Check(ctx context.Context, plaintext string, scope apikeys.Scope) (apikeys.Key, error)
}

// Config configures the API.
type Config struct {
	Keys    KeyChecker
	Redis   redis.UniversalClient // broadcast records and the audit stream
	Prefix  string                // of every Redis key, e.g. "ussdgw:"
	Flows   func() *flows.Set     // the services now loaded
	Consent Consent
	Outbox  Outbox
	Prices  Prices
	// Analytics reports services' analytics (analytics.go); nil: off.
	Analytics Analytics
	// Health is the detailed health GET /api/v1/health shows; nil: ok.
	Health func(ctx context.Context) map[string]any
	// Country is the region numbers without a country code are read in
	// (ISO 3166 code, default KE).
	Country string
	// MaxBody bounds a request body (8 MiB: about 500,000 numbers).
	MaxBody int64
	// Batch is the number of messages per Enqueue (1000).
	Batch int
	// AuditRetention is how long audit entries are kept (400 days).
	AuditRetention time.Duration
	// RecordRetention is how long a broadcast record is kept (90 days).
	RecordRetention time.Duration
	// FanOutTimeout bounds the fan-out of one broadcast (10 minutes); it
	// goes on when the caller hangs up.
	FanOutTimeout time.Duration
	// RatePerMinute is the requests one API key may make per minute (GCRA
	// in Redis, so the limit holds across instances); 0: no limit. Over
	// it the answer is 429 with Retry-After.
	RatePerMinute int
	// Refused, when set, counts a request refused by the rate limit
	// (metrics.Refused("api", "limited")).
	Refused func()
	// Reload, when set, reloads the flows (POST /api/v1/flows/reload,
	// admin) and reports them (GET /api/v1/flows, read).
	Reload Reloader
	Now    func() time.Time
	Log    *slog.Logger
}

// Server is the API, an http.Handler answering under /api/v1.
type Server struct {
	e   *echo.Echo
	cfg Config
	log *slog.Logger

	lim         *redis_rate.Limiter // per-key rate; nil: no limit
	limitLogged atomic.Int64        // unix second of the last limiter error logged

	stop chan struct{}  // closed by Close
	bg   sync.WaitGroup // background retries (failed)
}

// New builds the API.
func New(cfg Config) *Server {
	if cfg.Country == "" {
		cfg.Country = "KE"
	}
	cfg.Country = strings.ToUpper(cfg.Country)
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.AuditRetention <= 0 {
		cfg.AuditRetention = 400 * 24 * time.Hour
	}
	if cfg.RecordRetention <= 0 {
		cfg.RecordRetention = 90 * 24 * time.Hour
	}
	if cfg.FanOutTimeout <= 0 {
		cfg.FanOutTimeout = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{e: echo.New(), cfg: cfg, log: cfg.Log.With("comp", "api"), stop: make(chan struct{})}
	if cfg.RatePerMinute > 0 {
		s.lim = newLimiter(cfg.Redis)
	}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("handler panicked", "path", c.Path(), "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.BodyLimit(strconv.FormatInt(cfg.MaxBody, 10) + "B"))
	g := e.Group(Prefix)
	g.POST("/broadcasts", s.createBroadcast, s.auth(apikeys.Send))
	g.GET("/broadcasts/:id", s.getBroadcast, s.auth(apikeys.Read))
	g.POST("/broadcasts/:id/cancel", s.cancelBroadcast, s.auth(apikeys.Send))
	g.GET("/messages/:id", s.getMessage, s.auth(apikeys.Read))
	g.POST("/prices", s.postPrice, s.auth(apikeys.Send))
	g.GET("/alerts/:id", s.getAlert, s.auth(apikeys.Read))
	g.GET("/consent/:msisdn", s.getConsent, s.auth(apikeys.Admin))
	g.GET("/health", s.health, s.auth(apikeys.Read))
	g.GET("/audit", s.getAudit, s.auth(apikeys.Admin))
	g.GET("/analytics/:service", s.getAnalytics, s.auth(apikeys.Read))
	g.GET("/analytics/:service/export.csv", s.getAnalytics, s.auth(apikeys.Read))
	g.GET("/flows", s.getFlows, s.auth(apikeys.Read))
	g.POST("/flows/reload", s.reloadFlows, s.auth(apikeys.Admin))
	g.GET("/dead", s.listDead, s.auth(apikeys.Admin))
	g.POST("/dead/:id/resend", s.resendDead, s.auth(apikeys.Admin))
	return s
}

// Close stops the background retries (after the HTTP server has stopped).
func (s *Server) Close() {
	close(s.stop)
	s.bg.Wait()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Problem is one thing wrong with a request: a field (or a line of an
// upload) and what is wrong with it.
type Problem struct {
	Field string `json:"field,omitempty"`
	Line  int    `json:"line,omitempty"`
	Value string `json:"value,omitempty"`
	Error string `json:"error"`
}

// Error is an API error answer.
type Error struct {
	Code     int       `json:"-"`
	Message  string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
	// More counts the problems left out of Problems (100 are listed).
	More int `json:"more_problems,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func apiErr(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

const maxProblems = 100

// invalid is the 400 answer for problems found in a request.
func invalid(what string, ps []Problem) *Error {
	e := &Error{Code: http.StatusBadRequest}
	if len(ps) == 1 {
		p := ps[0]
		switch {
		case p.Line > 0:
			e.Message = fmt.Sprintf("%s: line %d: %s", what, p.Line, p.Error)
		case p.Field != "":
			e.Message = fmt.Sprintf("%s: %s: %s", what, p.Field, p.Error)
		default:
			e.Message = what + ": " + p.Error
		}
	} else {
		e.Message = fmt.Sprintf("%s: %d problems, see problems", what, len(ps))
	}
	if len(ps) > maxProblems {
		e.More = len(ps) - maxProblems
		ps = ps[:maxProblems]
	}
	e.Problems = ps
	return e
}

// unavailable is the 503 answer when Redis fails; err is logged.
func (s *Server) unavailable(c echo.Context, what string, err error) *Error {
	s.log.Error(what, "path", c.Request().URL.Path, "err", err)
	return apiErr(http.StatusServiceUnavailable, "%s: the gateway's store (Redis) is unavailable; try again later", what)
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Code: http.StatusInternalServerError, Message: "internal error"}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			ae.Code = he.Code
			if m, ok := he.Message.(string); ok {
				ae.Message = m
			} else {
				ae.Message = strings.ToLower(http.StatusText(he.Code))
			}
			if he.Code == http.StatusRequestEntityTooLarge {
				ae.Message = fmt.Sprintf("request body larger than %d bytes", s.cfg.MaxBody)
			}
		}
	}
	if ae.Code >= 500 && ae.Code != http.StatusServiceUnavailable {
		s.log.Error("request failed", "path", c.Path(), "err", err)
	}
	if err := c.JSON(ae.Code, ae); err != nil {
		s.log.Warn("writing an error answer", "err", err)
	}
}

const keyCtx = "apikey"

// auth checks the bearer key for scope, and audits what a key changes
// (every method but GET), also when its scope refuses it.
func (s *Server) auth(scope apikeys.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			var plain string // the scheme is case-insensitive (RFC 9110)
			if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
				plain = h[7:]
			}
			k, err := s.cfg.Keys.Check(c.Request().Context(), plain, scope)
			mutation := c.Request().Method != http.MethodGet
			switch {
			case errors.Is(err, apikeys.ErrMissing):
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="ussdgw"`)
				if h != "" {
					return apiErr(http.StatusUnauthorized, "missing API key: the Authorization header must be Bearer <key>")
				}
				return apiErr(http.StatusUnauthorized, "missing API key: send the header Authorization: Bearer <key>")
			case errors.Is(err, apikeys.ErrWrong):
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="ussdgw", error="invalid_token"`)
				return apiErr(http.StatusUnauthorized, "wrong API key")
			case errors.Is(err, apikeys.ErrRevoked):
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="ussdgw", error="invalid_token"`)
				return apiErr(http.StatusUnauthorized, "API key %s was revoked", k.ID)
			case errors.Is(err, apikeys.ErrScope):
				e := apiErr(http.StatusForbidden, "API key %s lacks the %s scope", k.ID, scope)
				if mutation {
					s.audit(c, k, e.Code)
				}
				return e
			case err != nil:
				return s.unavailable(c, "checking the API key", err)
			}
			if err := s.limit(c, k); err != nil {
				return err
			}
			c.Set(keyCtx, k)
			err = next(c)
			if mutation {
				code := c.Response().Status
				var ae *Error
				var he *echo.HTTPError
				switch {
				case errors.As(err, &ae):
					code = ae.Code
				case errors.As(err, &he):
					code = he.Code
				case err != nil:
					code = http.StatusInternalServerError
				}
				s.audit(c, k, code)
			}
			return err
		}
	}
}

// limitTimeout bounds the rate limiter's Redis call: a slow Redis must not
// hold every API request up on the limiter.
const limitTimeout = 300 * time.Millisecond

// limit refuses the request with 429 when key k is over its rate. The
// limiter fails open: when Redis does not answer in time the request goes
// on (and the handler's own Redis calls answer 503 if Redis is gone), so
// a limiter outage never refuses legitimate callers by itself. A refused
// request is not audited, even a mutation: a flood would otherwise flood
// the audit stream; the refusal is counted in the metrics instead.
func (s *Server) limit(c echo.Context, k apikeys.Key) error {
	if s.lim == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), limitTimeout)
	defer cancel()
	// The hash tag keeps the key in one Cluster slot (redis_rate uses one key).
	res, err := s.lim.Allow(ctx, s.cfg.Prefix+"api:lim:{"+k.ID+"}", redis_rate.PerMinute(s.cfg.RatePerMinute))
	if err != nil {
		s.limitErr(err)
		return nil
	}
	if res.Allowed > 0 {
		return nil
	}
	if s.cfg.Refused != nil {
		s.cfg.Refused()
	}
	retry := int(math.Ceil(res.RetryAfter.Seconds()))
	if retry < 1 {
		retry = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
	return apiErr(http.StatusTooManyRequests, "API key %s is over its limit of %d requests per minute; retry after %d s", k.ID, s.cfg.RatePerMinute, retry)
}

// limitErr logs a failing limiter once per minute at most: when Redis is
// down every request would log it.
func (s *Server) limitErr(err error) {
	now := time.Now().Unix()
	if last := s.limitLogged.Load(); now-last < 60 || !s.limitLogged.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("API rate limiter unavailable; requests are let through", "err", err)
}

func key(c echo.Context) apikeys.Key {
	k, _ := c.Get(keyCtx).(apikeys.Key)
	return k
}

// Audit details a handler sets for the audit entry of its request.
const (
	auditTarget = "audit_target"
	auditDetail = "audit_detail"
)

func (s *Server) auditKey() string { return s.cfg.Prefix + "api:audit" }

// audit appends an entry to the audit stream, dropping entries older
// than the retention. The stream's ids are Redis's clock, so the cut-off
// is taken from the real clock. Trimming is exact: API mutations are few,
// and an approximate trim would keep old entries until a whole macro node
// of the stream is past the retention.
func (s *Server) audit(c echo.Context, k apikeys.Key, code int) {
	now := s.cfg.Now()
	target, _ := c.Get(auditTarget).(string)
	detail, _ := c.Get(auditDetail).(string)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 2*time.Second)
	defer cancel()
	err := s.cfg.Redis.XAdd(ctx, &redis.XAddArgs{
		Stream: s.auditKey(),
		MinID:  strconv.FormatInt(time.Now().Add(-s.cfg.AuditRetention).UnixMilli(), 10),
		Values: []any{
			"at", now.UTC().Format(time.RFC3339Nano),
			"key", k.ID, "key_name", k.Name,
			"action", c.Request().Method + " " + c.Request().URL.Path,
			"status", strconv.Itoa(code),
			"target", target, "detail", detail,
		},
	}).Err()
	if err != nil {
		s.log.Error("writing the API audit entry", "key", k.ID, "action", c.Request().Method+" "+c.Request().URL.Path, "status", code, "err", err)
	}
}

// AuditEntry is one audited API call.
type AuditEntry struct {
	At      string `json:"at"`
	Key     string `json:"key"`
	KeyName string `json:"key_name"`
	Action  string `json:"action"`
	Status  int    `json:"status"`
	Target  string `json:"target,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func (s *Server) getAudit(c echo.Context) error {
	n := 100
	if v := c.QueryParam("count"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			return invalid("audit", []Problem{{Field: "count", Value: v, Error: "want a number from 1 to 1000"}})
		}
	}
	msgs, err := s.cfg.Redis.XRevRangeN(c.Request().Context(), s.auditKey(), "+", "-", int64(n)).Result()
	if err != nil {
		return s.unavailable(c, "reading the audit", err)
	}
	out := make([]AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		code, _ := strconv.Atoi(str("status"))
		out = append(out, AuditEntry{At: str("at"), Key: str("key"), KeyName: str("key_name"), Action: str("action"),
			Status: code, Target: str("target"), Detail: str("detail")})
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": out})
}

func (s *Server) health(c echo.Context) error {
	body := map[string]any{"status": "ok"}
	if s.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		for k, v := range s.cfg.Health(ctx) {
			body[k] = v
		}
	}
	return c.JSON(http.StatusOK, body)
}

func newLimiter(c redis.UniversalClient) *redis_rate.Limiter { return redis_rate.NewLimiter(c) }
