package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/gateway/dialect"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
)

// Route is one aggregator's callback: the base path it is served under,
// the dialect spoken there, and who may call it. One gateway serves any
// number of routes, each its own aggregator.
type Route struct {
	Path    string // /ussd/hubtel
	Dialect dialect.Dialect
	Guard   Guard
}

// DefaultRoute is the route served when Config.Routes is empty: Africa's
// Talking at /ussd/africastalking, guarded by Config.Guards[AfricasTalking].
const DefaultRoute = "/ussd/africastalking"

// Limits on what an aggregator may send. A USSD input is at most 182
// characters; the cumulative text of a long session stays well under this.
const (
	maxText      = 4096
	maxSessionID = 128
)

// tooLong is the screen for an input over maxText.
const tooLong = "Your input is too long. Please dial again."

func (s *Server) routes() []Route {
	if len(s.cfg.Routes) > 0 {
		return s.cfg.Routes
	}
	return []Route{{Path: DefaultRoute, Dialect: dialect.AfricasTalking{}, Guard: s.cfg.Guards[AfricasTalking]}}
}

// mount registers a route's endpoints, each also under a secret path
// segment (base/<secret>/suffix) for aggregators that cannot send a
// header; echo prefers a static path (/events) to the :secret one.
func (s *Server) mount(rt Route) {
	for _, dr := range rt.Dialect.Routes() {
		h := s.guarded(rt, s.serve(rt.Dialect, dr))
		s.e.POST(rt.Path+dr.Suffix, h)
		s.e.POST(rt.Path+"/:secret"+dr.Suffix, h)
	}
}

// serve answers one dialect endpoint. Malformed requests get a 4xx with
// the reason (in the dialect's form); everything else gets a screen that
// ends the dialogue rather than an error status, because a non-200 shows
// the user a generic failure.
func (s *Server) serve(d dialect.Dialect, dr dialect.Route) echo.HandlerFunc {
	return func(c echo.Context) error {
		w, r := c.Response(), c.Request()
		st, err := d.Parse(r, dr)
		if err != nil {
			var de *dialect.Error
			if errors.As(err, &de) {
				return d.Refuse(w, de.Status, de.Msg)
			}
			return d.Refuse(w, http.StatusBadRequest, "malformed request")
		}
		m, ok := msisdn.Normalize(st.Phone)
		switch {
		case st.SessionID == "":
			return d.Refuse(w, http.StatusBadRequest, "missing session id")
		case len(st.SessionID) > maxSessionID:
			return d.Refuse(w, http.StatusBadRequest, "session id too long")
		case !ok:
			return d.Refuse(w, http.StatusBadRequest, "the phone number is not a phone number")
		}
		phone := ussd.MSISDN(m)
		if st.Kind == dialect.Ended {
			// A dialogue cut by the network or the user: the next dial
			// offers to resume it.
			if st.Cut {
				if err := s.m.Abort(r.Context(), phone, st.SessionID); err != nil {
					if !errors.Is(err, ussd.ErrUnavailable) {
						s.log.Error("recording an aborted session", "msisdn", phone, "dialect", d.Name(), "err", err)
					}
					return d.Refuse(w, http.StatusServiceUnavailable, "try again")
				}
			}
			return d.Write(w, st, dialect.Answer{})
		}
		if len(st.Text) > maxText || len(st.Input) > maxText {
			return d.Write(w, st, dialect.Answer{Text: tooLong, End: true})
		}
		req := ussd.Request{
			SessionID: st.SessionID, MSISDN: phone, Dialled: st.Dialled, New: st.New,
			Input: st.Input, Text: st.Text, Cumulative: st.Cumulative, Seq: st.Seq,
		}
		resp, err := s.m.Handle(r.Context(), req)
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			s.log.Debug("ussd step abandoned by the aggregator", "msisdn", phone, "service", resp.Service, "dialect", d.Name())
		case errors.Is(err, ussd.ErrUnavailable):
			// The store logs its outage once per state change, not per step.
			s.log.Debug("ussd step refused: session store unavailable", "msisdn", phone, "service", resp.Service)
		default:
			s.log.Error("ussd step failed", "msisdn", phone, "service", resp.Service, "dialect", d.Name(), "err", err)
		}
		return d.Write(w, st, dialect.Answer{Text: resp.Text, End: resp.End})
	}
}
