package prices

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/adaptertest"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

const dataFile = "../../flows-examples/data/prices.yaml"

func newShipped(t testing.TB, log *slog.Logger) *Adapter {
	t.Helper()
	a, err := New(Config{}.with(dataFile), adapters.Instance{Deps: adapters.Deps{Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (c Config) with(file string) Config {
	c.File = file
	return c
}

var p = adaptertest.Params

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, log *slog.Logger) adapters.Adapter { return newShipped(t, log) },
		OK: []adapters.Request{
			{Op: "commodities"},
			{Op: "commodities", Params: p("market", "owino", "lang", "sw")},
			{Op: "markets", Params: p("region", "rift_valley")},
			{Op: "regions", Params: p("lang", "fr")},
			{Op: "region", Params: p("region", "rift_valley", "commodity", "maize")},
			{Op: "latest", Params: p("commodity", "maize", "market", "kisumu", "lang", "sw")},
			{Op: "compare", Params: p("commodity", "beans", "order", "desc")},
		},
		NotFound: []adapters.Request{
			{Op: "latest", Params: p("commodity", "gold", "market", "kisumu")},
			{Op: "latest", Params: p("commodity", "maize", "market", "timbuktu")},
			{Op: "latest", Params: p("commodity", "green_grams", "market", "gulu")},
			{Op: "markets", Params: p("region", "atlantis")},
			{Op: "region", Params: p("region", "coast", "commodity", "sorghum")},
		},
		Invalid: []adapters.Request{
			{Op: "latest", Params: p("commodity", "maize")},
			{Op: "compare", Params: p("commodity", "maize", "order", "sideways")},
			{Op: "region"},
		},
	})
}

