package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/outbox"
)

// DeadLetters is the answer of GET /api/v1/dead: the messages the outbox
// gave up on (a permanent SMSC error, the retries spent, the daily cap,
// an expired NotAfter), newest first, kept for the outbox's retention.
type DeadLetters struct {
	Messages []MessageStatus `json:"messages"`
}

// maxDead bounds one listing.
const maxDead = 1000

func (s *Server) listDead(c echo.Context) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDead {
			return invalid("invalid limit", []Problem{{Field: "limit", Error: "a number from 1 to " + strconv.Itoa(maxDead)}})
		}
		limit = n
	}
	dead, err := s.cfg.Outbox.Dead(c.Request().Context(), limit)
	if err != nil {
		return s.unavailable(c, "reading the dead letters", err)
	}
	out := DeadLetters{Messages: make([]MessageStatus, 0, len(dead))}
	for _, st := range dead {
		out.Messages = append(out.Messages, messageStatus(st))
	}
	return c.JSON(http.StatusOK, out)
}

// resendDead queues a dead letter again (admin): it goes through the
// same checks as a new message (consent, quiet hours, the daily cap).
func (s *Server) resendDead(c echo.Context) error {
	id := c.Param("id")
	c.Set(auditTarget, "message "+id)
	ctx := c.Request().Context()
	err := s.cfg.Outbox.Resend(ctx, id)
	if errors.Is(err, outbox.ErrNotDead) {
		return apiErr(http.StatusNotFound, "no dead letter %q", id)
	}
	if err != nil {
		return s.unavailable(c, "resending the message", err)
	}
	st, ok, err := s.cfg.Outbox.Status(ctx, id)
	if err != nil || !ok {
		return c.JSON(http.StatusAccepted, MessageStatus{ID: id, State: outbox.StateQueued})
	}
	return c.JSON(http.StatusAccepted, messageStatus(st))
}

// messageStatus is what the API shows of a message: its number masked.
func messageStatus(st Status) MessageStatus {
	out := MessageStatus{ID: st.ID, MSISDN: mask(st.MSISDN), Service: st.Service, Kind: st.Kind, Group: st.Group,
		State: st.State, Reason: st.Reason, Attempts: st.Attempts}
	if !st.Updated.IsZero() {
		out.Updated = st.Updated.UTC().Format(time.RFC3339)
	}
	return out
}
