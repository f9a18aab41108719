package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/analytics"
)

// Analytics reports a service's analytics (*analytics.Store).
type Analytics interface {
	Report(ctx context.Context, service string, from, to time.Time) (analytics.Report, error)
}

var _ Analytics = (*analytics.Store)(nil)

// getAnalytics answers GET /analytics/:service?from=&to=[&format=csv]
// and GET /analytics/:service/export.csv: the service's counts over the
// days from..to (YYYY-MM-DD in the service's time zone; both default to
// today, from to to), as JSON or CSV (docs/analytics.md).
func (s *Server) getAnalytics(c echo.Context) error {
	if s.cfg.Analytics == nil {
		return apiErr(http.StatusNotFound, "analytics are off on this gateway")
	}
	id := c.Param("service")
	f, ok := s.cfg.Flows().Flow(id)
	if !ok {
		return apiErr(http.StatusNotFound, "no service %q", id)
	}
	loc := f.Location()
	today := s.cfg.Now().In(loc)
	var ps []Problem
	date := func(field string, def time.Time) time.Time {
		v := c.QueryParam(field)
		if v == "" {
			return def
		}
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			ps = append(ps, Problem{Field: field, Value: v, Error: "not a date (YYYY-MM-DD)"})
		}
		return t
	}
	to := date("to", today)
	from := date("from", to)
	format := c.QueryParam("format")
	if c.Path() == Prefix+"/analytics/:service/export.csv" {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" {
		ps = append(ps, Problem{Field: "format", Value: format, Error: "json or csv"})
	}
	if len(ps) == 0 {
		if to.Before(from) {
			ps = append(ps, Problem{Field: "to", Value: to.Format("2006-01-02"), Error: "before from"})
		} else if days := int(to.Sub(from).Hours()/24+0.5) + 1; days > analytics.MaxDays {
			ps = append(ps, Problem{Field: "from", Value: from.Format("2006-01-02"), Error: "more than 400 days before to"})
		}
	}
	if len(ps) > 0 {
		return invalid("analytics", ps)
	}
	r, err := s.cfg.Analytics.Report(c.Request().Context(), id, from, to)
	if err != nil {
		return s.unavailable(c, "reading analytics", err)
	}
	if format != "csv" {
		return c.JSON(http.StatusOK, r)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+id+"-"+r.From+"-"+r.To+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return analytics.WriteCSV(c.Response(), r)
}
