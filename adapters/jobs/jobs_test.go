package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/adaptertest"
	"github.com/ussdgw/ussdgw/adapters/internal/source"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

const dataFile = "../../flows-examples/data/jobs.yaml"

func newShipped(t testing.TB, log *slog.Logger) *Adapter {
	t.Helper()
	c := defaults()
	c.File = dataFile
	a, err := New(*c, adapters.Instance{Deps: adapters.Deps{Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var p = adaptertest.Params

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, log *slog.Logger) adapters.Adapter { return newShipped(t, log) },
		OK: []adapters.Request{
			{Op: "regions", Params: p("lang", "sw")},
			{Op: "categories", Params: p("region", "coast", "lang", "fr")},
			{Op: "list", Params: p("region", "nairobi", "page", "2", "size", "2")},
			{Op: "list", Params: p("category", "health")},
			{Op: "detail", Params: p("id", "J1007", "lang", "sw")},
		},
		NotFound: []adapters.Request{
			{Op: "detail", Params: p("id", "J9999")},
			{Op: "list", Params: p("region", "mars")},
			{Op: "list", Params: p("region", "coast", "category", "transport")},
			{Op: "list", Params: p("page", "99")},
		},
		Invalid: []adapters.Request{
			{Op: "detail"},
			{Op: "list", Params: p("page", "0")},
			{Op: "list", Params: p("size", "many")},
			{Op: "list", Params: p("size", "21")},
		},
	})
}

