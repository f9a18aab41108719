package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/adaptertest"
	"github.com/ussdgw/ussdgw/adapters/internal/kvtest"
	"github.com/ussdgw/ussdgw/adapters/internal/source"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

const (
	dataFile = "../../flows-examples/data/health.yaml"
	user     = "254700000001"
)

// The tests' today: 2026-11-20, late evening in Nairobi (UTC+3), still
// the 20th in UTC.
var now = time.Date(2026, 11, 20, 22, 30, 0, 0, time.UTC)

func newShipped(t testing.TB, kv adapters.KV, log *slog.Logger) *Adapter {
	t.Helper()
	c := defaults()
	c.File = dataFile
	a, err := New(*c, adapters.Instance{Deps: adapters.Deps{KV: kv, Logger: log, Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var p = adaptertest.Params

func TestConformance(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Harness{
				New: func(t *testing.T, log *slog.Logger) adapters.Adapter {
					a := newShipped(t, st.KV, log)
					if _, err := a.Call(context.Background(), adapters.Request{Op: "register", Params: p("msisdn", user, "schedule", "child", "date", "09/10/2026")}); err != nil {
						t.Fatal(err)
					}
					return a
				},
				OK: []adapters.Request{
					{Op: "schedules", Params: p("lang", "sw")},
					{Op: "schedule", Params: p("schedule", "pregnancy", "lang", "fr")},
					{Op: "register", Params: p("msisdn", user, "schedule", "pregnancy", "date", "2027-03-01")},
					{Op: "status", Params: p("msisdn", user, "schedule", "child")},
					{Op: "next", Params: p("msisdn", user, "schedule", "child", "lang", "sw")},
					{Op: "upcoming", Params: p("msisdn", user, "schedule", "pregnancy", "limit", "3")},
				},
				NotFound: []adapters.Request{
					{Op: "next", Params: p("msisdn", "254700000999", "schedule", "child")},
					{Op: "schedule", Params: p("schedule", "dental")},
					{Op: "register", Params: p("msisdn", user, "schedule", "dental", "date", "2026-01-01")},
				},
				Invalid: []adapters.Request{
					{Op: "register", Params: p("msisdn", user, "schedule", "child", "date", "yesterday")},
					{Op: "register", Params: p("msisdn", user, "schedule", "child", "date", "2026-12-25")},
					{Op: "next", Params: p("msisdn", "not-a-number", "schedule", "child")},
					{Op: "upcoming", Params: p("msisdn", user, "schedule", "child", "limit", "0")},
				},
				Private: []string{user, "254700000999"},
			})
		})
	}
}

func call(t *testing.T, a *Adapter, op string, params map[string]string) (string, adapters.Kind) {
	t.Helper()
	res, err := a.Call(context.Background(), adapters.Request{Op: op, Params: params})
	if err != nil {
		if err := adaptertest.CheckResult(res, 182); err != nil {
			t.Error(err)
		}
		return err.Error(), adaptertest.ErrKind(t, err)
	}
	b, _ := json.Marshal(res)
	return string(b), 0
}

