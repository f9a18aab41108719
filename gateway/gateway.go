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
	// nil means always ready.
	Ready func(ctx context.Context) error
	// MaxBody bounds a request body (64 KiB).
	MaxBody int64
	// Health, when set, adds to /healthz: its keys (such as "smpp", the
	// state of each bind) join the answer. It must answer fast.
	Health func(ctx context.Context) map[string]any
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
	e.POST("/ussd/africastalking", s.africasTalking)
	e.POST("/ussd/africastalking/events", s.africasTalkingEvent)
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

func (s *Server) health(c echo.Context) error {
	body := map[string]any{"status": "ok", "services": len(s.m.Flows().Flows())}
	if s.cfg.Health != nil {
		for k, v := range s.cfg.Health(c.Request().Context()) {
			if _, taken := body[k]; !taken {
				body[k] = v
			}
		}
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) ready(c echo.Context) error {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": "session store does not answer"})
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