func ids(res adapters.Result) string {
	var out []string
	for _, it := range res.(map[string]any)["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return strings.Join(out, ",")
}

func TestList(t *testing.T) {
	a := newShipped(t, slog.Default())
	tests := []struct {
		params                   map[string]string
		ids                      string
		page, pages, total, next int
		more                     bool
	}{
		{p(), "J1003,J1004,J1013,J1001,J1009", 1, 4, 20, 2, true},
		{p("page", "4"), "J1010,J1008,J1019,J1012,J1014", 4, 4, 20, 0, false},
		// Newest first, then by reference.
		{p("region", "nairobi", "size", "3"), "J1003,J1004,J1020", 1, 2, 5, 2, true},
		{p("region", "nairobi", "size", "3", "page", "2"), "J1017,J1010", 2, 2, 5, 0, false},
		{p("region", "rift_valley", "category", "agriculture"), "J1013,J1002", 1, 1, 2, 0, false},
		{p("category", "transport", "size", "20"), "J1020,J1011,J1012", 1, 1, 3, 0, false},
	}
	for _, tt := range tests {
		res, err := a.Call(context.Background(), adapters.Request{Op: "list", Params: tt.params})
		if err != nil {
			t.Errorf("%v: %v", tt.params, err)
			continue
		}
		m := res.(map[string]any)
		if got := ids(res); got != tt.ids || m["page"] != tt.page || m["pages"] != tt.pages ||
			m["total"] != tt.total || m["next"] != tt.next || m["more"] != tt.more || m["count"] != len(strings.Split(tt.ids, ",")) {
			t.Errorf("%v: got %s %v, want %s page %d/%d total %d next %d", tt.params, got, m, tt.ids, tt.page, tt.pages, tt.total, tt.next)
		}
	}
}

func TestDetailAndNames(t *testing.T) {
	a := newShipped(t, slog.Default())
	res, err := a.Call(context.Background(), adapters.Request{Op: "detail", Params: p("id", "j1006", "lang", "sw")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res)
	want := `{"category":"Hoteli na chakula","category_id":"hospitality","closes":"2026-12-12","contact":"SMS COOK to 22777","description":"Swahili and continental dishes. 2 years experience.","employer":"Bahari Beach Hotel","id":"J1006","location":"Diani","name":"Cook","pay":"KES 22,000/month","posted":"2026-11-21","region":"Pwani","region_id":"coast","sms":"Cook, Bahari Beach Hotel, Diani. KES 22,000/month. Omba kabla ya 2026-12-12: SMS COOK to 22777. Kumb J1006","title":"Cook"}`
	if string(got) != want {
		t.Errorf("detail\n got %s\nwant %s", got, want)
	}
	res, _ = a.Call(context.Background(), adapters.Request{Op: "categories", Params: p("region", "coast", "lang", "fr")})
	got, _ = json.Marshal(res)
	if want := `[{"count":1,"id":"construction","name":"Construction"},{"count":1,"id":"hospitality","name":"Hôtellerie"},{"count":1,"id":"health","name":"Santé"}]`; string(got) != want {
		t.Errorf("categories\n got %s\nwant %s", got, want)
	}
	res, _ = a.Call(context.Background(), adapters.Request{Op: "regions"})
	got, _ = json.Marshal(res)
	if want := `[{"count":5,"id":"nairobi","name":"Nairobi"},{"count":3,"id":"central","name":"Central"},{"count":5,"id":"rift_valley","name":"Rift Valley"},{"count":4,"id":"western","name":"Western \u0026 Nyanza"},{"count":3,"id":"coast","name":"Coast"}]`; string(got) != want {
		t.Errorf("regions\n got %s\nwant %s", got, want)
	}
}

func TestDataProblems(t *testing.T) {
	const doc = `langs: [en, sw]
sms: {en: "{title} {salary}", sw: "{title}"}
regions: [{id: nairobi, name: Nairobi}, {id: nairobi, name: {en: Again}}]
categories: [{id: sales, name: Sales}]
jobs:
  - {id: "bad id!", title: "", employer: E, region: nairobi, category: sales, location: L, pay: P,
     posted: 2026-11-20, closes: 2026-11-01, contact: C, description: D}
  - {id: J1, title: T, employer: E, region: mombasa, category: farming, location: L, pay: P,
     posted: 20-11-2026, closes: 2026-12-01, contact: C, description: D}
`
	_, err := Load("j.yaml", []byte(doc), false)
	want := []string{
		`j.yaml:2:6: sms: unknown field {salary} (bad-value)`,
		`j.yaml:3:46: regions[1].id: "nairobi" is defined twice (bad-value)`,
		`j.yaml:3:61: regions[1].name: missing text in sw (bad-value)`,
		`j.yaml:6:10: jobs[0].id: want a reference of letters, digits, - or _ (at most 16), got "bad id!" (bad-value)`,
		`j.yaml:6:28: jobs[0].title: required (bad-value)`,
		`j.yaml:7:34: jobs[0].closes: before the posting date (bad-value)`,
		`j.yaml:8:45: jobs[1].region: unknown region "mombasa" (bad-value)`,
		`j.yaml:8:64: jobs[1].category: unknown category "farming" (bad-value)`,
		`j.yaml:9:14: jobs[1].posted: want a date like 2026-11-20, got "20-11-2026" (bad-value)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestConfigProblems(t *testing.T) {
	c := Config{PageSize: 30, MaxPageSize: 20}
	c.File = dataFile
	_, err := New(c, adapters.Instance{})
	if err == nil || err.Error() != "page_size: want 1 to max_page_size (20)" {
		t.Errorf("New = %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, false)
	f.Add([]byte(`{"langs":["en"],"sms":"{title}","regions":[{"id":"r","name":"R"}],"categories":[{"id":"c","name":"C"}],"jobs":[{"id":"J1","title":"T","employer":"E","region":"r","category":"c","location":"L","pay":"P","posted":"2026-01-01","closes":"2026-01-02","contact":"C","description":"D"}]}`), true)
	f.Add([]byte("langs: [en]\njobs: [{}]\n"), false)
	f.Fuzz(func(t *testing.T, raw []byte, remote bool) {
		d, err := Load("f.yaml", raw, remote)
		if err != nil {
			return
		}
		a := newAdapter(source.FromData(d), 5, 20)
		for page := 1; ; page++ {
			res, err := a.Call(context.Background(), adapters.Request{Op: "list", Params: p("page", string(rune('0'+page)))})
			if err != nil || page > 9 {
				break
			}
			if cerr := adaptertest.CheckResult(res, -1); cerr != nil {
				t.Fatal(cerr)
			}
		}
	})
}

func BenchmarkList(b *testing.B) {
	a := newShipped(b, slog.Default())
	adaptertest.Bench(b, a, adapters.Request{Op: "list", Params: p("region", "rift_valley", "page", "1", "size", "5")})
}

func BenchmarkDetail(b *testing.B) {
	a := newShipped(b, slog.Default())
	adaptertest.Bench(b, a, adapters.Request{Op: "detail", Params: p("id", "J1013", "lang", "sw")})
}