func TestRegistration(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			a := newShipped(t, st.KV, slog.Default())
			const mum, baby = "254711000001", "254711000002"
			steps := []struct {
				op     string
				params map[string]string
				want   string
				kind   adapters.Kind
			}{
				{"next", p("msisdn", mum, "schedule", "pregnancy"), "not_found: not registered for pregnancy", adapters.KindNotFound},
				// Due 2027-03-01: LMP 2026-05-25, 25 weeks today; the 3rd visit (week 26) is in 3 days.
				{"register", p("msisdn", "+"+mum, "schedule", "pregnancy", "date", "01/03/2027"),
					`{"date":"2027-03-01","date_is":"due","done":false,"name":"Pregnancy","next":"3rd antenatal visit","next_date":"2026-11-23","next_days":3,"next_id":"anc3","schedule":"pregnancy","week":25}`, 0},
				{"next", p("msisdn", mum, "schedule", "pregnancy", "lang", "sw"),
					`{"date":"2026-11-23","days":3,"id":"anc3","name":"Kliniki ya 3 ya ujauzito","now_week":25,"schedule":"pregnancy","week":26}`, 0},
				{"upcoming", p("msisdn", mum, "schedule", "pregnancy", "limit", "2", "lang", "fr"),
					`[{"date":"2026-11-23","id":"anc3","name":"3e consultation prénatale","week":26},{"date":"2026-12-21","id":"anc4","name":"4e consultation prénatale","week":30}]`, 0},
				// The same pregnancy by its last period.
				{"register", p("msisdn", mum, "schedule", "pregnancy", "date", "25052026", "date_is", "lmp"),
					`{"date":"2026-05-25","date_is":"lmp","done":false,"name":"Pregnancy","next":"3rd antenatal visit","next_date":"2026-11-23","next_days":3,"next_id":"anc3","schedule":"pregnancy","week":25}`, 0},
				// Born 6 weeks ago today: the 6-week vaccines are due today.
				{"register", p("msisdn", baby, "schedule", "child", "date", "9.10.2026", "lang", "fr"),
					`{"date":"2026-10-09","date_is":"birth","done":false,"name":"Vaccins de l'enfant","next":"VPO 1, Penta 1, PCV 1, Rota 1","next_date":"2026-11-20","next_days":0,"next_id":"w6","schedule":"child","week":6}`, 0},
				{"status", p("msisdn", baby, "schedule", "child"),
					`{"date":"2026-10-09","date_is":"birth","done":false,"name":"Child vaccines","next":"OPV 1, Penta 1, PCV 1, Rota 1","next_date":"2026-11-20","next_days":0,"next_id":"w6","schedule":"child","week":6}`, 0},
				// A child of two has had every vaccine of the schedule.
				{"register", p("msisdn", baby, "schedule", "child", "date", "2024-11-01"),
					`{"date":"2024-11-01","date_is":"birth","done":true,"name":"Child vaccines","schedule":"child","week":107}`, 0},
				{"next", p("msisdn", baby, "schedule", "child"), "not_found: the child schedule is complete", adapters.KindNotFound},
				{"upcoming", p("msisdn", baby, "schedule", "child"), `[]`, 0},
				{"unregister", p("msisdn", baby, "schedule", "child"), `{"removed":true,"schedule":"child"}`, 0},
				{"status", p("msisdn", baby, "schedule", "child"), "not_found: not registered for child", adapters.KindNotFound},
				{"unregister", p("msisdn", baby, "schedule", "child"), "not_found: not registered for child", adapters.KindNotFound},
			}
			for _, s := range steps {
				got, kind := call(t, a, s.op, s.params)
				if got != s.want || kind != s.kind {
					t.Errorf("%s %v:\n got %v %s\nwant %v %s", s.op, s.params, kind, got, s.kind, s.want)
				}
			}
		})
	}
}

func TestRegisterInvalid(t *testing.T) {
	a := newShipped(t, kvtest.Stores(t)[0].KV, slog.Default())
	tests := []struct {
		params map[string]string
		want   string
	}{
		{p("schedule", "child", "date", "2026-11-21"), "param date: a birth date cannot be in the future"},
		{p("schedule", "child", "date", "2021-11-19"), "param date: more than 5 years ago"},
		{p("schedule", "pregnancy", "date", "2027-09-20"), "param date: a due date is at most 42 weeks away"},
		{p("schedule", "pregnancy", "date", "2026-11-01"), "param date: a due date more than 2 weeks ago"},
		{p("schedule", "pregnancy", "date", "2026-11-21", "date_is", "lmp"), "param date: a last period cannot be in the future"},
		{p("schedule", "pregnancy", "date", "2025-12-01", "date_is", "lmp"), "param date: a last period more than 42 weeks ago"},
		{p("schedule", "pregnancy", "date", "2027-01-01", "date_is", "birth"), "param date_is: the pregnancy schedule takes due or lmp"},
		{p("schedule", "child", "date", "31/02/2026"), "param date: want a date like 20/11/2026"},
		{p("schedule", "child", "date", "2026-10-01", "msisdn", "12345"), "param msisdn: not a phone number"},
	}
	for _, tt := range tests {
		params := p("msisdn", user)
		for k, v := range tt.params {
			params[k] = v
		}
		got, kind := call(t, a, "register", params)
		if kind != adapters.KindInvalid || got != "invalid: "+tt.want {
			t.Errorf("%v: %v %s, want %s", tt.params, kind, got, tt.want)
		}
	}
}

