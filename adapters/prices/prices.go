// Package prices is the market-prices adapter (kind "prices"): the latest
// wholesale price of a commodity at a market, with its unit, currency,
// date and change over a week; the commodities, markets and regions to
// choose from; and a commodity compared across markets. It must not import
// flows, ussd or a transport: flows call it, not the other way round.
//
// Its data is a document (see Doc and flows-examples/data/prices.yaml)
// read from a file or fetched from a back-end URL. Answers are localized
// by the "lang" param, falling back to the document's first language.
// See adapters/README.md for each op's params and result.
package prices

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
)

// Config is the configuration of a prices instance: where its data comes
// from.
type Config struct {
	source.Config `yaml:",inline"`
}

// Kind returns the factory of the "prices" kind.
func Kind() adapters.Factory {
	return adapters.Define(func() *Config { return &Config{} }, func(c *Config, in adapters.Instance) (adapters.Adapter, error) {
		return New(*c, in)
	})
}

// Adapter answers price questions from its current data set. It is safe
// for concurrent use.
type Adapter struct {
	source.Served[data]
}

var (
	_ adapters.Adapter   = (*Adapter)(nil)
	_ adapters.Starter   = (*Adapter)(nil)
	_ adapters.Stopper   = (*Adapter)(nil)
	_ adapters.Describer = (*Adapter)(nil)
)

// New returns a prices adapter; a data file is read and checked now.
func New(c Config, in adapters.Instance) (*Adapter, error) {
	src, err := source.New(c.Config, in, Load)
	if err != nil {
		return nil, err
	}
	return newAdapter(src), nil
}

func newAdapter(src *source.Source[data]) *Adapter {
	a := &Adapter{Served: source.Served[data]{Src: src}}
	a.Table = opset.New(
		opset.Op{OpSpec: adapters.OpSpec{Name: "commodities", Optional: []string{"market", "lang"}}, Fn: a.commodities},
		opset.Op{OpSpec: adapters.OpSpec{Name: "markets", Optional: []string{"region", "commodity", "lang"}}, Fn: a.markets},
		opset.Op{OpSpec: adapters.OpSpec{Name: "regions", Optional: []string{"lang"}}, Fn: a.regions},
		opset.Op{OpSpec: adapters.OpSpec{Name: "region", Required: []string{"region"}, Optional: []string{"commodity", "lang"}}, Fn: a.region},
		opset.Op{OpSpec: adapters.OpSpec{Name: "latest", Required: []string{"commodity", "market"}, Optional: []string{"lang"}}, Fn: a.latest},
		opset.Op{OpSpec: adapters.OpSpec{Name: "compare", Required: []string{"commodity"}, Optional: []string{"region", "order", "lang"}}, Fn: a.compare},
		opset.Op{OpSpec: adapters.OpSpec{Name: "value", Required: []string{"commodity", "market", "quantity"}, Optional: []string{"lang"}}, Fn: a.value},
	)
	return a
}

func (a *Adapter) data(p map[string]string) (*data, string, error) {
	d := a.Src.Current()
	if d == nil {
		return nil, "", source.NotLoaded
	}
	return d, i18n.Pick(p["lang"], d.langs), nil
}

func (d *data) lookupCommodity(id string) (*commodity, error) {
	if c, ok := d.commodity[id]; ok {
		return c, nil
	}
	return nil, opset.NotFound("no commodity %q", id)
}

func (d *data) lookupMarket(id string) (*market, error) {
	if m, ok := d.market[id]; ok {
		return m, nil
	}
	return nil, opset.NotFound("no market %q", id)
}

func (d *data) lookupRegion(id string) (*region, error) {
	if r, ok := d.region[id]; ok {
		return r, nil
	}
	return nil, opset.NotFound("no region %q", id)
}

func (a *Adapter) commodities(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	var m *market
	if id := p["market"]; id != "" {
		if m, err = d.lookupMarket(id); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(d.commodities))
	for _, c := range d.commodities {
		if m == nil || d.price[pair{c.id, m.id}] != nil {
			out = append(out, c.item[lang])
		}
	}
	return out, nil
}

func (a *Adapter) markets(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	list := d.markets
	if id := p["region"]; id != "" {
		r, err := d.lookupRegion(id)
		if err != nil {
			return nil, err
		}
		list = r.markets
	}
	var c *commodity
	if id := p["commodity"]; id != "" {
		if c, err = d.lookupCommodity(id); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(list))
	for _, m := range list {
		if c == nil || d.price[pair{c.id, m.id}] != nil {
			out = append(out, m.item[lang])
		}
	}
	return out, nil
}