func TestOps(t *testing.T) {
	a := newShipped(t, slog.Default())
	tests := []struct {
		name string
		req  adapters.Request
		want string // JSON of the result
		kind adapters.Kind
	}{
		{"latest", adapters.Request{Op: "latest", Params: p("commodity", "maize", "market", "kisumu")},
			`{"change":"+4%","commodity":"Maize","commodity_id":"maize","currency":"KES","date":"2026-11-20","market":"Kisumu Kibuye","market_id":"kisumu","prev":"3,350","price":"3,500","region":"Nyanza","region_id":"nyanza","trend":"up","unit":"90kg bag","value":3500}`, 0},
		{"latest in French", adapters.Request{Op: "latest", Params: p("commodity", "maize", "market", "arusha", "lang", "fr")},
			`{"change":"+3%","commodity":"Maïs","commodity_id":"maize","currency":"TZS","date":"2026-11-20","market":"Arusha","market_id":"arusha","prev":"70 000","price":"72 000","region":"Arusha","region_id":"arusha","trend":"up","unit":"sac de 100 kg","value":72000}`, 0},
		{"latest falls back to the default language", adapters.Request{Op: "latest", Params: p("commodity", "maize", "market", "eldoret", "lang", "ha")},
			`{"change":"-2%","commodity":"Maize","commodity_id":"maize","currency":"KES","date":"2026-11-20","market":"Eldoret","market_id":"eldoret","prev":"2,950","price":"2,900","region":"Rift Valley","region_id":"rift_valley","trend":"down","unit":"90kg bag","value":2900}`, 0},
		{"value of a harvest", adapters.Request{Op: "value", Params: p("commodity", "maize", "market", "eldoret", "quantity", "12", "lang", "sw")},
			`{"commodity":"Mahindi","currency":"KES","date":"2026-11-20","market":"Eldoret","price":"2,900","quantity":"12","total":"34,800","unit":"gunia la kilo 90","value":34800}`, 0},
		{"commodities at a market", adapters.Request{Op: "commodities", Params: p("market", "gulu", "lang", "sw")},
			`[{"id":"maize","name":"Mahindi","unit":"gunia la kilo 90"},{"id":"beans","name":"Maharagwe","unit":"gunia la kilo 90"},{"id":"sorghum","name":"Mtama","unit":"gunia la kilo 90"}]`, 0},
		{"markets of a region", adapters.Request{Op: "markets", Params: p("region", "rift_valley")},
			`[{"currency":"KES","id":"eldoret","name":"Eldoret","region":"Rift Valley","region_id":"rift_valley"},{"currency":"KES","id":"nakuru","name":"Nakuru","region":"Rift Valley","region_id":"rift_valley"}]`, 0},
		{"markets pricing a commodity", adapters.Request{Op: "markets", Params: p("commodity", "green_grams")},
			`[{"currency":"KES","id":"wakulima","name":"Nairobi Wakulima","region":"Nairobi","region_id":"nairobi"},{"currency":"KES","id":"kongowea","name":"Mombasa Kongowea","region":"Coast","region_id":"coast"}]`, 0},
		{"markets of a region pricing nothing asked", adapters.Request{Op: "markets", Params: p("region", "coast", "commodity", "sorghum")},
			`[]`, 0},
		{"region", adapters.Request{Op: "region", Params: p("region", "nyanza", "lang", "sw")},
			`{"country":"KE","id":"nyanza","markets":1,"name":"Nyanza"}`, 0},
		{"region with a commodity", adapters.Request{Op: "region", Params: p("region", "rift_valley", "commodity", "maize")},
			`{"commodity":"Maize","commodity_id":"maize","country":"KE","currency":"KES","high":"3,100","high_market":"Nakuru","high_unit":"90kg bag","id":"rift_valley","low":"2,900","low_market":"Eldoret","low_unit":"90kg bag","markets":2,"name":"Rift Valley"}`, 0},
		{"compare sorts by price per kg across currencies", adapters.Request{Op: "compare", Params: p("commodity", "maize")},
			`["dodoma","eldoret","gulu","nakuru","arusha","wakulima","kariakoo","owino","kisumu","kongowea"]`, 0},
		{"compare dearest first in a region", adapters.Request{Op: "compare", Params: p("commodity", "maize", "region", "rift_valley", "order", "desc")},
			`[{"change":"0%","currency":"KES","date":"2026-11-19","id":"nakuru","name":"Nakuru","per_kg":"KES 34.44","price":"3,100","trend":"same","unit":"90kg bag","value":3100},{"change":"-2%","currency":"KES","date":"2026-11-20","id":"eldoret","name":"Eldoret","per_kg":"KES 32.22","price":"2,900","trend":"down","unit":"90kg bag","value":2900}]`, 0},
		{"unknown commodity", adapters.Request{Op: "latest", Params: p("commodity", "gold", "market", "kisumu")}, "", adapters.KindNotFound},
		{"no price at that market", adapters.Request{Op: "latest", Params: p("commodity", "rice", "market", "gulu")}, "", adapters.KindNotFound},
		{"missing market", adapters.Request{Op: "latest", Params: p("commodity", "rice")}, "", adapters.KindInvalid},
		{"bad order", adapters.Request{Op: "compare", Params: p("commodity", "rice", "order", "up")}, "", adapters.KindInvalid},
		{"value of no quantity", adapters.Request{Op: "value", Params: p("commodity", "maize", "market", "eldoret", "quantity", "-3")}, "", adapters.KindInvalid},
		{"value with no price there", adapters.Request{Op: "value", Params: p("commodity", "rice", "market", "eldoret", "quantity", "3")}, "", adapters.KindNotFound},
		{"unknown op", adapters.Request{Op: "history"}, "", adapters.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Call(context.Background(), tt.req)
			if k := adaptertest.ErrKind(t, err); k != tt.kind {
				t.Fatalf("kind %v (%v), want %v", k, err, tt.kind)
			}
			if tt.kind != 0 {
				return
			}
			if strings.HasPrefix(tt.want, `["`) { // just the ids, in order
				var ids []string
				for _, it := range res.([]any) {
					ids = append(ids, it.(map[string]any)["id"].(string))
				}
				res = ids
			}
			got, _ := json.Marshal(res)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDataProblems(t *testing.T) {
	const doc = `langs: [en, fr]
base_currency: KES
fx: {KES: 1, TZS: 0}
units:
  - {id: bag90, kg: 0, name: {en: 90kg bag}}
regions:
  - {id: nairobi, country: KE, name: Nairobi}
  - {id: Coast, name: {en: Coast, fr: Côte, de: Küste}}
markets:
  - {id: wakulima, name: Wakulima, region: nairobi, currency: KES}
  - {id: wakulima, name: Again, region: rift, currency: USD}
commodities:
  - {id: maize, unit: sack, name: Maize}
prices: []
bogus: 1
`
	_, err := Load("p.yaml", []byte(doc), false)
	want := []string{
		"p.yaml:15:1: bogus: unknown key (known: base_currency, commodities, fx, langs, markets, prices, regions, units) (unknown-field)",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("decode problems:\n%v", err)
	}
	_, err = Load("p.yaml", []byte(strings.Replace(doc, "bogus: 1\n", "", 1)), false)
	want = []string{
		"p.yaml:5:30: units[0].name: missing text in fr (bad-value)",
		"p.yaml:5:21: units[0].kg: must be positive (bad-value)",
		"p.yaml:8:10: regions[1].id: want a lower-case identifier, got \"Coast\" (bad-value)",
		"p.yaml:8:23: regions[1].name: language \"de\" is not declared in langs (bad-value)",
		"p.yaml:8:5: regions[1].country: required (bad-value)",
		"p.yaml:11:10: markets[1].id: market \"wakulima\" is defined twice (bad-value)",
		"p.yaml:11:41: markets[1].region: unknown region \"rift\" (bad-value)",
		"p.yaml:11:57: markets[1].currency: currency \"USD\" has no rate in fx (bad-value)",
		"p.yaml:13:23: commodities[0].unit: unknown unit \"sack\" (bad-value)",
		"p.yaml:3:19: fx.TZS: must be a positive rate (bad-value)",
	}
	if err == nil {
		t.Fatal("no problems")
	}
	got := strings.Split(err.Error(), "\n")
	// fx is a map: its problems come in any order, and this one is last.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestPriceProblems(t *testing.T) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw) + `  - {commodity: gold, market: owino, date: 2026-11-20, price: 1}
  - {commodity: maize, market: owino, date: 20/11/2026, price: -1, prev: -2}
  - {commodity: maize, market: gulu, date: 2026-11-20, price: 1, unit: tonne}
`
	_, err = Load("p.yaml", []byte(doc), false)
	if err == nil {
		t.Fatal("no problems")
	}
	for _, want := range []string{
		`prices[35].commodity: unknown commodity "gold"`,
		`prices[36].date: want a date like 2026-11-20, got "20/11/2026"`,
		`prices[36].price: must be positive`,
		`prices[36].prev: must not be negative`,
		`prices[36]: a second price of maize at owino`,
		`prices[37].unit: unknown unit "tonne"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

// A back-end serving the same document as JSON feeds the adapter.
func TestFromURL(t *testing.T) {
	raw, _ := os.ReadFile(dataFile)
	d, _, err := sourceDecode(raw)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(d)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	c := Config{}
	c.URL = srv.URL + "/prices.json"
	a, err := New(c, adapters.Instance{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(context.Background(), adapters.Request{Op: "commodities"}); adapters.KindOf(err) != adapters.KindUnavailable {
		t.Errorf("before Start: %v", err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	fromURL, err := a.Call(context.Background(), adapters.Request{Op: "latest", Params: p("commodity", "beans", "market", "owino", "lang", "sw")})
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _ := newShipped(t, slog.Default()).Call(context.Background(), adapters.Request{Op: "latest", Params: p("commodity", "beans", "market", "owino", "lang", "sw")})
	if !reflect.DeepEqual(fromURL, fromFile) {
		t.Errorf("from URL %v\nfrom file %v", fromURL, fromFile)
	}
}

func TestBuild(t *testing.T) {
	var n yamlNode
	n.parse(t, "prices: {kind: prices, file: prices.yaml}\nbad: {kind: prices, file: prices.yaml, url: \"http://x\"}\n")
	_, err := adapters.Build(adapters.Kinds{"prices": Kind()}, "gw.yaml", n.Node, adapters.Deps{Dir: "../../flows-examples/data"})
	if err == nil || err.Error() != `gw.yaml:2:45: adapters.bad.url: set file or url, not both (bad-value)` {
		t.Errorf("Build = %v", err)
	}
	n.parse(t, "prices: {kind: prices, file: prices.yaml}\n")
	reg, err := adapters.Build(adapters.Kinds{"prices": Kind()}, "gw.yaml", n.Node, adapters.Deps{Dir: "../../flows-examples/data"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Call(context.Background(), "prices", adapters.Request{Op: "latest", Params: p("commodity", "rice", "market", "owino")}); err != nil {
		t.Error(err)
	}
}

func FuzzLoad(f *testing.F) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, false)
	f.Add([]byte(`{"langs":["en"],"base_currency":"KES","fx":{"KES":1},"units":[{"id":"kg","kg":1,"name":"kg"}],"regions":[{"id":"r","name":"R","country":"KE"}],"markets":[{"id":"m","name":"M","region":"r","currency":"KES"}],"commodities":[{"id":"c","name":"C","unit":"kg"}],"prices":[{"commodity":"c","market":"m","date":"2026-01-01","price":1}]}`), true)
	f.Add([]byte("langs: [en]\nprices: [{}]\n"), false)
	f.Add([]byte("{"), true)
	f.Add([]byte("fx: {KES: 1e400}\n"), false)
	f.Fuzz(func(t *testing.T, raw []byte, remote bool) {
		d, err := Load("f.yaml", raw, remote)
		if err != nil {
			return
		}
		a := newAdapter(sourceFrom(d))
		for _, c := range d.commodities {
			for _, m := range d.markets {
				res, err := a.Call(context.Background(), adapters.Request{Op: "latest", Params: p("commodity", c.id, "market", m.id)})
				if err == nil {
					if cerr := adaptertest.CheckResult(res, -1); cerr != nil {
						t.Fatal(cerr)
					}
				}
			}
			res, err := a.Call(context.Background(), adapters.Request{Op: "compare", Params: p("commodity", c.id)})
			if err != nil || adaptertest.CheckResult(res, -1) != nil {
				t.Fatalf("compare %s: %v", c.id, err)
			}
		}
	})
}

func BenchmarkLatest(b *testing.B) {
	a := newShipped(b, slog.Default())
	adaptertest.Bench(b, a, adapters.Request{Op: "latest", Params: p("commodity", "maize", "market", "kisumu", "lang", "sw")})
}

func BenchmarkCompare(b *testing.B) {
	a := newShipped(b, slog.Default())
	adaptertest.Bench(b, a, adapters.Request{Op: "compare", Params: p("commodity", "maize", "lang", "fr")})
}

func TestQuotes(t *testing.T) {
	q := newShipped(t, logcheck.New(t)).Quotes()
	if len(q) < 10 {
		t.Fatalf("%d quotes", len(q))
	}
	for i := 1; i < len(q); i++ {
		if q[i-1].Commodity > q[i].Commodity || (q[i-1].Commodity == q[i].Commodity && q[i-1].Market >= q[i].Market) {
			t.Fatalf("not sorted at %d: %+v %+v", i, q[i-1], q[i])
		}
	}
	var found bool
	for _, x := range q {
		if x.Commodity == "maize" && x.Market == "eldoret" {
			found = true
			if x.Currency != "KES" || x.Unit != "90kg bag" || x.Price <= 0 || x.Date == "" {
				t.Fatalf("%+v", x)
			}
		}
	}
	if !found {
		t.Fatal("no maize at eldoret")
	}
}
