package alerts

import (
	"context"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

// memConsent holds subscriptions by topic, in a fixed order.
type memConsent struct {
	topics map[string][]struct {
		msisdn string
		s      Subscription
	}
}

func (m *memConsent) add(msisdn string, s Subscription) {
	if m.topics == nil {
		m.topics = map[string][]struct {
			msisdn string
			s      Subscription
		}{}
	}
	m.topics[s.Topic] = append(m.topics[s.Topic], struct {
		msisdn string
		s      Subscription
	}{msisdn, s})
}

func (m *memConsent) Subscribers(_ context.Context, topic string, fn func(string, Subscription) error) error {
	for _, x := range m.topics[topic] {
		if err := fn(x.msisdn, x.s); err != nil {
			return err
		}
	}
	return nil
}

// memOutbox records what is enqueued and drops duplicate ids, as the
// outbox does.
type memOutbox struct {
	mu    sync.Mutex
	byID  map[string]Message
	calls int
	sizes []int
}

func (o *memOutbox) Enqueue(_ context.Context, msgs ...Message) ([]string, int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byID == nil {
		o.byID = map[string]Message{}
	}
	o.calls++
	o.sizes = append(o.sizes, len(msgs))
	dups := 0
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
		if _, ok := o.byID[m.ID]; ok {
			dups++
			continue
		}
		o.byID[m.ID] = m
	}
	return ids, dups, nil
}

// Cancel is not used by these tests (abandon_test.go uses the outbox).
func (o *memOutbox) Cancel(context.Context, string) error { return nil }

func (o *memOutbox) group(g string) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Message
	for _, m := range o.byID {
		if m.Group == g {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MSISDN < out[j].MSISDN })
	return out
}

func newAlerts(t *testing.T, c *memConsent, o *memOutbox, now *time.Time) *Alerts {
	rdb, prefix := redistest.Open(t)
	set, err := flows.Load("../flows-examples", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Redis: rdb, Prefix: prefix, Consent: c, Outbox: o, Flows: func() *flows.Set { return set },
		Now: func() time.Time { return *now }, Log: logcheck.New(t)})
}

// 10,000 subscribers of one topic with thresholds 0, 2, 5 and 10 percent
// and four languages: each change reaches exactly those whose threshold it
// passes, each once, in their language.
func TestPriceAlert10k(t *testing.T) {
	t.Run("memory", func(t *testing.T) { priceAlert10k(t, false) })
	t.Run("consent registry", func(t *testing.T) { priceAlert10k(t, true) })
}

