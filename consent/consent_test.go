package consent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/consent"
)

// backend is one Redis to run the tests against, with a prefix unique to
// the test whose keys are deleted at the end.
type backend struct {
	name   string
	c      redis.UniversalClient
	prefix string
	mini   *miniredis.Miniredis
}

var (
	realOnce sync.Once
	realURL  string
)

// realRedis returns the URL of the shared real Redis: REDIS_URL, or
// 127.0.0.1:6379 when it answers; "" when there is none.
func realRedis() string {
	realOnce.Do(func() {
		u := os.Getenv("REDIS_URL")
		if u == "" {
			u = "redis://127.0.0.1:6379/0"
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c.Ping(ctx).Err() == nil {
			realURL = u
		}
	})
	return realURL
}

func backends(t testing.TB) []backend {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:consent:" + hex.EncodeToString(b) + ":"
	m := miniredis.RunT(t)
	mc := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { mc.Close() })
	out := []backend{{name: "miniredis", c: mc, prefix: prefix, mini: m}}
	if cb, ok := clusterBackend(t, prefix); ok {
		out = append(out, cb)
	}
	u := realRedis()
	if u == "" {
		t.Log("no Redis at REDIS_URL or 127.0.0.1:6379: miniredis only")
		return out
	}
	opt, _ := redis.ParseURL(u)
	rc := redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			rc.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
		rc.Close()
	})
	return append(out, backend{name: "redis", c: rc, prefix: prefix})
}

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func TestSubscribeListUnsubscribe(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: t0}
			r := consent.New(b.c, b.prefix, consent.Options{Now: clk.Now})
			const m = "254700000001"
			maize := consent.Subscription{Service: "market", Topic: "prices:maize:eldoret", Label: "Maize at Eldoret", Lang: "sw", Channel: "ussd", Params: map[string]string{"threshold": "5", "note": "a&b=c d"}}
			beans := consent.Subscription{Service: "market", Topic: "prices:beans:nakuru", Label: "Beans at Nakuru", Lang: "sw", Channel: "ussd"}
			rem := consent.Subscription{Service: "health", Topic: "health:reminders", Label: "Reminders", Lang: "en", Channel: "sms", Params: map[string]string{"kind": "pregnancy"}}
			for _, s := range []consent.Subscription{maize, rem, beans} {
				if err := r.Subscribe(ctx, m, s); err != nil {
					t.Fatal(err)
				}
				clk.Add(time.Minute)
			}
			got, err := r.Subscriptions(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			var topics []string
			for _, s := range got {
				topics = append(topics, s.Service+"/"+s.Topic)
			}
			if want := "health/health:reminders market/prices:beans:nakuru market/prices:maize:eldoret"; strings.Join(topics, " ") != want {
				t.Fatalf("subscriptions %v, want %s", topics, want)
			}
			wantMaize := maize
			wantMaize.At = t0
			if !reflect.DeepEqual(got[2], wantMaize) {
				t.Errorf("maize came back as %+v, want %+v", got[2], wantMaize)
			}

			// A new threshold replaces the old subscription, not adds one.
			maize.Params = map[string]string{"threshold": "10"}
			if err := r.Subscribe(ctx, m, maize); err != nil {
				t.Fatal(err)
			}
			var seen []consent.Subscription
			if err := r.Subscribers(ctx, "prices:maize:eldoret", func(msisdn string, s consent.Subscription) error {
				if msisdn != m {
					t.Errorf("subscriber %s", msisdn)
				}
				seen = append(seen, s)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || seen[0].Params["threshold"] != "10" || seen[0].Lang != "sw" || seen[0].Service != "market" {
				t.Errorf("subscribers of maize: %+v", seen)
			}

			ok, err := r.Unsubscribe(ctx, m, "market", "prices:maize:eldoret", "ussd")
			if err != nil || !ok {
				t.Fatalf("unsubscribe maize: %v %v", ok, err)
			}
			if ok, err := r.Unsubscribe(ctx, m, "market", "prices:maize:eldoret", "ussd"); err != nil || ok {
				t.Errorf("second unsubscribe: %v %v, want false", ok, err)
			}
			if n := count(t, r, "prices:maize:eldoret"); n != 0 {
				t.Errorf("maize still has %d subscribers", n)
			}
			if users := users(t, r, "market"); users != m {
				t.Errorf("market users %q while beans remain", users)
			}
			// topic "" = all of the service.
			if ok, err := r.Unsubscribe(ctx, m, "market", "", "sms"); err != nil || !ok {
				t.Fatalf("unsubscribe market: %v %v", ok, err)
			}
			if users := users(t, r, "market"); users != "" {
				t.Errorf("market users %q after leaving all", users)
			}
			if users := users(t, r, "health"); users != m {
				t.Errorf("health users %q", users)
			}
			got, _ = r.Subscriptions(ctx, m)
			if len(got) != 1 || got[0].Topic != "health:reminders" || got[0].Params["kind"] != "pregnancy" {
				t.Errorf("left: %+v", got)
			}

			ev, err := r.Audit(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			var acts []string
			for _, e := range ev {
				acts = append(acts, e.Action+":"+e.Service+":"+e.Topic+":"+e.Channel)
			}
			want := []string{
				"subscribe:market:prices:maize:eldoret:ussd",
				"subscribe:health:health:reminders:sms",
				"subscribe:market:prices:beans:nakuru:ussd",
				"subscribe:market:prices:maize:eldoret:ussd",
				"unsubscribe:market:prices:maize:eldoret:ussd",
				"unsubscribe:market:prices:beans:nakuru:sms",
			}
			if !reflect.DeepEqual(acts, want) {
				t.Errorf("audit\n%s\nwant\n%s", strings.Join(acts, "\n"), strings.Join(want, "\n"))
			}
			if len(ev) > 0 && (ev[0].Detail != `label="Maize at Eldoret" lang=sw note="a&b=c d" threshold="5"` || !ev[0].At.Equal(t0)) {
				t.Errorf("first event %+v", ev[0])
			}
			if len(ev) > 3 && ev[3].Detail != `label="Maize at Eldoret" lang=sw threshold="10"` {
				t.Errorf("re-subscription recorded as %q", ev[3].Detail)
			}
		})
	}
}

