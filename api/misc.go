package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/alerts"
)

func randomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// MessageStatus is the answer of GET /api/v1/messages/{id}; the number is
// masked.
type MessageStatus struct {
	ID       string `json:"id"`
	MSISDN   string `json:"msisdn"`
	Service  string `json:"service,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Group    string `json:"group,omitempty"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
	Updated  string `json:"updated,omitempty"`
}

func (s *Server) getMessage(c echo.Context) error {
	id := c.Param("id")
	st, ok, err := s.cfg.Outbox.Status(c.Request().Context(), id)
	if err != nil {
		return s.unavailable(c, "reading the message", err)
	}
	if !ok {
		return apiErr(http.StatusNotFound, "no message %q", id)
	}
	return c.JSON(http.StatusOK, messageStatus(st))
}

func (s *Server) postPrice(c echo.Context) error {
	var p alerts.Price
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return apiErr(http.StatusBadRequest, "price: the body is not the expected JSON: %v", err)
	}
	p, err := s.cfg.Prices.Normalize(p)
	var inv *alerts.InvalidError
	if errors.As(err, &inv) {
		return invalid("invalid price", []Problem{{Field: inv.Field, Error: inv.Msg}})
	}
	if err != nil {
		return invalid("invalid price", []Problem{{Error: err.Error()}})
	}
	c.Set(auditTarget, "price "+p.Topic())
	c.Set(auditDetail, p.Date+" "+p.Currency+" "+jsonNum(p.Price))
	ctx, cancel := contextFor(c, s.cfg.FanOutTimeout)
	defer cancel()
	run, err := s.cfg.Prices.Price(ctx, p)
	if err != nil {
		return s.unavailable(c, "recording the price", err)
	}
	c.Set(auditDetail, p.Date+" "+p.Currency+" "+jsonNum(p.Price)+" run "+run.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"price": p, "alert": run, "progress": Prefix + "/alerts/" + run.ID})
}

// contextFor is the context of a fan-out: it outlives the server's
// default write deadline and goes on when the caller hangs up (who can
// follow the progress by id), up to d.
func contextFor(c echo.Context, d time.Duration) (context.Context, context.CancelFunc) {
	rc := http.NewResponseController(c.Response().Writer)
	// Not every ResponseWriter can; then the server's deadlines apply.
	_ = rc.SetReadDeadline(time.Now().Add(d)) // a large upload on a slow link
	_ = rc.SetWriteDeadline(time.Now().Add(d))
	return context.WithTimeout(context.WithoutCancel(c.Request().Context()), d)
}

// AlertProgress is the answer of GET /api/v1/alerts/{id}.
type AlertProgress struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Total      int64  `json:"total"`
	Queued     int64  `json:"queued"`
	Sent       int64  `json:"sent"`
	Delivered  int64  `json:"delivered"`
	Failed     int64  `json:"failed"`
	Suppressed int64  `json:"suppressed"`
	Cancelled  int64  `json:"cancelled"`
}

func (s *Server) getAlert(c echo.Context) error {
	id := c.Param("id")
	if !strings.HasPrefix(id, "alert_") && !strings.HasPrefix(id, "digest:") {
		return apiErr(http.StatusNotFound, "no alert run %q", id)
	}
	g, err := s.cfg.Outbox.Group(c.Request().Context(), id)
	if err != nil {
		return s.unavailable(c, "reading the alert run", err)
	}
	if g.Total == 0 {
		return apiErr(http.StatusNotFound, "no alert run %q (or it queued nothing)", id)
	}
	p := AlertProgress{ID: id, State: stateRunning, Total: g.Total, Queued: g.Queued, Sent: g.Sent, Delivered: g.Delivered,
		Failed: g.Failed, Suppressed: g.Suppressed, Cancelled: g.Cancelled}
	switch {
	case g.Stopped && g.Queued > 0:
		p.State = stateCancelling
	case g.Stopped:
		p.State = stateCancel
	case g.Queued == 0:
		p.State = stateDone
	}
	return c.JSON(http.StatusOK, p)
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

// SubscriptionOut and EventOut are the consent answer's parts.
type SubscriptionOut struct {
	Service string            `json:"service"`
	Topic   string            `json:"topic"`
	Label   string            `json:"label,omitempty"`
	Lang    string            `json:"lang,omitempty"`
	Channel string            `json:"channel,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	At      string            `json:"at"`
}

type EventOut struct {
	At      string `json:"at"`
	Action  string `json:"action"`
	Service string `json:"service,omitempty"`
	Topic   string `json:"topic,omitempty"`
	Channel string `json:"channel,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func (s *Server) getConsent(c echo.Context) error {
	raw := c.Param("msisdn")
	n, err := normalize(raw, s.cfg.Country)
	if err != nil {
		return invalid("consent", []Problem{{Field: "msisdn", Value: raw, Error: err.Error()}})
	}
	ctx := c.Request().Context()
	subs, err := s.cfg.Consent.Subscriptions(ctx, n)
	if err != nil {
		return s.unavailable(c, "reading the subscriptions", err)
	}
	events, err := s.cfg.Consent.Audit(ctx, n)
	if err != nil {
		return s.unavailable(c, "reading the consent audit", err)
	}
	so := make([]SubscriptionOut, len(subs))
	for i, x := range subs {
		so[i] = SubscriptionOut{Service: x.Service, Topic: x.Topic, Label: x.Label, Lang: x.Lang, Channel: x.Channel, Params: x.Params, At: x.At.UTC().Format(time.RFC3339)}
	}
	eo := make([]EventOut, len(events))
	for i, e := range events {
		eo[i] = EventOut{At: e.At.UTC().Format(time.RFC3339), Action: e.Action, Service: e.Service, Topic: e.Topic, Channel: e.Channel, Detail: e.Detail}
	}
	return c.JSON(http.StatusOK, map[string]any{"msisdn": n, "subscriptions": so, "audit": eo})
}
