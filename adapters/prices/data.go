package prices

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
)

// Doc is the data document: the shipped file, or what a back-end serves
// at the configured URL (as JSON, same keys).
type Doc struct {
	Langs        []string           `yaml:"langs" json:"langs"`
	BaseCurrency string             `yaml:"base_currency" json:"base_currency"`
	FX           map[string]float64 `yaml:"fx" json:"fx"`
	Units        []Unit             `yaml:"units" json:"units"`
	Regions      []Region           `yaml:"regions" json:"regions"`
	Markets      []Market           `yaml:"markets" json:"markets"`
	Commodities  []Commodity        `yaml:"commodities" json:"commodities"`
	Prices       []Price            `yaml:"prices" json:"prices"`
}

// Unit is a unit of sale.
type Unit struct {
	ID   string    `yaml:"id" json:"id"`
	Name i18n.Text `yaml:"name" json:"name"`
	KG   float64   `yaml:"kg" json:"kg"`
}

// Region groups markets of one country.
type Region struct {
	ID      string    `yaml:"id" json:"id"`
	Name    i18n.Text `yaml:"name" json:"name"`
	Country string    `yaml:"country" json:"country"`
}

// Market is a market place.
type Market struct {
	ID       string    `yaml:"id" json:"id"`
	Name     i18n.Text `yaml:"name" json:"name"`
	Region   string    `yaml:"region" json:"region"`
	Currency string    `yaml:"currency" json:"currency"`
}

// Commodity is a crop or product, with the unit it is usually sold by.
type Commodity struct {
	ID   string    `yaml:"id" json:"id"`
	Name i18n.Text `yaml:"name" json:"name"`
	Unit string    `yaml:"unit" json:"unit"`
}

// Price is the latest price of a commodity at a market, with the price a
// week earlier.
type Price struct {
	Commodity string  `yaml:"commodity" json:"commodity"`
	Market    string  `yaml:"market" json:"market"`
	Date      string  `yaml:"date" json:"date"`
	Price     float64 `yaml:"price" json:"price"`
	Prev      float64 `yaml:"prev" json:"prev"`
	Unit      string  `yaml:"unit" json:"unit"` // default: the commodity's
}

// data is a checked Doc with its indexes and the answers pre-built in
// every language, so that a lookup allocates little.
type data struct {
	langs []string

	commodities []*commodity
	commodity   map[string]*commodity
	markets     []*market
	market      map[string]*market
	regions     []*region
	region      map[string]*region
	price       map[pair]*price
}

type pair struct{ commodity, market string }

type commodity struct {
	id     string
	unit   Unit
	item   map[string]map[string]any // lang → {id, name, unit}
	prices []*price                  // cheapest per kg (in the base currency) first
	name   i18n.Text
}

type market struct {
	id       string
	currency string
	region   *region
	item     map[string]map[string]any // lang → {id, name, region, region_id, currency}
	name     i18n.Text
}

type region struct {
	id      string
	country string
	name    i18n.Text
	markets []*market
	item    map[string]map[string]any // lang → {id, name, country, markets}
}