func count(t *testing.T, r *consent.Registry, topic string) int {
	t.Helper()
	n := 0
	if err := r.Subscribers(context.Background(), topic, func(string, consent.Subscription) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func users(t *testing.T, r *consent.Registry, service string) string {
	t.Helper()
	var out []string
	if err := r.ServiceUsers(context.Background(), service, func(m string) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}

func TestStopStart(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{})
			const m = "255700000002"
			sub := consent.Subscription{Service: "market", Topic: "prices:maize:arusha", Label: "Maize", Lang: "sw", Channel: "ussd"}
			if err := r.Subscribe(ctx, m, sub); err != nil {
				t.Fatal(err)
			}
			allowed := func(service string) bool {
				t.Helper()
				ok, err := r.Allowed(ctx, m, service)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			steps := []struct {
				do                  func() error
				market, health, all bool
			}{
				{func() error { return nil }, true, true, true},
				{func() error { return r.OptOut(ctx, m, "market", "sms") }, false, true, true},
				{func() error { return r.OptOut(ctx, m, "", "sms") }, false, false, false},
				{func() error { return r.OptIn(ctx, m, "health", "sms") }, false, false, false}, // the global stop holds
				{func() error { return r.OptIn(ctx, m, "", "sms") }, true, true, true},          // plain START lifts all
				{func() error { return r.OptOut(ctx, m, "market", "sms") }, false, true, true},
				{func() error { return r.Subscribe(ctx, m, sub) }, true, true, true}, // subscribing again is consent
				{func() error { return r.OptOut(ctx, m, "", "sms") }, false, false, false},
				{func() error { return r.Subscribe(ctx, m, sub) }, false, false, false}, // but not to everything
			}
			for i, s := range steps {
				if err := s.do(); err != nil {
					t.Fatal(err)
				}
				if g := [3]bool{allowed("market"), allowed("health"), allowed("")}; g != [3]bool{s.market, s.health, s.all} {
					t.Errorf("step %d: allowed market/health/all = %v, want %v", i, g, [3]bool{s.market, s.health, s.all})
				}
				// The batch form answers the same, in order.
				const other = "255700000003"
				g, err := r.AllowedBatch(ctx, []string{m, other, m, m}, []string{"market", "market", "health", ""})
				if err != nil {
					t.Fatal(err)
				}
				if want := []bool{s.market, true, s.health, s.all}; !slices.Equal(g, want) {
					t.Errorf("step %d: AllowedBatch = %v, want %v", i, g, want)
				}
			}
			// STOP keeps the subscriptions.
			if got, _ := r.Subscriptions(ctx, m); len(got) != 1 {
				t.Errorf("subscriptions after stop: %+v", got)
			}
			ev, _ := r.Audit(ctx, m)
			var acts []string
			for _, e := range ev {
				acts = append(acts, e.Action+":"+e.Service)
			}
			if want := "subscribe:market stop:market stop: start:health start: stop:market subscribe:market stop: subscribe:market"; strings.Join(acts, " ") != want {
				t.Errorf("audit %v\nwant %s", acts, want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	b := backends(t)[0]
	ctx := context.Background()
	r := consent.New(b.c, b.prefix, consent.Options{})
	ok := consent.Subscription{Service: "market", Topic: "x"}
	tests := []struct {
		name string
		err  error
	}{
		{"plus", r.Subscribe(ctx, "+254700000001", ok)},
		{"empty", r.Subscribe(ctx, "", ok)},
		{"no topic", r.Subscribe(ctx, "254700000001", consent.Subscription{Service: "market"})},
		{"no service", r.Subscribe(ctx, "254700000001", consent.Subscription{Topic: "x"})},
		{"stop letters", r.OptOut(ctx, "abc", "", "sms")},
		{"unsubscribe no service", func() error { _, err := r.Unsubscribe(ctx, "254700000001", "", "x", "sms"); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, consent.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tt.name, tt.err)
		}
	}
	if n, _ := b.c.DBSize(ctx).Result(); n != 0 {
		t.Errorf("bad input left %d keys", n)
	}
}

func TestRetention(t *testing.T) {
	for _, b := range backends(t) {
		if b.mini == nil {
			continue // time travel needs miniredis; the TTL is checked below on both
		}
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{Retention: 48 * time.Hour})
			const m = "254700000003"
			if err := r.Subscribe(ctx, m, consent.Subscription{Service: "s", Topic: "t"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Unsubscribe(ctx, m, "s", "t", "ussd"); err != nil {
				t.Fatal(err)
			}
			if err := r.OptOut(ctx, m, "", "sms"); err != nil {
				t.Fatal(err)
			}
			b.mini.FastForward(47 * time.Hour)
			if ev, _ := r.Audit(ctx, m); len(ev) != 3 {
				t.Fatalf("audit before retention: %d events", len(ev))
			}
			b.mini.FastForward(2 * time.Hour)
			if ev, _ := r.Audit(ctx, m); len(ev) != 0 {
				t.Errorf("audit after retention: %d events", len(ev))
			}
			// A STOP outlives the retention: forgetting it would break it.
			if ok, _ := r.Allowed(ctx, m, "s"); ok {
				t.Error("the STOP was forgotten with the audit")
			}
		})
	}
}

func TestAuditTTLAndCap(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{Retention: 10 * 24 * time.Hour})
			const m = "254700000004"
			for i := range consent.AuditCap + 10 {
				if err := r.OptOut(ctx, m, fmt.Sprintf("s%d", i), "sms"); err != nil {
					t.Fatal(err)
				}
			}
			ev, err := r.Audit(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev) != consent.AuditCap || ev[0].Service != "s10" {
				t.Errorf("audit kept %d events from %s, want %d from s10", len(ev), ev[0].Service, consent.AuditCap)
			}
			ttl, err := b.c.TTL(ctx, b.prefix+"n:{"+m+"}:audit").Result()
			if err != nil || ttl < 9*24*time.Hour || ttl > 10*24*time.Hour {
				t.Errorf("audit TTL %v %v, want about 10 days", ttl, err)
			}
		})
	}
}

