// Package jobs is the job-listings adapter (kind "jobs"): listings by
// region and category, newest first, a page at a time, and the detail of
// one listing with a ready-made SMS text. It must not import flows, ussd or
// a transport: flows call it, not the other way round.
//
// Its data is a document (see Doc and flows-examples/data/jobs.yaml) read
// from a file or fetched from a back-end URL. Region and category names
// and the SMS text are localized by the "lang" param; listings read as
// the employer posted them. See adapters/README.md for each op.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
	"github.com/ussdgw/ussdgw/adapters/internal/yamlx"
)

// Config is the configuration of a jobs instance.
type Config struct {
	source.Config `yaml:",inline"`
	// PageSize is the number of listings on a page when the call does not
	// say. Default 5.
	PageSize int `yaml:"page_size"`
	// MaxPageSize bounds the size param. Default 20.
	MaxPageSize int `yaml:"max_page_size"`
}

func defaults() *Config { return &Config{PageSize: 5, MaxPageSize: 20} }

// Kind returns the factory of the "jobs" kind.
func Kind() adapters.Factory {
	return adapters.Define(defaults, func(c *Config, in adapters.Instance) (adapters.Adapter, error) {
		return New(*c, in)
	})
}

// Doc is the data document: the shipped file, or what a back-end serves.
type Doc struct {
	Langs      []string  `yaml:"langs" json:"langs"`
	SMS        i18n.Text `yaml:"sms" json:"sms"`
	Regions    []Named   `yaml:"regions" json:"regions"`
	Categories []Named   `yaml:"categories" json:"categories"`
	Jobs       []Listing `yaml:"jobs" json:"jobs"`
}

// Named is a region or category.
type Named struct {
	ID   string    `yaml:"id" json:"id"`
	Name i18n.Text `yaml:"name" json:"name"`
}

// Listing is one job offer.
type Listing struct {
	ID          string `yaml:"id" json:"id"`
	Title       string `yaml:"title" json:"title"`
	Employer    string `yaml:"employer" json:"employer"`
	Region      string `yaml:"region" json:"region"`
	Category    string `yaml:"category" json:"category"`
	Location    string `yaml:"location" json:"location"`
	Pay         string `yaml:"pay" json:"pay"`
	Posted      string `yaml:"posted" json:"posted"`
	Closes      string `yaml:"closes" json:"closes"`
	Contact     string `yaml:"contact" json:"contact"`
	Description string `yaml:"description" json:"description"`
}

type data struct {
	langs      []string
	regions    []*named
	region     map[string]*named
	categories []*named
	category   map[string]*named
	job        map[string]*job
	// lists holds the listings newest first, by [region, category];
	// "" is any.
	lists map[[2]string][]*job
}

type named struct {
	id   string
	item map[string]map[string]any // lang → {id, name, count}
	name i18n.Text
}

type job struct {
	item   map[string]any            // {id, name, title, employer, location, pay, posted}
	detail map[string]map[string]any // lang → every field, names and sms
}

// Limits on what a listing shows, to fit a phone screen.
const (
	maxShort = 40  // title, employer, location, pay, contact
	maxDesc  = 160 // description, and each language's SMS text
)

