package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
)

// Limits on what an aggregator may send. A USSD input is at most 182
// characters; the cumulative text of a long session stays well under this.
const (
	maxText      = 4096
	maxSessionID = 128
)

// africasTalking serves the Africa's Talking USSD callback: a form POST
// with sessionId, serviceCode, phoneNumber, networkCode and text (every
// input so far joined by "*"), answered in text/plain with "CON " to
// continue or "END " to end. Malformed requests get a 400 with the reason;
// everything else gets an END screen rather than an error status, because
// a non-200 shows the user a generic failure.
func (s *Server) africasTalking(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return plainText(c, http.StatusRequestEntityTooLarge, "request body too large\n")
		}
		return plainText(c, http.StatusBadRequest, "malformed form body\n")
	}
	sessionID := trimmed(c, "sessionId")
	phone := normalizeMSISDN(c.FormValue("phoneNumber"))
	switch {
	case sessionID == "":
		return plainText(c, http.StatusBadRequest, "missing sessionId\n")
	case len(sessionID) > maxSessionID:
		return plainText(c, http.StatusBadRequest, "sessionId too long\n")
	case c.FormValue("phoneNumber") == "":
		return plainText(c, http.StatusBadRequest, "missing phoneNumber\n")
	case phone == "":
		return plainText(c, http.StatusBadRequest, "phoneNumber is not a phone number\n")
	}
	text := c.FormValue("text")
	if len(text) > maxText {
		return plainText(c, http.StatusOK, "END Your input is too long. Please dial again.")
	}
	code := trimmed(c, "serviceCode")
	req := ussd.Request{
		SessionID:  sessionID,
		MSISDN:     msisdn.MSISDN(phone),
		Dialled:    dialled(code, text),
		Text:       text,
		Cumulative: true,
	}
	resp, err := s.m.Handle(c.Request().Context(), req)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		s.log.Debug("ussd step abandoned by the aggregator", "msisdn", req.MSISDN, "service", resp.Service)
	case errors.Is(err, ussd.ErrUnavailable):
		// The store logs its outage once per state change, not per step.
		s.log.Debug("ussd step refused: session store unavailable", "msisdn", req.MSISDN, "service", resp.Service)
	default:
		s.log.Error("ussd step failed", "msisdn", req.MSISDN, "service", resp.Service, "err", err)
	}
	prefix := "CON "
	if resp.End {
		prefix = "END "
	}
	return plainText(c, http.StatusOK, prefix+resp.Text)
}

// africasTalkingEvent takes the end-of-session notification: a session
// that ended Incomplete or Failed was cut by the network, so the next
// dial offers to resume it.
func (s *Server) africasTalkingEvent(c echo.Context) error {
	sessionID := trimmed(c, "sessionId")
	phone := normalizeMSISDN(c.FormValue("phoneNumber"))
	if sessionID == "" || phone == "" {
		return plainText(c, http.StatusBadRequest, "missing sessionId or phoneNumber\n")
	}
	switch strings.ToLower(trimmed(c, "status")) {
	case "incomplete", "failed":
		if err := s.m.Abort(c.Request().Context(), msisdn.MSISDN(phone), sessionID); err != nil {
			if !errors.Is(err, ussd.ErrUnavailable) {
				s.log.Error("recording an aborted session", "msisdn", msisdn.MSISDN(phone), "err", err)
			}
			return plainText(c, http.StatusServiceUnavailable, "try again\n")
		}
	}
	return plainText(c, http.StatusOK, "OK\n")
}

// dialled rebuilds the string the user dialled on the first hop: a
// shortcut *384*1*2# reaches Africa's Talking as serviceCode *384# with
// text 1*2. On later hops the session is found by id and this is unused.
func dialled(code, text string) string {
	if code == "" {
		return ""
	}
	if text == "" || strings.ContainsAny(text, "#") {
		return code
	}
	for _, r := range text {
		if (r < '0' || r > '9') && r != '*' {
			return code
		}
	}
	return strings.TrimSuffix(code, "#") + "*" + text + "#"
}

// normalizeMSISDN keeps the digits of an E.164 number (+254 700 000001 →
// 254700000001), or returns "" when it is not one (msisdn.Normalize).
func normalizeMSISDN(s string) string {
	m, _ := msisdn.Normalize(s)
	return string(m)
}