// TestSubscribersOnce: a topic of 10,000 subscribers comes back from the
// scan with each number exactly once, carrying its own language and params.
func TestSubscribersOnce(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{})
			const n = 10000
			fill(t, r, "prices:maize:kisumu", n)
			seen := make(map[string]int, n)
			err := r.Subscribers(ctx, "prices:maize:kisumu", func(m string, s consent.Subscription) error {
				seen[m]++
				if want := langOf(m); s.Lang != want || s.Params["threshold"] != m[len(m)-1:] || s.Service != "market" {
					return fmt.Errorf("%s came back as %+v", m, s)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != n {
				t.Errorf("%d distinct subscribers, want %d", len(seen), n)
			}
			for m, c := range seen {
				if c != 1 {
					t.Errorf("%s seen %d times", m, c)
				}
			}
			nu := 0
			if err := r.ServiceUsers(ctx, "market", func(string) error { nu++; return nil }); err != nil || nu != n {
				t.Errorf("service users %d %v, want %d", nu, err, n)
			}
			// An error from fn stops the scan.
			stop := errors.New("enough")
			calls := 0
			if err := r.Subscribers(ctx, "prices:maize:kisumu", func(string, consent.Subscription) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
				t.Errorf("fn error: %v after %d calls", err, calls)
			}
		})
	}
}

func langOf(m string) string { return []string{"en", "sw", "fr"}[int(m[len(m)-1]-'0')%3] }

