package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/consent"
	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/outbox"
)

// phone is an SMSC that delivers at once (with a receipt) and remembers
// what each number got.
type phone struct {
	q    *outbox.Queue
	mu   sync.Mutex
	got  map[string][]string // msisdn → texts
	refs map[string]int      // message id → sends
}

func (p *phone) Deliver(ctx context.Context, msisdn, text, ref string) error {
	p.mu.Lock()
	p.got[msisdn] = append(p.got[msisdn], text)
	p.refs[ref]++
	p.mu.Unlock()
	return p.q.Receipt(ctx, ref, true, "")
}

func (p *phone) texts(msisdn string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got[msisdn]...)
}

// realEnv is the API over real Redis with the real consent registry and
// outbox (running, sending to a phone), keys and alerts.
type realEnv struct {
	*env
	reg   *consent.Registry
	queue *outbox.Queue
	phone *phone
}

func newRealEnv(t *testing.T, rdb redis.UniversalClient, prefix string, run bool, mod func(*Config)) *realEnv {
	t.Helper()
	e := newEnv(t, nil) // keys of the shared Redis; replaced below when rdb is another
	r := &realEnv{env: e}
	if rdb == nil {
		rdb, prefix = e.rdb, e.prefix
	} else {
		e.keys = apikeys.New(rdb, prefix, nil)
		ctx := context.Background()
		for _, k := range []*string{&e.send, &e.read, &e.admin} {
			sc := map[*string][]apikeys.Scope{&e.send: {apikeys.Send}, &e.read: {apikeys.Read}, &e.admin: {apikeys.Admin}}[k]
			_, plain, err := e.keys.Create(ctx, "k", sc)
			if err != nil {
				t.Fatal(err)
			}
			*k = plain
		}
	}
	r.reg = consent.New(rdb, prefix, consent.Options{})
	r.queue = outbox.New(rdb, prefix, outbox.Options{Allow: r.reg.Allowed})
	r.phone = &phone{q: r.queue, got: map[string][]string{}, refs: map[string]int{}}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.queue.Run(ctx, r.phone) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	set := loadFlows(t)
	flowsFn := func() *flows.Set { return set }
	cfg := e.srv.cfg
	cfg.Keys, cfg.Redis, cfg.Prefix, cfg.Consent, cfg.Outbox = e.keys, rdb, prefix, r.reg, r.queue
	cfg.Prices = alerts.New(alerts.Config{Redis: rdb, Prefix: prefix, Consent: r.reg, Outbox: r.queue, Flows: flowsFn, Log: cfg.Log})
	cfg.Now = time.Now
	if mod != nil {
		mod(&cfg)
	}
	e.srv = New(cfg)
	return r
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A broadcast to a topic's subscribers over the real consent registry and
// outbox: each subscriber gets it once, in their language; a number that
// sent STOP gets nothing and counts as suppressed; progress follows the
// receipts to done.
func TestRealBroadcastTopic(t *testing.T) {
	r := newRealEnv(t, nil, "", true, nil)
	ctx := context.Background()
	langs := []string{"en", "fr", "sw"}
	for i := 0; i < 300; i++ {
		n := fmt.Sprintf("254715%06d", i)
		if err := r.reg.Subscribe(ctx, n, consent.Subscription{Service: "market", Topic: "prices:beans:kisumu", Lang: langs[i%3], Channel: "ussd"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.reg.OptOut(ctx, "254715000007", "", "sms"); err != nil { // STOP
		t.Fatal(err)
	}
	a := r.do("POST", "/api/v1/broadcasts", r.send, jsonCT, `{"id": "beans", "service": "market", "audience": {"topic": "prices:beans:kisumu"},
		"text": {"en": "Beans up", "fr": "Haricots en hausse", "sw": "Maharagwe juu"}}`)
	if a.code != 201 || a.body["recipients"].(float64) != 300 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	var p answer
	eventually(t, "the broadcast to end", func() bool {
		p = r.do("GET", "/api/v1/broadcasts/beans", r.read, "", "")
		return p.body["state"] == "done"
	})
	if p.body["total"].(float64) != 300 || p.body["delivered"].(float64) != 299 || p.body["suppressed"].(float64) != 1 {
		t.Fatalf("progress %s", p.raw)
	}
	want := map[string]string{"en": "Beans up", "fr": "Haricots en hausse", "sw": "Maharagwe juu"}
	for i := 0; i < 300; i++ {
		n := fmt.Sprintf("254715%06d", i)
		got := r.phone.texts(n)
		if n == "254715000007" {
			if len(got) != 0 {
				t.Fatalf("a STOPped number got %v", got)
			}
			continue
		}
		if len(got) != 1 || got[0] != want[langs[i%3]] {
			t.Fatalf("%s (%s) got %v", n, langs[i%3], got)
		}
	}
	m := r.do("GET", "/api/v1/messages/beans:254715000007", r.read, "", "")
	if m.body["state"] != "suppressed" || m.body["msisdn"] != "*********007" {
		t.Fatalf("%s", m.raw)
	}
	c := r.do("GET", "/api/v1/consent/254715000007", r.admin, "", "")
	if au := c.body["audit"].([]any); len(au) != 2 || au[1].(map[string]any)["action"] != "stop" {
		t.Fatalf("%s", c.raw)
	}
}

// Cancel with the outbox not running: every message stays unsent and
// turns cancelled when the workers reach it.
func TestRealCancel(t *testing.T) {
	r := newRealEnv(t, nil, "", false, nil)
	a := r.do("POST", "/api/v1/broadcasts", r.send, jsonCT, `{"id": "c", "service": "market", "audience": {"numbers": ["0712000001", "0712000002", "0712000003"]}, "text": {"en": "Hi"}}`)
	if a.code != 201 {
		t.Fatal(a.raw)
	}
	c := r.do("POST", "/api/v1/broadcasts/c/cancel", r.send, "", "")
	if c.code != 200 || c.body["state"] != "cancelling" || c.body["queued"].(float64) != 3 {
		t.Fatalf("%s", c.raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.queue.Run(ctx, r.phone) }()
	defer func() { cancel(); <-done }()
	eventually(t, "cancelled", func() bool {
		return r.do("GET", "/api/v1/broadcasts/c", r.read, "", "").body["state"] == "cancelled"
	})
	p := r.do("GET", "/api/v1/broadcasts/c", r.read, "", "")
	if p.body["cancelled"].(float64) != 3 || len(r.phone.refs) != 0 {
		t.Fatalf("%s; %d sent", p.raw, len(r.phone.refs))
	}
}

// killAfter wraps an outbox: after the first Enqueue it kills Redis.
type killAfter struct {
	Outbox
	own    *ownRedis
	mu     sync.Mutex // one Enqueue at a time: the first is done when the second kills
	calls  int
	queued int // messages that made it before Redis died
}

func (k *killAfter) Enqueue(ctx context.Context, msgs ...Message) ([]string, int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.calls == 2 {
		k.own.kill()
	}
	ids, dups, err := k.Outbox.Enqueue(ctx, msgs...)
	if err == nil {
		k.queued += len(msgs) - dups
	}
	return ids, dups, err
}

// Redis dies during the fan-out of a broadcast: the API answers 503, and
// retries the cancel of what the first batch queued until Redis is back;
// the broadcast is failed_to_start and nothing of it is ever sent.
func TestRealRedisDiesMidFanOut(t *testing.T) {
	own := startRedis(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	rdb := own.client()
	defer rdb.Close()
	var wrap *killAfter
	now := time.Now()
	r := newRealEnv(t, rdb, "x:", false, func(c *Config) {
		c.Batch = 10
		wrap = &killAfter{Outbox: c.Outbox, own: own}
		c.Outbox = wrap
		c.Now = func() time.Time { return now }
	})
	var nums []string
	for i := 0; i < 35; i++ {
		nums = append(nums, fmt.Sprintf(`"07120000%02d"`, i))
	}
	a := r.do("POST", "/api/v1/broadcasts", r.send, jsonCT, `{"id": "mid", "service": "market", "audience": {"numbers": [`+strings.Join(nums, ",")+`]}, "text": {"en": "Hi"}}`)
	if a.code != 503 {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	own.restart(t)
	ctx := context.Background()
	// The failed fan-out's cancel, retried since, goes through now.
	first := int64(wrap.queued) // one batch, whichever came first
	eventually(t, "the group cancelled", func() bool {
		g, _ := r.queue.Group(ctx, "mid")
		return g.Stopped
	})
	if g, _ := r.queue.Group(ctx, "mid"); first == 0 || g.Total != first {
		t.Fatalf("after the restart the group is %+v: want the %d messages of the first batch", g, first)
	}
	// The retry cancels the group, then records the state: wait for both.
	eventually(t, "the broadcast failed_to_start", func() bool {
		return r.do("GET", "/api/v1/broadcasts/mid", r.read, "", "").body["state"] == "failed_to_start"
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.queue.Run(runCtx, r.phone) }()
	defer func() { cancel(); <-done }()
	eventually(t, "the first batch cancelled", func() bool { g, _ := r.queue.Group(ctx, "mid"); return g.Cancelled == first })
	if len(r.phone.refs) != 0 {
		t.Fatalf("%d messages of a failed broadcast were sent", len(r.phone.refs))
	}
	if x := r.do("POST", "/api/v1/broadcasts", r.send, jsonCT, `{"id": "mid", "service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`); x.code != 409 {
		t.Fatalf("retry: %s", x.raw)
	}
}

// With Redis down from the start: 503 for the key check itself, and
// nothing is queued.
func TestRealRedisDown(t *testing.T) {
	own := startRedis(t)
	rdb := own.client()
	defer rdb.Close()
	r := newRealEnv(t, rdb, "y:", false, nil)
	own.kill()
	a := r.do("POST", "/api/v1/broadcasts", r.send, jsonCT, `{"id": "d", "service": "market", "audience": {"numbers": ["0712000001"]}, "text": {"en": "Hi"}}`)
	if a.code != 503 || !strings.Contains(a.raw, "checking the API key") {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	own.restart(t)
	if g, err := r.queue.Group(context.Background(), "d"); err != nil || g.Total != 0 {
		t.Fatalf("%+v %v", g, err)
	}
}