func priceAlert10k(t *testing.T, real bool) {
	c := &memConsent{}
	thresholds := []string{"", "2", "5", "10"}
	langs := []string{"en", "fr", "sw", "am"} // am: the flow has it, the built-in text does not: English
	lang := map[string]string{}
	thr := map[string]string{}
	for i := 0; i < 10000; i++ {
		n := fmt.Sprintf("2547%08d", i)
		lang[n], thr[n] = langs[i%4], thresholds[(i/4)%4]
		c.add(n, Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Maize Eldoret", Lang: lang[n],
			Params: map[string]string{"threshold": thr[n]}})
	}
	c.add("254799999999", Subscription{Service: "market", Topic: "prices:beans:eldoret", Lang: "en"}) // another topic
	c.add("254799999998", Subscription{Service: "gone", Topic: "prices:maize:eldoret", Lang: "en"})   // a service no longer loaded
	o := &memOutbox{}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	a := newAlerts(t, c, o, &now)
	ctx := context.Background()
	if real {
		// The same subscribers in the consent registry on Redis, subscribed
		// 16 at a time.
		reg := consent.New(a.cfg.Redis, a.cfg.Prefix, consent.Options{})
		a.cfg.Consent = reg
		var all []struct {
			msisdn string
			s      Subscription
		}
		for _, x := range c.topics {
			all = append(all, x...)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(all); i += 16 {
					x := all[i]
					x.s.Channel = "ussd"
					if err := reg.Subscribe(ctx, x.msisdn, x.s); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	price := func(p float64) Run {
		t.Helper()
		run, err := a.Price(ctx, Price{Commodity: "maize", Market: "eldoret", Price: p, Currency: "KES", Unit: "bag", Date: "2026-11-30"})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	if run := price(3000); run.Previous != nil || run.Matched != 0 || o.calls != 0 {
		t.Fatalf("the baseline alerted: %+v", run)
	}
	a.cfg.Names = func(_ context.Context, commodity, market, lang string) (string, string, bool) {
		if lang == "fr" && commodity == "maize" {
			return "Maïs", "Eldoret", true
		}
		return "", "", false
	}
	// The market service's price_alert texts (fr goes as GSM 7-bit:
	// the service replaces ï by i).
	words := map[string]string{"en": "Price alert: Maize at Eldoret is KES", "fr": "Alerte prix : Mais à Eldoret est à KES",
		"sw": "Taarifa ya bei: Maize Eldoret ni KES", "am": "የዋጋ ማሳወቂያ፦ Maize በEldoret KES"}
	check := func(run Run, pct float64, passes func(threshold string) bool) {
		t.Helper()
		if run.ChangePct != pct || run.Subscribers != 10001 || run.Skipped != 1 {
			t.Fatalf("run %+v", run)
		}
		want := 0
		for _, th := range thr {
			if passes(th) {
				want++
			}
		}
		msgs := o.group(run.ID)
		if run.Matched != want+1 || run.Queued != want || len(msgs) != want {
			t.Fatalf("matched %d, queued %d, %d messages; want %d", run.Matched, run.Queued, len(msgs), want)
		}
		for _, m := range msgs {
			if !passes(thr[m.MSISDN]) {
				t.Fatalf("%s with threshold %q got an alert of %v%%", m.MSISDN, thr[m.MSISDN], pct)
			}
			if !strings.HasPrefix(m.Text, words[lang[m.MSISDN]]) {
				t.Fatalf("%s (%s) got %q", m.MSISDN, lang[m.MSISDN], m.Text)
			}
			if m.ID != run.ID+":"+m.MSISDN || m.Kind != "alert" || m.Priority != Bulk || m.Service != "market" {
				t.Fatalf("message %+v", m)
			}
		}
		for _, size := range o.sizes {
			if size > 1000 {
				t.Fatalf("a batch of %d", size)
			}
		}
	}
	run := price(3120) // +4%: thresholds 0 and 2
	check(run, 4, func(th string) bool { return th == "" || th == "2" })
	if !strings.Contains(o.group(run.ID)[1].Text, "Mais à Eldoret est à KES 3120 (+4.0%) le 2026-11-30.") {
		t.Fatalf("fr text %q", o.group(run.ID)[1].Text)
	}
	if run := price(3120); run.ChangePct != 0 || run.Matched != 0 {
		t.Fatalf("no change alerted: %+v", run)
	}
	check(price(2808), -10, func(string) bool { return true }) // -10%: everyone
}

func TestDigest(t *testing.T) {
	c := &memConsent{}
	c.add("254711000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Mahindi Eldoret", Lang: "sw", Params: map[string]string{"digest": "yes"}})
	c.add("254711000001", Subscription{Service: "market", Topic: "prices:beans:kisumu", Label: "Maharagwe Kisumu", Lang: "sw", Params: map[string]string{"digest": "yes"}})
	c.add("254711000002", Subscription{Service: "market", Topic: "prices:beans:kisumu", Label: "Beans Kisumu", Lang: "en", Params: map[string]string{"digest": "yes", "threshold": "50"}})
	c.add("254711000003", Subscription{Service: "market", Topic: "prices:beans:kisumu", Lang: "en"})                                           // no digest
	c.add("254711000004", Subscription{Service: "market", Topic: "prices:rice:owino", Lang: "en", Params: map[string]string{"digest": "yes"}}) // stale price
	o := &memOutbox{}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	a := newAlerts(t, c, o, &now)
	ctx := context.Background()
	for _, p := range []Price{{Commodity: "rice", Market: "owino", Price: 4000, Currency: "UGX"}} {
		if _, err := a.Price(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(48 * time.Hour)
	for _, p := range []Price{
		{Commodity: "maize", Market: "eldoret", Price: 3000, Currency: "KES"},
		{Commodity: "beans", Market: "kisumu", Price: 8000, Currency: "KES"},
		{Commodity: "beans", Market: "kisumu", Price: 8400, Currency: "KES"},
	} {
		if _, err := a.Price(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	run, err := a.Digest(ctx, "market", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	msgs := o.group("digest:market:2026-11-30")
	if run.Queued != 2 || len(msgs) != 2 {
		t.Fatalf("run %+v, %d messages", run, len(msgs))
	}
	want := []string{
		digestSW + " Mahindi Eldoret KES 3000",
		digestEN,
	}
	for i, m := range msgs {
		if m.Text != want[i] || m.Kind != "digest" {
			t.Errorf("%s got %q, want %q", m.MSISDN, m.Text, want[i])
		}
	}
	// Run again (a retry after a failure): nothing new is queued.
	run, err = a.Digest(ctx, "market", "2026-11-30")
	if err != nil || run.Queued != 0 || run.Dups != 2 {
		t.Fatalf("second digest: %+v %v", run, err)
	}
}

func TestNormalize(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	a := New(Config{Now: func() time.Time { return now }})
	p, err := a.Normalize(Price{Commodity: " Maize ", Market: "ELDORET", Price: 1, Currency: "kes"})
	if err != nil || p.Commodity != "maize" || p.Market != "eldoret" || p.Currency != "KES" || p.Date != "2026-11-30" || p.Topic() != "prices:maize:eldoret" {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestWatch(t *testing.T) {
	c := &memConsent{}
	c.add("254711000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "en"})
	c.add("254711000002", Subscription{Service: "market", Topic: "prices:beans:kisumu", Lang: "en"})
	o := &memOutbox{}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	a := newAlerts(t, c, o, &now)
	ctx := context.Background()
	// beans at kisumu was posted through the API already.
	if _, err := a.Price(ctx, Price{Commodity: "beans", Market: "kisumu", Price: 8000}); err != nil {
		t.Fatal(err)
	}
	data := []Price{{Commodity: "maize", Market: "eldoret", Price: 2900}, {Commodity: "beans", Market: "kisumu", Price: 7000}}
	w := &watcher{a: a, read: func() []Price { return data }}
	if runs := w.step(ctx); len(runs) != 1 || runs[0].Topic != "prices:maize:eldoret" || runs[0].Previous != nil || len(o.byID) != 0 {
		t.Fatalf("first read: %+v, %d messages", runs, len(o.byID))
	}
	if runs := w.step(ctx); len(runs) != 0 {
		t.Fatalf("nothing changed: %+v", runs)
	}
	data = []Price{{Commodity: "maize", Market: "eldoret", Price: 3190}, {Commodity: "beans", Market: "kisumu", Price: 7000}}
	runs := w.step(ctx)
	if len(runs) != 1 || runs[0].ChangePct != 10 || runs[0].Queued != 1 {
		t.Fatalf("maize changed: %+v", runs)
	}
	if m := o.group(runs[0].ID); len(m) != 1 || m[0].MSISDN != "254711000001" {
		t.Fatalf("%+v", m)
	}
	// A second instance reading the same change alerts nobody again.
	w2 := &watcher{a: a, read: func() []Price { return data }, last: map[string]Price{"prices:maize:eldoret": {Price: 2900}, "prices:beans:kisumu": {Price: 7000}}}
	if runs := w2.step(ctx); len(runs) != 1 || runs[0].ChangePct != 0 || runs[0].Matched != 0 {
		t.Fatalf("second instance: %+v", runs)
	}
}

// What the market service's digest says.
const (
	digestSW = "Bei za 2026-11-30: Beans Kisumu KES 8400 (+5.0% tangu wiki iliyopita). Piga *384# kwa zaidi."
	digestEN = "Prices on 2026-11-30: Beans at Kisumu KES 8400 (+5.0% on last week). Dial *384# for more."
)

// The digest goes at the service's digest_at (07:00 in Nairobi for the
// market service), once a day however many instances tick.
func TestTickClaimsOncePerDay(t *testing.T) {
	c := &memConsent{}
	c.add("254711000001", Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "en", Params: map[string]string{"digest": "yes"}})
	o := &memOutbox{}
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC) // 06:00 in Nairobi
	a := newAlerts(t, c, o, &now)
	b := New(a.cfg) // a second instance on the same Redis
	ctx := context.Background()
	if _, err := a.Price(ctx, Price{Commodity: "maize", Market: "eldoret", Price: 3000, Currency: "KES"}); err != nil {
		t.Fatal(err)
	}
	a.Tick(ctx)
	if len(o.byID) != 0 {
		t.Fatal("a digest before its time")
	}
	now = now.Add(65 * time.Minute) // 07:05
	var wg sync.WaitGroup
	for _, x := range []*Alerts{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); x.Tick(ctx) }()
	}
	wg.Wait()
	if len(o.byID) != 1 || o.calls != 1 {
		t.Fatalf("%d digests in %d Enqueue calls, want 1 in 1", len(o.byID), o.calls)
	}
	if _, ok := o.byID["digest:market:2026-11-30:254711000001"]; !ok {
		t.Fatalf("%v", o.byID)
	}
	now = now.Add(24*time.Hour + 3*time.Hour) // the next day, 10:05: too late to catch up
	b.Tick(ctx)
	if len(o.byID) != 1 {
		t.Fatal("a digest three hours late")
	}
}

type failingOutbox struct{ memOutbox }

func (o *failingOutbox) Enqueue(ctx context.Context, msgs ...Message) ([]string, int, error) {
	o.mu.Lock()
	n := o.calls
	o.mu.Unlock()
	if n >= 2 {
		return nil, 0, fmt.Errorf("connection refused")
	}
	return o.memOutbox.Enqueue(ctx, msgs...)
}

// The outbox failing part-way through a run is an error of the run.
func TestPriceOutboxFails(t *testing.T) {
	c := &memConsent{}
	for i := 0; i < 5000; i++ {
		c.add(fmt.Sprintf("2547%08d", i), Subscription{Service: "market", Topic: "prices:maize:eldoret", Lang: "en"})
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	a := newAlerts(t, c, &memOutbox{}, &now)
	a.cfg.Outbox = &failingOutbox{}
	ctx := context.Background()
	if _, err := a.Price(ctx, Price{Commodity: "maize", Market: "eldoret", Price: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Price(ctx, Price{Commodity: "maize", Market: "eldoret", Price: 120}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err %v", err)
	}
}
