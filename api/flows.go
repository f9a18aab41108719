package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/reload"
)

// Reloader reloads the flows served (*reload.Reloader).
type Reloader interface {
	Reload(ctx context.Context, cause string) (reload.Result, error)
	Status() reload.Status
}

// getFlows answers the services served, their versions, the versions
// kept for sessions that began on them, and the last refused reload.
func (s *Server) getFlows(c echo.Context) error {
	if s.cfg.Reload == nil {
		return apiErr(http.StatusNotFound, "flow reload is not available on this gateway")
	}
	return c.JSON(http.StatusOK, s.cfg.Reload.Status())
}

// reloadFlows loads and checks the flows again and swaps them in when
// they are valid. Invalid flows are refused with 422 and their problems;
// the services loaded before keep serving.
func (s *Server) reloadFlows(c echo.Context) error {
	if s.cfg.Reload == nil {
		return apiErr(http.StatusNotFound, "flow reload is not available on this gateway")
	}
	res, err := s.cfg.Reload.Reload(c.Request().Context(), reload.CauseAPI)
	if errors.Is(err, reload.ErrRefused) && res.Refused != nil {
		c.Set(auditDetail, "refused")
		e := &Error{Code: http.StatusUnprocessableEntity, Message: "flows not reloaded: the services loaded before keep serving"}
		for _, p := range res.Refused.Problems {
			e.Problems = append(e.Problems, Problem{Error: p})
		}
		if len(e.Problems) == 0 {
			e.Problems = []Problem{{Error: res.Refused.Error}}
		}
		if len(e.Problems) > maxProblems {
			e.More, e.Problems = len(e.Problems)-maxProblems, e.Problems[:maxProblems]
		}
		return e
	}
	if err != nil { // the caller went away before the reload began
		return apiErr(http.StatusServiceUnavailable, "reloading the flows: %v", err)
	}
	c.Set(auditTarget, "flows")
	return c.JSON(http.StatusOK, res)
}