type price struct {
	commodity *commodity
	market    *market
	value     float64
	perKG     float64 // in the base currency, to rank markets
	latest    map[string]map[string]any
	compared  map[string]map[string]any
	quote     Quote
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Load decodes and checks a prices document; problems come back all at
// once, positioned in the file.
func Load(name string, raw []byte, remote bool) (*data, error) {
	doc, ix, err := source.Decode[Doc](name, raw, remote)
	if err != nil {
		return nil, err
	}
	return compile(doc, ix)
}

func compile(doc *Doc, ix *yamlx.Index) (*data, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, ix.Problem(path, fmt.Sprintf(format, args...)))
	}
	checkText := func(path string, t i18n.Text) {
		if err := t.Check(doc.Langs); err != nil {
			bad(path, "%v", err)
		}
	}
	seen := map[string]bool{}
	checkID := func(path, kind, id string) {
		switch {
		case !idRE.MatchString(id):
			bad(path, "want a lower-case identifier, got %q", id)
		case seen[kind+" "+id]:
			bad(path, "%s %q is defined twice", kind, id)
		}
		seen[kind+" "+id] = true
	}
	if err := i18n.CheckLangs(doc.Langs); err != nil {
		bad("langs", "%v", err)
	}
	if doc.BaseCurrency == "" {
		bad("base_currency", "required")
	}
	units := map[string]Unit{}
	for i, u := range doc.Units {
		p := yamlx.Item("units", i)
		checkID(yamlx.Join(p, "id"), "unit", u.ID)
		checkText(yamlx.Join(p, "name"), u.Name)
		if u.KG <= 0 {
			bad(yamlx.Join(p, "kg"), "must be positive")
		}
		units[u.ID] = u
	}
	d := &data{
		langs: doc.Langs, commodity: map[string]*commodity{}, market: map[string]*market{},
		region: map[string]*region{}, price: map[pair]*price{},
	}
	for i, r := range doc.Regions {
		p := yamlx.Item("regions", i)
		checkID(yamlx.Join(p, "id"), "region", r.ID)
		checkText(yamlx.Join(p, "name"), r.Name)
		if r.Country == "" {
			bad(yamlx.Join(p, "country"), "required")
		}
		rg := &region{id: r.ID, country: r.Country, name: r.Name}
		d.regions = append(d.regions, rg)
		d.region[r.ID] = rg
	}
	currency := map[string]string{} // region → currency of its markets
	for i, m := range doc.Markets {
		p := yamlx.Item("markets", i)
		checkID(yamlx.Join(p, "id"), "market", m.ID)
		checkText(yamlx.Join(p, "name"), m.Name)
		rg, ok := d.region[m.Region]
		if !ok {
			bad(yamlx.Join(p, "region"), "unknown region %q", m.Region)
		}
		if _, ok := doc.FX[m.Currency]; !ok {
			bad(yamlx.Join(p, "currency"), "currency %q has no rate in fx", m.Currency)
		}
		if c, ok := currency[m.Region]; ok && c != m.Currency {
			bad(yamlx.Join(p, "currency"), "region %q has markets in %s and %s", m.Region, c, m.Currency)
		}
		currency[m.Region] = m.Currency
		mk := &market{id: m.ID, currency: m.Currency, region: rg, name: m.Name}
		if rg != nil {
			rg.markets = append(rg.markets, mk)
		}
		d.markets = append(d.markets, mk)
		d.market[m.ID] = mk
	}
	cunit := map[string]string{}
	for i, c := range doc.Commodities {
		p := yamlx.Item("commodities", i)
		checkID(yamlx.Join(p, "id"), "commodity", c.ID)
		checkText(yamlx.Join(p, "name"), c.Name)
		if _, ok := units[c.Unit]; !ok {
			bad(yamlx.Join(p, "unit"), "unknown unit %q", c.Unit)
		}
		cunit[c.ID] = c.Unit
		cm := &commodity{id: c.ID, unit: units[c.Unit], name: c.Name}
		d.commodities = append(d.commodities, cm)
		d.commodity[c.ID] = cm
	}
	for cur, rate := range doc.FX {
		if rate <= 0 || math.IsInf(rate, 0) {
			bad(yamlx.Join("fx", cur), "must be a positive rate")
		}
	}
	if len(errs) > 0 { // the prices would only repeat these problems
		return nil, errors.Join(errs...)
	}
	for i, pr := range doc.Prices {
		p := yamlx.Item("prices", i)
		cm, okc := d.commodity[pr.Commodity]
		if !okc {
			bad(yamlx.Join(p, "commodity"), "unknown commodity %q", pr.Commodity)
		}
		mk, okm := d.market[pr.Market]
		if !okm {
			bad(yamlx.Join(p, "market"), "unknown market %q", pr.Market)
		}
		unit := pr.Unit
		if unit == "" {
			unit = cunit[pr.Commodity]
		}
		u, oku := units[unit]
		if !oku {
			bad(yamlx.Join(p, "unit"), "unknown unit %q", unit)
		}
		if _, err := time.Parse(time.DateOnly, pr.Date); err != nil {
			bad(yamlx.Join(p, "date"), "want a date like 2026-11-20, got %q", pr.Date)
		}
		if pr.Price <= 0 || math.IsInf(pr.Price, 0) {
			bad(yamlx.Join(p, "price"), "must be positive")
		}
		if pr.Prev < 0 || math.IsInf(pr.Prev, 0) {
			bad(yamlx.Join(p, "prev"), "must not be negative")
		}
		if !okc || !okm || !oku {
			continue
		}
		k := pair{pr.Commodity, pr.Market}
		if _, dup := d.price[k]; dup {
			bad(p, "a second price of %s at %s", pr.Commodity, pr.Market)
			continue
		}
		x := &price{commodity: cm, market: mk, value: pr.Price, perKG: pr.Price / u.KG * doc.FX[mk.currency],
			quote: Quote{Commodity: cm.id, Market: mk.id, Price: pr.Price, Currency: mk.currency, Unit: u.Name.In(doc.Langs[0], doc.Langs[0]), Date: pr.Date}}
		x.build(doc, pr, u)
		d.price[k] = x
		cm.prices = append(cm.prices, x)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d.build(doc)
	return d, nil
}

