// Package gateway is the gateway's HTTP side: the USSD callback of
// Africa's Talking-style aggregators, health, and (as they come) the admin
// API, metrics and the phone simulator. It is the only package that knows
// echo; it turns HTTP requests into ussd.Requests and back.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/ussdgw/ussdgw/ussd"
)

// Config configures a Server.
type Config struct {
	Manager *ussd.Manager
	Log     *slog.Logger
	// Ready reports whether the gateway can serve (its store answers);
	// nil means always ready. Its error is shown on /readyz as the reason:
	// no addresses or raw errors in it.
	Ready func(ctx context.Context) error
	// MaxBody bounds a request body (64 KiB).
	MaxBody int64
	// Guards protect the aggregators' callbacks, by aggregator name
	// (AfricasTalking); a missing one lets anyone in.
	Guards map[string]Guard
	// Details, when set, adds to Server.Details: its keys (such as "smpp",
	// the state of each bind) join the answer. It must answer fast. They
	// are for operators (the authenticated /api/v1/health), never served
	// on the public /healthz.
	Details func(ctx context.Context) map[string]any
	// API, when set, answers everything under /api/v1/ (package api):
	// it authenticates its callers, answers JSON and bounds its own
	// bodies (an upload of numbers is larger than MaxBody).
	API http.Handler
}

// Server is the HTTP side of the gateway. It is an http.Handler.
type Server struct {
	e   *echo.Echo
	m   *ussd.Manager
	log *slog.Logger
	cfg Config

	refused *refusals
	down    atomic.Bool
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	s := &Server{e: echo.New(), m: cfg.Manager, log: cfg.Log.With("comp", "http"), cfg: cfg}
	s.refused = newRefusals(s.log)
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("handler panicked", "path", c.Path(), "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(s.limitBody)
	// The secret may be a path segment for aggregators that cannot send a
	// header; echo prefers the static /events route to the :secret one.
	at, atEvent := s.guarded(AfricasTalking, s.africasTalking), s.guarded(AfricasTalking, s.africasTalkingEvent)
	e.POST("/ussd/africastalking", at)
	e.POST("/ussd/africastalking/events", atEvent)
	e.POST("/ussd/africastalking/:secret", at)
	e.POST("/ussd/africastalking/:secret/events", atEvent)
	e.GET("/healthz", s.health)
	e.GET("/readyz", s.ready)
	if cfg.API != nil {
		e.Any(apiPrefix+"*", echo.WrapHandler(cfg.API))
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

const apiPrefix = "/api/v1/"

func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if s.cfg.API != nil && strings.HasPrefix(r.URL.Path, apiPrefix) {
			return next(c) // the API bounds its own bodies
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.MaxBody)
		return next(c)
	}
}

// errorHandler answers errors as plain text: aggregators and people read
// these, not programs expecting JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
	}
	if code >= 500 {
		s.log.Error("request failed", "path", c.Path(), "err", err)
	}
	c.String(code, msg+"\n")
}

// health is the public liveness answer: up or down, nothing an outsider
// could use (addresses, errors, counters are in Details).
func (s *Server) health(c echo.Context) error {
	if s.down.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "down"})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok"})
}

// SetDown makes /healthz answer 503 (the gateway is stopping) or 200.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Details is the health for operators: the services served, readiness with
// its reason, and Config.Details's keys (SMPP binds, SMSC addresses, last
// errors, counters). Mount it behind authentication (/api/v1/health).
func (s *Server) Details(ctx context.Context) map[string]any {
	body := map[string]any{"status": "ok", "services": len(s.m.Flows().Flows())}
	if s.down.Load() {
		body["status"] = "down"
	}
	if s.cfg.Ready != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.cfg.Ready(rctx)
		cancel()
		if err != nil {
			body["ready"], body["not_ready"] = false, err.Error()
		} else {
			body["ready"] = true
		}
	}
	if s.cfg.Details != nil {
		for k, v := range s.cfg.Details(ctx) {
			if _, taken := body[k]; !taken {
				body[k] = v
			}
		}
	}
	return body
}

func (s *Server) ready(c echo.Context) error {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			// Ready's error is the reason, in words fit for the public (the
			// store logs its outage itself, once per state change).
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready"})
}

// plainText replies as aggregators expect: text/plain, one body.
func plainText(c echo.Context, code int, body string) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/plain; charset=utf-8")
	c.Response().WriteHeader(code)
	_, err := c.Response().Write([]byte(body))
	return err
}

func trimmed(c echo.Context, name string) string {
	return strings.TrimSpace(c.FormValue(name))
}
