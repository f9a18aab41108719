package ussd_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/ussd"
	"github.com/ussdgw/ussdgw/ussd/storetest"
	"github.com/ussdgw/ussdgw/ussd/transcript"
)

var update = flag.Bool("update", false, "rewrite the transcripts' expected screens with what the engine shows")

func loadShop(t testing.TB) *flows.Set {
	t.Helper()
	set, err := flows.Load("testdata", flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// stores returns the two stores every manager test runs on.
func stores(t *testing.T) map[string]func(t *testing.T) ussd.Store {
	return map[string]func(t *testing.T) ussd.Store{
		"memory": func(t *testing.T) ussd.Store {
			s := ussd.NewMemoryStore()
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) ussd.Store {
			r := storetest.Redis(t)
			return ussd.NewRedisStore(r.Client, r.Prefix)
		},
	}
}

func TestTranscripts(t *testing.T) {
	set := loadShop(t)
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for storeName, newStore := range stores(t) {
		for _, file := range files {
			t.Run(storeName+"/"+filepath.Base(file), func(t *testing.T) {
				steps, data, err := transcript.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				clock := transcript.NewClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
				m := ussd.NewManager(ussd.Config{Store: newStore(t), Flows: set, Now: clock.Now})
				p := &transcript.Player{M: m, Clock: clock, Prefix: t.Name()}
				results, err := p.Play(context.Background(), steps)
				if err != nil {
					t.Fatal(err)
				}
				if *update && storeName == "memory" {
					os.WriteFile(file, transcript.Rewrite(data, results), 0o644)
					return
				}
				for _, r := range results {
					if r.Step.HasOut && r.Got != r.Step.Want {
						t.Errorf("%s:%d: > %s\n got:\n%s\nwant:\n%s", file, r.Step.Line, r.Step.Arg, r.Got, r.Step.Want)
					}
				}
			})
		}
	}
}

// Two gateway instances over one Redis serve alternate steps of the same
// sessions: each step is loaded from Redis, so it does not matter which
// instance takes it.
func TestTwoInstancesAlternate(t *testing.T) {
	set := loadShop(t)
	r := storetest.Redis(t)
	a := ussd.NewManager(ussd.Config{Store: ussd.NewRedisStore(r.Client, r.Prefix), Flows: set})
	b := ussd.NewManager(ussd.Config{Store: ussd.NewRedisStore(r.Client, r.Prefix), Flows: set})
	ctx := context.Background()
	var wg sync.WaitGroup
	for u := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msisdn := msisdn.MSISDN(fmt.Sprintf("2547000%05d", u))
			sid := fmt.Sprintf("alt-%d", u)
			texts := []string{"", "1", "1*2", "1*2*3", "1*2*3*1"}
			var last ussd.Response
			for i, text := range texts {
				m := a
				if i%2 == 1 {
					m = b
				}
				resp, err := m.Handle(ctx, ussd.Request{SessionID: sid, MSISDN: msisdn, Dialled: "*500#", Text: text, Cumulative: true})
				if err != nil {
					t.Error(err)
					return
				}
				last = resp
			}
			if !last.End || last.Text != "Order placed: 3 bananas." {
				t.Errorf("user %d ended with %+v", u, last)
			}
		}()
	}
	wg.Wait()
}

