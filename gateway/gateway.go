// Package gateway is the gateway's HTTP side: the USSD callbacks of the
// aggregators (each route speaking the dialect of package
// gateway/dialect, behind its guard), health, and the admin API's mount
// point. It is the only package that knows echo; it turns HTTP requests
// into ussd.Requests and back. It is a transport: it may import ussd, flows,
// the stores and the codecs, nothing below it may import it, and it must
// not import cmd/ or an adapter.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
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
	// Routes are the aggregators' callbacks, each with its dialect and
	// guard; empty serves Africa's Talking at DefaultRoute.
	Routes []Route
	// Guards protect the default route, by aggregator name
	// (AfricasTalking); a missing one lets anyone in. Unused with Routes.
	Guards map[string]Guard
	// Details, when set, adds to Server.Details: its keys (such as "smpp",
	// the state of each bind) join the answer. It must answer fast. They
	// are for operators (the authenticated /api/v1/health), never served
	// on the public /healthz.
	Details func(ctx context.Context) map[string]any
	// BindGroups, when set, reports the SMPP bind groups (the Hub's
	// Groups): /readyz shows whether the groups the gateway needs are up
	// and /readyz?smsc=1 or ?group=NAME fail on it (see smscReady).
	BindGroups func() []BindGroup
	// API, when set, answers everything under /api/v1/ (package api):
	// it authenticates its callers, answers JSON and bounds its own
	// bodies (an upload of numbers is larger than MaxBody).
	API http.Handler
	// ReadyDetails, when set, adds its keys to the answer of a ready
	// /readyz (the flows served and a refused reload): public words, no
	// addresses. It never makes /readyz fail.
	ReadyDetails func() map[string]any
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
	for _, rt := range s.routes() {
		s.mount(rt)
	}
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
	if s.cfg.BindGroups != nil {
		groups := s.cfg.BindGroups()
		smsc := map[string]any{"ready": true, "groups": groups}
		if r := smscReason(groups); r != "" {
			smsc["ready"], smsc["not_ready"] = false, r
		}
		body["smsc"] = smsc
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

// ready answers /readyz. Without a query it is the readiness of the HTTP
// side only: the store answers. An SMSC outage does not make it 503: the
// load balancer in front of /readyz sends aggregators' HTTP USSD, which
// needs no SMPP, and an SMSC outage usually hits every instance at once,
// so failing here would take HTTP USSD down with the SMSC everywhere. The
// SMSC state is shown beside it ("smsc") for people and monitoring.
// Checks that route SMPP-dependent traffic ask for it explicitly:
// /readyz?smsc=1 fails when a needed group (one carrying USSD, or the MT
// SMS group) has no bound connection; /readyz?group=NAME fails when that
// group has none (404 for a group not configured).
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
	body := map[string]any{"status": "ready"}
	if s.cfg.ReadyDetails != nil {
		for k, v := range s.cfg.ReadyDetails() {
			body[k] = v
		}
	}
	if s.cfg.BindGroups == nil {
		return c.JSON(http.StatusOK, body)
	}
	groups := s.cfg.BindGroups()
	if name := c.QueryParam("group"); name != "" {
		for _, g := range groups {
			if g.Name == name {
				if g.Bound == 0 {
					return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": g.reason()})
				}
				return c.JSON(http.StatusOK, map[string]any{"status": "ready", "group": name, "bound": g.Bound, "total": g.Total})
			}
		}
		return c.JSON(http.StatusNotFound, map[string]any{"status": "unknown", "reason": "no SMPP bind group " + strconv.Quote(name)})
	}
	reason := smscReason(groups)
	if reason == "" {
		body["smsc"] = "ready"
		return c.JSON(http.StatusOK, body)
	}
	body["smsc"], body["smsc_reason"] = "unavailable", reason
	if v := c.QueryParam("smsc"); v != "" && v != "0" && v != "false" {
		body["status"], body["reason"] = "unavailable", reason
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}

// BindGroup is the state of one SMPP bind group.
type BindGroup struct {
	Name  string `json:"name"`
	Bound int    `json:"bound"` // connections bound now
	Total int    `json:"total"` // connections configured
	USSD  bool   `json:"ussd"`  // carries USSD
	SMS   bool   `json:"sms"`   // MT SMS leave on it
}

// Needed reports whether the gateway needs the group: it carries USSD or
// the MT SMS. A group for, say, MO only is not needed for readiness.
func (g BindGroup) Needed() bool { return g.USSD || g.SMS }

func (g BindGroup) reason() string {
	var what []string
	if g.USSD {
		what = append(what, "USSD")
	}
	if g.SMS {
		what = append(what, "SMS")
	}
	carries := ""
	if len(what) > 0 {
		carries = " (" + strings.Join(what, ", ") + ")"
	}
	return fmt.Sprintf("SMPP bind group %q%s has no bound connection (0 of %d)", g.Name, carries, g.Total)
}

// smscReason says which needed groups have no bound connection; "" when
// every needed group has one.
func smscReason(groups []BindGroup) string {
	var rs []string
	for _, g := range groups {
		if g.Needed() && g.Bound == 0 {
			rs = append(rs, g.reason())
		}
	}
	return strings.Join(rs, "; ")
}