func (a *Adapter) regions(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(d.regions))
	for i, r := range d.regions {
		out[i] = r.item[lang]
	}
	return out, nil
}

func (a *Adapter) region(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	r, err := d.lookupRegion(p["region"])
	if err != nil {
		return nil, err
	}
	id := p["commodity"]
	if id == "" {
		return r.item[lang], nil
	}
	c, err := d.lookupCommodity(id)
	if err != nil {
		return nil, err
	}
	var low, high *price
	for _, x := range c.prices { // cheapest first
		if x.market.region != r {
			continue
		}
		if low == nil {
			low = x
		}
		high = x
	}
	if low == nil {
		return nil, opset.NotFound("no price of %s in region %s", c.id, r.id)
	}
	out := make(map[string]any, len(r.item[lang])+7)
	for k, v := range r.item[lang] {
		out[k] = v
	}
	lo, hi := low.latest[lang], high.latest[lang]
	out["commodity_id"] = c.id
	out["commodity"] = lo["commodity"]
	out["low"], out["low_unit"], out["low_market"] = lo["price"], lo["unit"], lo["market"]
	out["high"], out["high_unit"], out["high_market"] = hi["price"], hi["unit"], hi["market"]
	out["currency"] = lo["currency"]
	return out, nil
}

func (a *Adapter) latest(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	if x, ok := d.price[pair{p["commodity"], p["market"]}]; ok {
		return x.latest[lang], nil
	}
	c, err := d.lookupCommodity(p["commodity"])
	if err != nil {
		return nil, err
	}
	m, err := d.lookupMarket(p["market"])
	if err != nil {
		return nil, err
	}
	return nil, opset.NotFound("no price of %s at %s", c.id, m.id)
}

// value is what a quantity (in the commodity's unit at that market) is
// worth at the latest price: a farmer's "what will my harvest fetch?".
func (a *Adapter) value(ctx context.Context, p map[string]string) (adapters.Result, error) {
	q, err := strconv.ParseFloat(strings.Replace(strings.TrimSpace(p["quantity"]), ",", ".", 1), 64)
	if err != nil || q <= 0 || q > 1e6 || math.IsNaN(q) {
		return nil, opset.Invalid("quantity", "want a number above 0 and at most 1000000, got %q", p["quantity"])
	}
	res, err := a.latest(ctx, p)
	if err != nil {
		return nil, err
	}
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	x := d.price[pair{p["commodity"], p["market"]}]
	l := res.(map[string]any)
	return map[string]any{
		"commodity": l["commodity"], "market": l["market"], "unit": l["unit"], "currency": l["currency"],
		"price": l["price"], "date": l["date"],
		"quantity": i18n.Number(q, lang),
		"total":    i18n.Number(math.Round(q*x.value), lang),
		"value":    number(math.Round(q * x.value)),
	}, nil
}

func (a *Adapter) compare(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	desc := false
	switch p["order"] {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return nil, opset.Invalid("order", "want asc or desc")
	}
	c, err := d.lookupCommodity(p["commodity"])
	if err != nil {
		return nil, err
	}
	var r *region
	if id := p["region"]; id != "" {
		if r, err = d.lookupRegion(id); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(c.prices))
	for i := range c.prices {
		x := c.prices[i]
		if desc {
			x = c.prices[len(c.prices)-1-i]
		}
		if r == nil || x.market.region == r {
			out = append(out, x.compared[lang])
		}
	}
	return out, nil
}

// Quote is one price as the data has it, for price alerts: ids as the
// subscription topics spell them, the unit's name in the data's first
// language.
type Quote struct {
	Commodity, Market string
	Price             float64
	Currency, Unit    string
	Date              string // YYYY-MM-DD
}

// Quotes returns the prices of the current data, by commodity then
// market; nil before the data is loaded. The price alerts poll it to
// alert on what a refresh of the file or URL changed.
func (a *Adapter) Quotes() []Quote {
	d := a.Src.Current()
	if d == nil {
		return nil
	}
	out := make([]Quote, 0, len(d.price))
	for _, x := range d.price {
		out = append(out, x.quote)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Commodity != out[j].Commodity {
			return out[i].Commodity < out[j].Commodity
		}
		return out[i].Market < out[j].Market
	})
	return out
}