// number is v as an int when it is whole, for flows that compare it.
func number(v float64) any {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return int(v)
	}
	return v
}

func trend(change float64) string {
	switch {
	case math.Round(change*100) > 0:
		return "up"
	case math.Round(change*100) < 0:
		return "down"
	}
	return "same"
}

func (x *price) build(doc *Doc, pr Price, u Unit) {
	cur := x.market.currency
	change := 0.0
	if pr.Prev > 0 {
		change = (pr.Price - pr.Prev) / pr.Prev
	}
	x.latest = map[string]map[string]any{}
	x.compared = map[string]map[string]any{}
	for _, l := range doc.Langs {
		common := map[string]any{
			"price":    i18n.Number(pr.Price, l),
			"value":    number(pr.Price),
			"currency": cur,
			"unit":     u.Name.In(l, doc.Langs[0]),
			"date":     pr.Date,
			"change":   i18n.Percent(change),
			"trend":    trend(change),
		}
		latest := map[string]any{
			"commodity_id": x.commodity.id,
			"commodity":    x.commodity.name.In(l, doc.Langs[0]),
			"market_id":    x.market.id,
			"market":       x.market.name.In(l, doc.Langs[0]),
			"prev":         i18n.Number(pr.Prev, l),
		}
		if x.market.region != nil {
			latest["region_id"] = x.market.region.id
			latest["region"] = x.market.region.name.In(l, doc.Langs[0])
		}
		compared := map[string]any{
			"id":     x.market.id,
			"name":   x.market.name.In(l, doc.Langs[0]),
			"per_kg": doc.BaseCurrency + " " + i18n.Number(x.perKG, l),
		}
		for k, v := range common {
			latest[k] = v
			compared[k] = v
		}
		x.latest[l] = latest
		x.compared[l] = compared
	}
}

func (d *data) build(doc *Doc) {
	def := doc.Langs[0]
	for _, cm := range d.commodities {
		slices.SortStableFunc(cm.prices, func(a, b *price) int {
			switch {
			case a.perKG < b.perKG:
				return -1
			case a.perKG > b.perKG:
				return 1
			}
			return 0
		})
		cm.item = map[string]map[string]any{}
		for _, l := range doc.Langs {
			cm.item[l] = map[string]any{"id": cm.id, "name": cm.name.In(l, def), "unit": cm.unit.Name.In(l, def)}
		}
	}
	for _, rg := range d.regions {
		rg.item = map[string]map[string]any{}
		for _, l := range doc.Langs {
			rg.item[l] = map[string]any{"id": rg.id, "name": rg.name.In(l, def), "country": rg.country, "markets": len(rg.markets)}
		}
	}
	for _, mk := range d.markets {
		mk.item = map[string]map[string]any{}
		for _, l := range doc.Langs {
			mk.item[l] = map[string]any{
				"id": mk.id, "name": mk.name.In(l, def), "currency": mk.currency,
				"region_id": mk.region.id, "region": mk.region.name.In(l, def),
			}
		}
	}
}