// What "today" is follows the configured zone: at 22:30 UTC on the 20th it
// is already the 21st in Nairobi, and a birth on the 21st is not future.
func TestTimeZone(t *testing.T) {
	c := defaults()
	c.File, c.TZ = dataFile, "Africa/Nairobi"
	kv := kvtest.Stores(t)[0].KV
	a, err := New(*c, adapters.Instance{Deps: adapters.Deps{KV: kv, Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	got, kind := call(t, a, "register", p("msisdn", user, "schedule", "child", "date", "2026-11-21"))
	if kind != 0 || !strings.Contains(got, `"next_id":"birth"`) {
		t.Errorf("register = %v %s", kind, got)
	}
	c.TZ = "Mars/Olympus"
	if _, err := New(*c, adapters.Instance{Deps: adapters.Deps{KV: kv}}); err == nil || err.Error() != `tz: unknown time zone "Mars/Olympus"` {
		t.Errorf("New = %v", err)
	}
	c.TZ = "UTC"
	if _, err := New(*c, adapters.Instance{}); err == nil || !strings.Contains(err.Error(), "needs the gateway's store") {
		t.Errorf("New without a KV = %v", err)
	}
}

type brokenKV struct{ adapters.KV }

func (brokenKV) Get(ctx context.Context, keys ...string) ([][]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (brokenKV) Set(context.Context, string, []byte, time.Duration) error {
	return errWrite
}

var errWrite = &writeErr{}

type writeErr struct{}

func (*writeErr) Error() string { return "write health:{254700000001}:child: READONLY replica" }

func TestStoreFailures(t *testing.T) {
	a := newShipped(t, brokenKV{}, slog.Default())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := a.Call(ctx, adapters.Request{Op: "next", Params: p("msisdn", user, "schedule", "child")})
	if adapters.KindOf(err) != adapters.KindTimeout {
		t.Errorf("a hanging store: %v", err)
	}
	_, err = a.Call(context.Background(), adapters.Request{Op: "register", Params: p("msisdn", user, "schedule", "child", "date", "2026-11-01")})
	if adapters.KindOf(err) != adapters.KindUnavailable || strings.Contains(err.Error(), user) {
		t.Errorf("a failing store: %v", err)
	}
}

func TestDataProblems(t *testing.T) {
	const doc = `langs: [en, sw]
schedules:
  - id: child
    name: Child
    anchor: conception
    items:
      - {id: a, week: 10, name: A}
      - {id: a, week: 6, name: {en: B}}
  - {id: child, name: Again, anchor: birth, items: []}
`
	_, err := Load("h.yaml", []byte(doc), false)
	want := []string{
		`h.yaml:5:13: schedules[0].anchor: want lmp or birth, got "conception" (bad-value)`,
		`h.yaml:8:14: schedules[0].items[1].id: want a lower-case identifier not used before in the schedule, got "a" (bad-value)`,
		`h.yaml:8:23: schedules[0].items[1].week: items must be in the order they fall due (bad-value)`,
		`h.yaml:8:32: schedules[0].items[1].name: missing text in sw (bad-value)`,
		`h.yaml:9:10: schedules[1].id: schedule "child" is defined twice (bad-value)`,
		`h.yaml:9:52: schedules[1].items: required (bad-value)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func FuzzLoad(f *testing.F) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, false)
	f.Add([]byte(`{"langs":["en"],"schedules":[{"id":"c","name":"C","anchor":"birth","items":[{"id":"a","week":0,"name":"A"}]}]}`), true)
	f.Add([]byte("langs: [en]\nschedules: [{items: [{week: -1}]}]\n"), false)
	f.Fuzz(func(t *testing.T, raw []byte, remote bool) {
		d, err := Load("f.yaml", raw, remote)
		if err != nil {
			return
		}
		a := newAdapter(source.FromData(d), nil, time.UTC, 0, time.Now)
		for _, s := range d.schedules {
			res, err := a.Call(context.Background(), adapters.Request{Op: "schedule", Params: p("schedule", s.id)})
			if err != nil {
				t.Fatal(err)
			}
			if err := adaptertest.CheckResult(res, -1); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func BenchmarkNext(b *testing.B) {
	for _, st := range kvtest.Stores(b) {
		b.Run(st.Name, func(b *testing.B) {
			a := newShipped(b, st.KV, slog.Default())
			ctx := context.Background()
			if _, err := a.Call(ctx, adapters.Request{Op: "register", Params: p("msisdn", user, "schedule", "child", "date", "2026-10-09")}); err != nil {
				b.Fatal(err)
			}
			adaptertest.Bench(b, a, adapters.Request{Op: "next", Params: p("msisdn", user, "schedule", "child", "lang", "sw")})
		})
	}
}