// fill subscribes n numbers to topic, in pipelines of the registry's own
// calls run concurrently (the registry has no bulk API: users subscribe one by one).
func fill(t testing.TB, r *consent.Registry, topic string, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				m := fmt.Sprintf("2547%08d", i)
				s := consent.Subscription{Service: "market", Topic: topic, Label: "Maize at Kisumu", Lang: langOf(m), Channel: "ussd", Params: map[string]string{"threshold": m[len(m)-1:]}}
				if err := r.Subscribe(ctx, m, s); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkSubscribe(b *testing.B) {
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			r := consent.New(be.c, be.prefix, consent.Options{})
			ctx := context.Background()
			i := 0
			for b.Loop() {
				m := fmt.Sprintf("2547%08d", i)
				i++
				if err := r.Subscribe(ctx, m, consent.Subscription{Service: "market", Topic: "prices:bench", Label: "Maize at Kisumu", Lang: "sw", Channel: "ussd", Params: map[string]string{"threshold": "5"}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSubscribers(b *testing.B) {
	const n = 100000
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			r := consent.New(be.c, be.prefix, consent.Options{})
			fill(b, r, "prices:scan", n)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				got := 0
				if err := r.Subscribers(ctx, "prices:scan", func(string, consent.Subscription) error { got++; return nil }); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("%d subscribers, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "subscribers/s")
			if be.mini == nil { // MEMORY USAGE: real Redis only
				ctx := context.Background()
				idx, _ := be.c.MemoryUsage(ctx, be.prefix+"t:prices:scan", 0).Result()
				svc, _ := be.c.MemoryUsage(ctx, be.prefix+"s:market", 0).Result()
				var num int64
				for i := range 100 {
					m := fmt.Sprintf("2547%08d", i*997)
					a, _ := be.c.MemoryUsage(ctx, be.prefix+"n:{"+m+"}:subs").Result()
					c, _ := be.c.MemoryUsage(ctx, be.prefix+"n:{"+m+"}:audit").Result()
					num += a + c
				}
				b.ReportMetric(float64(idx)/n, "index-B/subscriber")
				b.ReportMetric(float64(svc)/n, "service-set-B/subscriber")
				b.ReportMetric(float64(num)/100, "number-record-B")
			}
		})
	}
}

// TestConcurrentSubscribeUnsubscribe: the same number subscribing (with
// changing thresholds) and unsubscribing at once ends with the topic
// index saying exactly what the number's own record says.
func TestConcurrentSubscribeUnsubscribe(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{})
			for round := range 40 {
				m := fmt.Sprintf("2547100%05d", round)
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Go(func() {
						for i := range 5 {
							if (g+i)%2 == 0 {
								s := consent.Subscription{Service: "market", Topic: "prices:race", Label: "x", Params: map[string]string{"threshold": fmt.Sprint(g*10 + i)}}
								if err := r.Subscribe(ctx, m, s); err != nil {
									t.Error(err)
								}
							} else if _, err := r.Unsubscribe(ctx, m, "market", "prices:race", "ussd"); err != nil {
								t.Error(err)
							}
						}
					})
				}
				wg.Wait()
				subs, err := r.Subscriptions(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				var inIndex *consent.Subscription
				r.Subscribers(ctx, "prices:race", func(who string, s consent.Subscription) error {
					if who == m {
						inIndex = &s
					}
					return nil
				})
				switch {
				case len(subs) == 0 && inIndex != nil:
					t.Fatalf("round %d: the index has %+v, the record nothing", round, *inIndex)
				case len(subs) == 1 && (inIndex == nil || inIndex.Params["threshold"] != subs[0].Params["threshold"]):
					t.Fatalf("round %d: the record has %+v, the index %+v", round, subs[0], inIndex)
				}
			}
		})
	}
}

// TestRetriedUnsubscribeRepairsIndex: an Unsubscribe that failed after
// removing the record but before the index leaves an entry behind; the
// retry, finding no record, still clears it.
func TestRetriedUnsubscribeRepairsIndex(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			r := consent.New(b.c, b.prefix, consent.Options{})
			const m = "254700000011"
			if err := r.Subscribe(ctx, m, consent.Subscription{Service: "market", Topic: "prices:half", Label: "x"}); err != nil {
				t.Fatal(err)
			}
			// The first half of an Unsubscribe: the record goes, the index stays.
			b.c.HDel(ctx, b.prefix+"n:{"+m+"}:subs", "market\x1fprices:half")
			if n := count(t, r, "prices:half"); n != 1 {
				t.Fatalf("setup: %d in the index", n)
			}
			if ok, err := r.Unsubscribe(ctx, m, "market", "prices:half", "ussd"); ok || err != nil {
				t.Fatalf("retry: %v %v", ok, err)
			}
			if n := count(t, r, "prices:half"); n != 0 {
				t.Errorf("the retry left %d in the index", n)
			}
			if u := users(t, r, "market"); u != "" {
				t.Errorf("the retry left %q in the service's users", u)
			}
		})
	}
}
