package studio

import (
	"net/http/httptest"
	"testing"
	"time"
)

// The report's dates are the service's calendar days: at 21:30 UTC it is
// already the next day in Nairobi (UTC+3), and a date asked for is that
// day there, whatever the offset.
func TestReportRange(t *testing.T) {
	nairobi := time.FixedZone("EAT", 3*3600)
	lima := time.FixedZone("PET", -5*3600)
	now := time.Date(2026, 11, 30, 21, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		query    string
		loc      *time.Location
		from, to string
		err      bool
	}{
		{"", nairobi, "2026-11-25", "2026-12-01", false},
		{"", time.UTC, "2026-11-24", "2026-11-30", false},
		{"?from=2026-11-30&to=2026-11-30", nairobi, "2026-11-30", "2026-11-30", false},
		{"?from=2026-11-30&to=2026-11-30", lima, "2026-11-30", "2026-11-30", false},
		{"?from=2026-12-01", lima, "2026-12-01", "2026-11-30", true}, // after its today
		{"?to=30-11-2026", nairobi, "", "", true},
	} {
		r := httptest.NewRequest("GET", "/studio/api/report/market"+c.query, nil)
		from, to, err := reportRange(r, now, c.loc)
		if c.err {
			if err == nil {
				t.Errorf("%s in %s: no error", c.query, c.loc)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s in %s: %v", c.query, c.loc, err)
			continue
		}
		if got := from.In(c.loc).Format(time.DateOnly); got != c.from {
			t.Errorf("%s in %s: from %s, want %s", c.query, c.loc, got, c.from)
		}
		if got := to.In(c.loc).Format(time.DateOnly); got != c.to {
			t.Errorf("%s in %s: to %s, want %s", c.query, c.loc, got, c.to)
		}
	}
}