var (
	idRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	refRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$`)
	varRE = regexp.MustCompile(`\{([a-z_]+)\}`)
)

// Load decodes and checks a jobs document.
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
	if err := i18n.CheckLangs(doc.Langs); err != nil {
		bad("langs", "%v", err)
		return nil, errors.Join(errs...)
	}
	def := doc.Langs[0]
	if err := doc.SMS.Check(doc.Langs); err != nil {
		bad("sms", "%v", err)
	}
	fields := map[string]bool{"id": true, "title": true, "employer": true, "region": true, "category": true,
		"location": true, "pay": true, "posted": true, "closes": true, "contact": true, "description": true}
	for _, t := range doc.SMS {
		for _, m := range varRE.FindAllStringSubmatch(t, -1) {
			if !fields[m[1]] {
				bad("sms", "unknown field {%s}", m[1])
			}
		}
	}
	d := &data{langs: doc.Langs, region: map[string]*named{}, category: map[string]*named{},
		job: map[string]*job{}, lists: map[[2]string][]*job{}}
	names := func(list []Named, key string, into map[string]*named) []*named {
		var out []*named
		for i, n := range list {
			p := yamlx.Item(key, i)
			if !idRE.MatchString(n.ID) {
				bad(yamlx.Join(p, "id"), "want a lower-case identifier, got %q", n.ID)
			} else if into[n.ID] != nil {
				bad(yamlx.Join(p, "id"), "%q is defined twice", n.ID)
			}
			if err := n.Name.Check(doc.Langs); err != nil {
				bad(yamlx.Join(p, "name"), "%v", err)
			}
			x := &named{id: n.ID, name: n.Name}
			into[n.ID] = x
			out = append(out, x)
		}
		return out
	}
	d.regions = names(doc.Regions, "regions", d.region)
	d.categories = names(doc.Categories, "categories", d.category)

	type dated struct {
		j      *job
		posted string
		id     string
		r, c   string
	}
	var all []dated
	for i, l := range doc.Jobs {
		p := yamlx.Item("jobs", i)
		if !refRE.MatchString(l.ID) {
			bad(yamlx.Join(p, "id"), "want a reference of letters, digits, - or _ (at most 16), got %q", l.ID)
		} else if d.job[strings.ToLower(l.ID)] != nil {
			bad(yamlx.Join(p, "id"), "listing %q is defined twice", l.ID)
		}
		for _, f := range []struct {
			key, val string
			max      int
		}{
			{"title", l.Title, maxShort}, {"employer", l.Employer, maxShort}, {"location", l.Location, maxShort},
			{"pay", l.Pay, maxShort}, {"contact", l.Contact, maxShort}, {"description", l.Description, maxDesc},
		} {
			switch n := utf8.RuneCountInString(f.val); {
			case strings.TrimSpace(f.val) == "":
				bad(yamlx.Join(p, f.key), "required")
			case n > f.max:
				bad(yamlx.Join(p, f.key), "%d characters, over %d", n, f.max)
			}
		}
		r, okr := d.region[l.Region]
		if !okr {
			bad(yamlx.Join(p, "region"), "unknown region %q", l.Region)
		}
		c, okc := d.category[l.Category]
		if !okc {
			bad(yamlx.Join(p, "category"), "unknown category %q", l.Category)
		}
		posted, err1 := time.Parse(time.DateOnly, l.Posted)
		if err1 != nil {
			bad(yamlx.Join(p, "posted"), "want a date like 2026-11-20, got %q", l.Posted)
		}
		closes, err2 := time.Parse(time.DateOnly, l.Closes)
		if err2 != nil {
			bad(yamlx.Join(p, "closes"), "want a date like 2026-11-20, got %q", l.Closes)
		} else if err1 == nil && closes.Before(posted) {
			bad(yamlx.Join(p, "closes"), "before the posting date")
		}
		if !okr || !okc {
			continue
		}
		j := &job{
			item: map[string]any{"id": l.ID, "name": l.Title, "title": l.Title, "employer": l.Employer,
				"location": l.Location, "pay": l.Pay, "posted": l.Posted},
			detail: map[string]map[string]any{},
		}
		for _, lang := range doc.Langs {
			m := map[string]any{
				"id": l.ID, "name": l.Title, "title": l.Title, "employer": l.Employer, "location": l.Location,
				"pay": l.Pay, "posted": l.Posted, "closes": l.Closes, "contact": l.Contact, "description": l.Description,
				"region_id": r.id, "region": r.name.In(lang, def), "category_id": c.id, "category": c.name.In(lang, def),
			}
			sms := varRE.ReplaceAllStringFunc(doc.SMS.In(lang, def), func(v string) string {
				s, _ := m[v[1:len(v)-1]].(string)
				return s
			})
			if n := utf8.RuneCountInString(sms); n > maxDesc {
				bad(p, "its SMS in %s has %d characters, over %d", lang, n, maxDesc)
			}
			m["sms"] = sms
			j.detail[lang] = m
		}
		d.job[strings.ToLower(l.ID)] = j
		all = append(all, dated{j, l.Posted, l.ID, r.id, c.id})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(all, func(a, b dated) int {
		if c := strings.Compare(b.posted, a.posted); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, x := range all {
		for _, k := range [][2]string{{"", ""}, {x.r, ""}, {"", x.c}, {x.r, x.c}} {
			d.lists[k] = append(d.lists[k], x.j)
		}
	}
	count := func(n *named, k [2]string) {
		n.item = map[string]map[string]any{}
		for _, lang := range doc.Langs {
			n.item[lang] = map[string]any{"id": n.id, "name": n.name.In(lang, def), "count": len(d.lists[k])}
		}
	}
	for _, r := range d.regions {
		count(r, [2]string{r.id, ""})
	}
	for _, c := range d.categories {
		count(c, [2]string{"", c.id})
	}
	return d, nil
}

// Adapter serves the listings of its current data set. It is safe for
// concurrent use.
type Adapter struct {
	source.Served[data]
	size    int
	maxSize int
}

var (
	_ adapters.Adapter   = (*Adapter)(nil)
	_ adapters.Starter   = (*Adapter)(nil)
	_ adapters.Stopper   = (*Adapter)(nil)
	_ adapters.Describer = (*Adapter)(nil)
)

// New returns a jobs adapter; a data file is read and checked now.
func New(c Config, in adapters.Instance) (*Adapter, error) {
	var errs []error
	if c.MaxPageSize < 1 || c.MaxPageSize > 50 {
		errs = append(errs, adapters.FieldErrorf("max_page_size", "want 1 to 50"))
	}
	if c.PageSize < 1 || c.PageSize > c.MaxPageSize {
		errs = append(errs, adapters.FieldErrorf("page_size", "want 1 to max_page_size (%d)", c.MaxPageSize))
	}
	src, err := source.New(c.Config, in, Load)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newAdapter(src, c.PageSize, c.MaxPageSize), nil
}

func newAdapter(src *source.Source[data], size, maxSize int) *Adapter {
	a := &Adapter{Served: source.Served[data]{Src: src}, size: size, maxSize: maxSize}
	a.Table = opset.New(
		opset.Op{OpSpec: adapters.OpSpec{Name: "regions", Optional: []string{"lang"}}, Fn: a.regions},
		opset.Op{OpSpec: adapters.OpSpec{Name: "categories", Optional: []string{"region", "lang"}}, Fn: a.categories},
		opset.Op{OpSpec: adapters.OpSpec{Name: "list", Optional: []string{"region", "category", "page", "size"}}, Fn: a.list},
		opset.Op{OpSpec: adapters.OpSpec{Name: "detail", Required: []string{"id"}, Optional: []string{"lang"}}, Fn: a.detail},
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

func (a *Adapter) categories(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(d.categories))
	rid := p["region"]
	if rid == "" {
		for _, c := range d.categories {
			out = append(out, c.item[lang])
		}
		return out, nil
	}
	if d.region[rid] == nil {
		return nil, opset.NotFound("no region %q", rid)
	}
	// Only the categories with listings in the region, with their count there.
	for _, c := range d.categories {
		if n := len(d.lists[[2]string{rid, c.id}]); n > 0 {
			out = append(out, map[string]any{"id": c.id, "name": c.item[lang]["name"], "count": n})
		}
	}
	return out, nil
}

func intParam(p map[string]string, name string, def, lo, hi int) (int, error) {
	s := p[name]
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, opset.Invalid(name, "want a number from %d to %d", lo, hi)
	}
	return n, nil
}

func (a *Adapter) list(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, _, err := a.data(p)
	if err != nil {
		return nil, err
	}
	page, err := intParam(p, "page", 1, 1, 1000)
	if err != nil {
		return nil, err
	}
	size, err := intParam(p, "size", a.size, 1, a.maxSize)
	if err != nil {
		return nil, err
	}
	r, c := p["region"], p["category"]
	if r != "" && d.region[r] == nil {
		return nil, opset.NotFound("no region %q", r)
	}
	if c != "" && d.category[c] == nil {
		return nil, opset.NotFound("no category %q", c)
	}
	all := d.lists[[2]string{r, c}]
	pages := (len(all) + size - 1) / size
	if len(all) == 0 {
		return nil, opset.NotFound("no listings")
	}
	if page > pages {
		return nil, opset.NotFound("no page %d (of %d)", page, pages)
	}
	window := all[(page-1)*size : min(page*size, len(all))]
	items := make([]any, len(window))
	for i, j := range window {
		items[i] = j.item
	}
	next := 0
	if page < pages {
		next = page + 1
	}
	return map[string]any{
		"items": items, "count": len(items), "total": len(all),
		"page": page, "pages": pages, "more": next > 0, "next": next,
	}, nil
}

func (a *Adapter) detail(_ context.Context, p map[string]string) (adapters.Result, error) {
	d, lang, err := a.data(p)
	if err != nil {
		return nil, err
	}
	j, ok := d.job[strings.ToLower(strings.TrimSpace(p["id"]))]
	if !ok {
		return nil, opset.NotFound("no listing %q", p["id"])
	}
	return j.detail[lang], nil
}