// The same step sent to two instances at once is applied once: both get
// the same screen, and the next step continues from it.
func TestConcurrentDuplicateAppliedOnce(t *testing.T) {
	set := loadShop(t)
	for storeName, newStore := range stores(t) {
		t.Run(storeName, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			m1 := ussd.NewManager(ussd.Config{Store: store, Flows: set})
			m2 := ussd.NewManager(ussd.Config{Store: store, Flows: set})
			for round := range 30 {
				msisdn := msisdn.MSISDN(fmt.Sprintf("25471%07d", round))
				sid := fmt.Sprintf("dup-%d", round)
				req := func(text string) ussd.Request {
					return ussd.Request{SessionID: sid, MSISDN: msisdn, Dialled: "*500#", Text: text, Cumulative: true}
				}
				if _, err := m1.Handle(ctx, req("")); err != nil {
					t.Fatal(err)
				}
				if _, err := m1.Handle(ctx, req("1")); err != nil {
					t.Fatal(err)
				}
				// "1*1" picks apples; sent twice at once.
				var wg sync.WaitGroup
				got := make([]ussd.Response, 2)
				for i, m := range []*ussd.Manager{m1, m2} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var err error
						got[i], err = m.Handle(ctx, req("1*1"))
						if err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				want := "How many apples? (1-99)\n0. Back\n00. Main menu"
				if got[0].Text != want || got[1].Text != want {
					t.Fatalf("round %d: answers %q and %q, want both %q", round, got[0].Text, got[1].Text, want)
				}
				// Applied once: a 0 now goes back to the fruits, not further.
				resp, err := m2.Handle(ctx, req("1*1*0"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(resp.Text, "Pick a fruit") {
					t.Fatalf("round %d: after back: %q", round, resp.Text)
				}
			}
		})
	}
}

// A cut in the middle of a session on one service, a visit to another, and
// the first one is still offered for resume.
func TestResumeAfterAnotherService(t *testing.T) {
	other := []byte(`id: info
codes: ["*600#"]
languages: [en]
nodes:
  main: {type: end, text: "Info"}
`)
	shop, err := os.ReadFile("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := flows.Compile(map[string][]byte{"shop.yaml": shop, "info.yaml": other}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := transcript.NewClock(time.Now())
	m := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set, Now: clock.Now})
	steps, err := transcript.Parse([]byte(`> *500#
> 1
@ abort
> *600#
END Info
> *500#
CON You have an unfinished session.
1. Continue where you left off
2. Start again
> 1
CON Pick a fruit
1. Apples
2. Bananas
0. Back
00. Main menu
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &transcript.Player{M: m, Clock: clock, Prefix: "aside"}
	results, err := p.Play(context.Background(), steps)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Step.HasOut && r.Got != r.Step.Want {
			t.Errorf("line %d: got %q want %q", r.Step.Line, r.Got, r.Step.Want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	m := ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: loadShop(t)})
	ctx := context.Background()
	for _, req := range []ussd.Request{
		{},
		{SessionID: "x"},
		{MSISDN: "254700000001"},
	} {
		resp, err := m.Handle(ctx, req)
		if err == nil || !resp.End || resp.Text == "" {
			t.Errorf("%+v: got %+v, %v; want an END screen and an error", req, resp, err)
		}
	}
	for _, text := range []string{"", "*", "#", "***", "1*#*", strings.Repeat("1*", 2000), "\x00\xff"} {
		resp, err := m.Handle(ctx, ussd.Request{SessionID: "odd", MSISDN: "254700000002", Dialled: "*500#", Text: text, Cumulative: true})
		if err != nil || resp.Text == "" {
			t.Errorf("text %.20q: %+v, %v", text, resp, err)
		}
	}
}

// A reply whose session the store no longer has (it expired, Redis was
// restarted) is told so, in the user's language when it is known.
func TestReplyToAVanishedSession(t *testing.T) {
	store := ussd.NewMemoryStore()
	defer store.Close()
	m := ussd.NewManager(ussd.Config{Store: store, Flows: loadShop(t)})
	ctx := context.Background()
	resp, err := m.Handle(ctx, ussd.Request{SessionID: "gone", MSISDN: "254700000011", Input: "1"})
	if err != nil || !resp.End || resp.Text != "Your session has expired. Please dial again." {
		t.Fatalf("got %+v %v", resp, err)
	}
	store.Set(ctx, "p:{254700000011}", []byte("sw"), 0)
	resp, _ = m.Handle(ctx, ussd.Request{SessionID: "gone", MSISDN: "254700000011", Input: "1"})
	if resp.Text != "Muda wa kikao umeisha. Tafadhali piga tena." {
		t.Fatalf("in Swahili: %q", resp.Text)
	}
}

// A step whose caller has gone (the aggregator closed the connection) is
// still saved: its retry must find it applied.
func TestStepSavedAfterCallerLeft(t *testing.T) {
	store := ussd.NewMemoryStore()
	defer store.Close()
	m := ussd.NewManager(ussd.Config{Store: store, Flows: loadShop(t)})
	req := ussd.Request{SessionID: "gone", MSISDN: "254700000012", Dialled: "*500#", Text: "", Cumulative: true}
	m.Handle(context.Background(), req)
	ctx, cancel := context.WithCancel(context.Background())
	cancelling := cancelAfterGet{Store: store, cancel: cancel}
	m2 := ussd.NewManager(ussd.Config{Store: cancelling, Flows: loadShop(t)})
	req.Text = "1"
	if _, err := m2.Handle(ctx, req); err != nil {
		t.Fatalf("step: %v", err)
	}
	resp, _ := m.Handle(context.Background(), req) // the retry
	if !strings.HasPrefix(resp.Text, "Pick a fruit") {
		t.Fatalf("retry after the caller left: %q", resp.Text)
	}
}

// cancelAfterGet cancels the request's context once the session is read,
// as a client that hangs up during the step would.
type cancelAfterGet struct {
	ussd.Store
	cancel func()
}

func (c cancelAfterGet) Get(ctx context.Context, keys ...string) ([][]byte, error) {
	v, err := c.Store.Get(ctx, keys...)
	c.cancel()
	return v, err
}

func TestStoreFailureEndsPolitely(t *testing.T) {
	m := ussd.NewManager(ussd.Config{Store: failing{}, Flows: loadShop(t)})
	resp, err := m.Handle(context.Background(), ussd.Request{SessionID: "s", MSISDN: "254700000003", Dialled: "*500#", Cumulative: true})
	if err == nil {
		t.Fatal("want the store's error")
	}
	if !resp.End || !strings.Contains(resp.Text, "not available") {
		t.Fatalf("got %+v", resp)
	}
}

type failing struct{}

func (failing) Get(context.Context, ...string) ([][]byte, error) {
	return nil, fmt.Errorf("connection refused")
}
func (failing) Set(context.Context, string, []byte, time.Duration) error {
	return fmt.Errorf("connection refused")
}
func (failing) Swap(context.Context, string, []byte, []byte, time.Duration) (bool, error) {
	return false, fmt.Errorf("connection refused")
}

func TestMSISDNLogsMasked(t *testing.T) {
	var b bytes.Buffer
	logger := newTextLogger(t, &b)
	logger.Info("x", "msisdn", msisdn.MSISDN("254700123456"))
	if strings.Contains(b.String(), "254700123456") || !strings.Contains(b.String(), "***456") {
		t.Fatalf("log line %q", b.String())
	}
}

// BenchmarkHandle is one step through the manager on the in-memory store:
// load and decode the session, the engine step, encode, compare-and-swap.
// Each iteration is one request of a four-request session.
func BenchmarkHandle(b *testing.B) {
	set := loadShop(b)
	store := ussd.NewMemoryStore()
	defer store.Close()
	m := ussd.NewManager(ussd.Config{Store: store, Flows: set})
	ctx := context.Background()
	texts := []string{"", "1", "1*2", "1*2*3"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := ussd.Request{SessionID: fmt.Sprint("b", i/4), MSISDN: "254700000001", Dialled: "*500#", Text: texts[i%4], Cumulative: true}
		if _, err := m.Handle(ctx, req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
