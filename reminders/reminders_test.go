package reminders

import (
	"context"
	"errors"
	"fmt"
	"github.com/ussdgw/ussdgw/internal/redistest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/adapters"
)

var nairobi = mustZone("Africa/Nairobi")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// t0 is 09:00 in Nairobi on 2026-12-01, the send hour.
var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, nairobi)

// A child born 40 days before t0: the 6-week vaccines fall due on
// 2026-12-03, two days after t0; the birth dose is past. Six items to come.
const born = "2026-10-22"

type env struct {
	rc      redis.UniversalClient
	prefix  string
	clk     *clock
	consent *fakeConsent
	queue   *fakeQueue
	reg     *adapters.Registry
}

func newEnv(t *testing.T) *env {
	rc, prefix := redistest.Open(t)
	clk := &clock{t: t0}
	return &env{rc: rc, prefix: prefix, clk: clk, consent: newConsent(), queue: newQueue(), reg: healthAdapter(t, clk.Now)}
}

func (e *env) scheduler(t *testing.T, edit ...func(*Config)) *Scheduler {
	t.Helper()
	c := Config{
		Redis: e.rc, Prefix: e.prefix, Consent: e.consent, Queue: e.queue, Adapters: e.reg,
		Location: nairobi, Now: e.clk.Now, Log: quiet,
	}
	for _, f := range edit {
		f(&c)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) register(t *testing.T, msisdn, schedule, date string) {
	t.Helper()
	_, err := e.reg.Call(context.Background(), "health", adapters.Request{Op: "register", Params: map[string]string{"msisdn": msisdn, "schedule": schedule, "date": date}})
	if err != nil {
		t.Fatalf("registering %s: %v", msisdn, err)
	}
}

func (e *env) subscribe(msisdn, lang string, params map[string]string) {
	e.consent.subscribe(msisdn, subscription{Service: "health", Topic: "health:reminders", Lang: lang, Channel: "ussd", Params: params})
}

func mustSync(t *testing.T, s *Scheduler) int {
	t.Helper()
	n, err := s.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustClaim(t *testing.T, s *Scheduler) int {
	t.Helper()
	n, err := s.Claim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pending(t *testing.T, s *Scheduler) (int64, int64) {
	t.Helper()
	w, l, err := s.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return w, l
}

func TestSyncSchedulesSubscribersOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const (
		child    = "254700000001" // subscribed, child registered
		notSub   = "254700000002" // registered, never subscribed
		notReg   = "254700000003" // subscribed, nothing registered
		pregOnly = "254700000004" // subscribed to the pregnancy schedule only
		topicSc  = "254700000005" // subscribed to health:reminders:child
	)
	e.register(t, child, "child", born)
	e.register(t, notSub, "child", born)
	e.register(t, pregOnly, "child", born)
	e.register(t, pregOnly, "pregnancy", "2027-03-01") // 5 contacts to come: weeks 30 to 40
	e.subscribe(child, "sw", nil)
	e.subscribe(notReg, "en", nil)
	e.subscribe(pregOnly, "en", map[string]string{"schedule": "pregnancy"})
	e.register(t, topicSc, "child", "2026-11-01")
	e.register(t, topicSc, "pregnancy", "2027-03-01")
	e.consent.subscribe(topicSc, subscription{Service: "health", Topic: "health:reminders:child", Lang: "en"})
	s := e.scheduler(t, func(c *Config) { c.Horizon = 2 * 365 * 24 * time.Hour })

	if got, want := mustSync(t, s), 6*2+5*2+6*2; got != want {
		t.Fatalf("first sync added %d reminders, want %d", got, want)
	}
	// Scores: 09:00 Nairobi two days before and on the day.
	for member, want := range map[string]time.Time{
		child + "|child|w6|2026-12-03|2":          t0,
		child + "|child|w6|2026-12-03|0":          t0.AddDate(0, 0, 2),
		pregOnly + "|pregnancy|anc4|2026-12-21|2": time.Date(2026, 12, 19, 9, 0, 0, 0, nairobi),
	} {
		score, err := e.rc.ZScore(ctx, s.due, member).Result()
		if err != nil {
			t.Fatalf("%s: %v", member, err)
		}
		if int64(score) != want.Unix() {
			t.Errorf("%s is due at %v, want %v", member, time.Unix(int64(score), 0).In(nairobi), want)
		}
	}
	for _, who := range []string{notSub, pregOnly + "|child", topicSc + "|pregnancy"} {
		n, err := e.rc.Eval(ctx, `local n = 0 for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do if string.find(m, ARGV[1], 1, true) == 1 then n = n + 1 end end return n`, []string{s.due}, who).Int()
		if err != nil || n != 0 {
			t.Errorf("%d reminders scheduled for %s (err %v), want none", n, who, err)
		}
	}
	if n := mustSync(t, s); n != 0 {
		t.Errorf("second sync added %d, want 0 (idempotent)", n)
	}

	// At t0 the 2-days-before reminder of the 6-week vaccines is due.
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("claimed and sent %d, want 1", n)
	}
	msgs := e.queue.sent()
	m := msgs[0]
	if m.MSISDN != child || m.Service != "health" || m.Kind != "reminder" || m.Priority != bulk {
		t.Errorf("message = %+v, want a Bulk reminder of service health to %s", m, child)
	}
	if want := time.Date(2026, 12, 4, 0, 0, 0, 0, nairobi); !m.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want the end of the due day %v", m.NotAfter, want)
	}
	for _, part := range []string{"Polio 1, Penta 1", "baada ya siku 2", "2026-12-03", "STOP AFYA"} {
		if !strings.Contains(m.Text, part) {
			t.Errorf("text %q lacks %q (Swahili, the item's name, the date)", m.Text, part)
		}
	}
	if m.ID != (member{child, "child", "w6", "2026-12-03", 2}).id() {
		t.Errorf("ID %q is not derived from the member", m.ID)
	}
	// Sent is remembered: a sync does not schedule it again.
	if n := mustSync(t, s); n != 0 {
		t.Errorf("sync after sending added %d, want 0", n)
	}
	if n := mustClaim(t, s); n != 0 {
		t.Errorf("a second claim at the same time sent %d, want 0", n)
	}
	// Two days later, on the day.
	e.clk.Set(t0.AddDate(0, 0, 2))
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("on the due day sent %d, want 1", n)
	}
	if txt := e.queue.sent()[1].Text; !strings.Contains(txt, " leo ") {
		t.Errorf("on-the-day text %q does not say today (leo)", txt)
	}
}

// Two instances claiming at once over 2,000 due reminders: each is
// enqueued exactly once and none is left.
func TestTwoInstancesClaimEachOnce(t *testing.T) {
	e := newEnv(t)
	const users = 2000
	for i := range users {
		n := fmt.Sprintf("2547%08d", i)
		e.register(t, n, "child", born)
		e.subscribe(n, "en", nil)
	}
	small := func(c *Config) { c.Batch = 25 }
	a, b := e.scheduler(t, small), e.scheduler(t, small)
	if n := mustSync(t, a); n != users*2 {
		t.Fatalf("sync added %d, want %d (2 reminders of the 6-week vaccines each)", n, users*2)
	}
	if b, err := e.rc.MemoryUsage(context.Background(), a.due, 0).Result(); err == nil {
		t.Logf("due set: %d bytes for %d reminders, %d per reminder", b, users*2, b/(users*2))
	}
	var wg sync.WaitGroup
	sent := make([]int, 4)
	errs := make([]error, 4)
	for i, s := range []*Scheduler{a, b, a, b} {
		wg.Go(func() { sent[i], errs[i] = s.Claim(context.Background()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	total := sent[0] + sent[1] + sent[2] + sent[3]
	t.Logf("sent per claimer: %v", sent)
	if total != users {
		t.Errorf("sent %d in all, want %d", total, users)
	}
	e.queue.mu.Lock()
	for id, n := range e.queue.calls {
		if n != 1 {
			t.Errorf("%s enqueued %d times", id, n)
		}
	}
	if len(e.queue.msgs) != users {
		t.Errorf("%d distinct reminders queued, want %d", len(e.queue.msgs), users)
	}
	e.queue.mu.Unlock()
	if w, l := pending(t, a); w != users || l != 0 {
		t.Errorf("left: %d waiting, %d leased; want %d waiting (on the day), 0 leased", w, l, users)
	}
}

// An instance that dies between claim and enqueue: once its lease runs
// out another instance sends the reminder; and one that dies after
// enqueue but before recording it does not make a second message.
func TestCrashedClaimIsSentByAnother(t *testing.T) {
	for _, enqueuedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("enqueued before crash %v", enqueuedFirst), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			const user = "254711000001"
			e.register(t, user, "child", born)
			e.subscribe(user, "en", nil)
			lease := func(c *Config) { c.Lease = time.Minute }
			dead, alive := e.scheduler(t, lease), e.scheduler(t, lease)
			mustSync(t, alive)
			got, _, err := dead.claim(ctx, e.clk.Now(), 10)
			if err != nil || len(got) != 1 {
				t.Fatalf("claim = %v, %v; want the one due reminder", got, err)
			}
			m, _ := parseMember(got[0])
			if enqueuedFirst {
				if _, _, err := e.queue.Enqueue(ctx, message{ID: m.id(), MSISDN: user, Text: "first"}); err != nil {
					t.Fatal(err)
				}
			}
			// The dead instance never finishes. Within its lease nobody else
			// takes the reminder.
			e.clk.Add(59 * time.Second)
			if n := mustClaim(t, alive); n != 0 || e.queue.calls[m.id()] != btoi(enqueuedFirst) {
				t.Fatalf("sent %d while the lease held", n)
			}
			if _, l := pending(t, alive); l != 1 {
				t.Fatalf("%d leased, want 1", l)
			}
			e.clk.Add(2 * time.Second)
			n := mustClaim(t, alive)
			if e.queue.calls[m.id()] != 1+btoi(enqueuedFirst) || len(e.queue.msgs) != 1 {
				t.Errorf("after the lease: enqueue calls %d, messages %d", e.queue.calls[m.id()], len(e.queue.msgs))
			}
			if want := 1 - btoi(enqueuedFirst); n != want {
				t.Errorf("sent %d after the lease ran out, want %d (a duplicate ID is not a new message)", n, want)
			}
			if _, l := pending(t, alive); l != 0 {
				t.Errorf("%d still leased", l)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestUnsubscribedGetsNothing(t *testing.T) {
	e := newEnv(t)
	const user, other = "254722000001", "254722000002"
	for _, n := range []string{user, other} {
		e.register(t, n, "child", born)
		e.subscribe(n, "fr", nil)
	}
	// narrowed subscribed to all reminders, then to the pregnancy's only.
	const narrowed = "254722000003"
	e.register(t, narrowed, "child", born)
	e.subscribe(narrowed, "en", nil)
	s := e.scheduler(t)
	mustSync(t, s)
	e.consent.unsubscribe(user)
	e.consent.unsubscribe(narrowed)
	e.subscribe(narrowed, "en", map[string]string{"schedule": "pregnancy"})
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("sent %d, want 1 (the one still subscribed)", n)
	}
	for _, m := range e.queue.sent() {
		if m.MSISDN != other {
			t.Errorf("%s got %q", m.MSISDN, m.Text)
		}
		if !strings.Contains(m.Text, "dans 2 jours") {
			t.Errorf("French text %q", m.Text)
		}
	}
	// The user's later reminders are dropped as they fall due too.
	e.clk.Set(t0.AddDate(0, 0, 2))
	mustClaim(t, s)
	for _, m := range e.queue.sent() {
		if m.MSISDN == user {
			t.Errorf("the unsubscribed number got %q", m.Text)
		}
	}
	if _, l := pending(t, s); l != 0 {
		t.Errorf("%d left leased", l)
	}
}

// A registration changed after scheduling: the old dates are not sent,
// the new ones are scheduled by the next sync.
func TestReregistrationDropsOldDates(t *testing.T) {
	e := newEnv(t)
	const user = "254733000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "en", nil)
	s := e.scheduler(t)
	mustSync(t, s)
	e.register(t, user, "child", "2026-10-20") // w6 now due 2026-12-01, today
	if n := mustClaim(t, s); n != 0 {
		t.Errorf("sent %d reminders of the old date", n)
	}
	if n := mustSync(t, s); n == 0 {
		t.Fatal("the new dates were not scheduled")
	}
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("sent %d, want 1 (the 6-week vaccines today)", n)
	}
	if txt := e.queue.sent()[0].Text; !strings.Contains(txt, "today (2026-12-01)") {
		t.Errorf("text %q", txt)
	}
}

// After an outage (or a subscription made late) only the nearest
// reminder of an item goes out, and none for a date that has passed.
func TestLateClaimSendsNearestOnly(t *testing.T) {
	e := newEnv(t)
	const user = "254744000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "en", nil)
	s := e.scheduler(t)
	mustSync(t, s)
	// 08:00 on the due day: the reminder of 2 days before is long due, but
	// the day's own comes at 09:00; one message, not two in an hour.
	e.clk.Set(t0.AddDate(0, 0, 2).Add(-time.Hour))
	if n := mustClaim(t, s); n != 0 {
		t.Fatalf("sent %d before the day's reminder, want 0", n)
	}
	e.clk.Set(t0.AddDate(0, 0, 2).Add(3 * time.Hour)) // 12:00 on the due day
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	if txt := e.queue.sent()[0].Text; !strings.Contains(txt, "today") {
		t.Errorf("text %q, want the on-the-day reminder", txt)
	}
	if n := mustSync(t, s); n != 0 {
		t.Errorf("sync re-added %d skipped or sent reminders", n)
	}
	// Down for a week: the 10-week dose (2026-12-31) is still ahead, the
	// 6-week one is past and gets nothing more.
	e.clk.Set(t0.AddDate(0, 0, 10))
	if n := mustClaim(t, s); n != 0 {
		t.Errorf("sent %d for a past date", n)
	}
}

// A dependency failing keeps the claim; once the lease runs out and the
// dependency is back the reminder goes out, once.
func TestFailuresRetryAfterLease(t *testing.T) {
	e := newEnv(t)
	const user = "254755000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "en", nil)
	s := e.scheduler(t, func(c *Config) { c.Lease = time.Minute })
	mustSync(t, s)

	e.queue.fail = errors.New("redis down")
	if n, err := s.Claim(context.Background()); err == nil || n != 0 {
		t.Fatalf("claim with the outbox down = %d, %v; want an error", n, err)
	}
	e.queue.fail = nil
	e.consent.fail = errors.New("consent down")
	e.clk.Add(61 * time.Second)
	if n := mustClaim(t, s); n != 0 {
		t.Fatalf("sent %d without reading consent", n)
	}
	e.consent.fail = nil
	e.clk.Add(61 * time.Second)
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("sent %d once both are back, want 1", n)
	}
	if w, l := pending(t, s); l != 0 || w != 1 {
		t.Errorf("%d waiting, %d leased; want 1 and 0", w, l)
	}
}

func TestServiceMessageIsUsed(t *testing.T) {
	e := newEnv(t)
	const user = "254766000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "sw", nil)
	var gotLang string
	var gotVars map[string]string
	s := e.scheduler(t, func(c *Config) {
		c.Text = func(lang string, vars map[string]string) (string, bool) {
			gotLang, gotVars = lang, vars
			return render("R: {{item}} {{date}} {{days}}", vars), true
		}
	})
	mustSync(t, s)
	mustClaim(t, s)
	if txt := e.queue.sent()[0].Text; txt != "R: Polio 1, Penta 1, PCV 1, Rota 1 2026-12-03 2" {
		t.Errorf("text %q", txt)
	}
	if gotLang != "sw" || gotVars["when"] != "baada ya siku 2" || gotVars["schedule"] != "child" {
		t.Errorf("Text called with %q %v", gotLang, gotVars)
	}
}

func TestRunSendsDueReminders(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		n := fmt.Sprintf("25477700000%d", i)
		e.register(t, n, "child", born)
		e.subscribe(n, "en", nil)
	}
	s := e.scheduler(t, func(c *Config) { c.Tick = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.queue.sent()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(e.queue.sent()); n != 3 {
		t.Errorf("Run sent %d, want 3", n)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ok := Config{Redis: redis.NewClient(&redis.Options{}), Consent: newConsent(), Queue: newQueue(), Adapters: adapters.NewRegistry()}
	defer ok.Redis.Close()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no redis", func(c *Config) { c.Redis = nil }, "Redis is required"},
		{"no queue", func(c *Config) { c.Queue = nil }, "Queue is required"},
		{"empty days", func(c *Config) { c.Days = []int{} }, "no reminder days"},
		{"twice", func(c *Config) { c.Days = []int{1, 1} }, "given twice"},
		{"hour", func(c *Config) { c.SendAt = "24:00" }, "want a time of day"},
		{"midnight", func(c *Config) { c.SendAt = "00:00" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := New(c)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"2,0", "[2 0]"},
		{" 7, 3 ,1,0", "[7 3 1 0]"},
		{"0", "[0]"},
		{"", "error"},
		{"2,two", "error"},
		{"-1", "error"},
		{"3,3", "error"},
	} {
		got, err := ParseDays(tc.in)
		s := fmt.Sprint(got)
		if err != nil {
			s = "error"
		}
		if s != tc.want {
			t.Errorf("ParseDays(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		h, m int
		err  bool
	}{
		{"09:00", 9, 0, false}, {"9", 9, 0, false}, {"18:30", 18, 30, false},
		{"24:00", 0, 0, true}, {"9:60", 0, 0, true}, {"nine", 0, 0, true}, {"", 0, 0, true},
	} {
		h, m, err := ParseClock(tc.in)
		if h != tc.h || m != tc.m || (err != nil) != tc.err {
			t.Errorf("ParseClock(%q) = %d, %d, %v", tc.in, h, m, err)
		}
	}
}

func TestMembersAndText(t *testing.T) {
	m := member{"254700000001", "child", "w6", "2026-12-03", 2}
	if got, ok := parseMember(m.String()); !ok || got != m {
		t.Errorf("round trip of %v gave %v, %v", m, got, ok)
	}
	for _, bad := range []string{"", "a|b|c|d", "254|child|w6|3 Dec|2", "254|child|w6|2026-12-03|x"} {
		if _, ok := parseMember(bad); ok {
			t.Errorf("parseMember(%q) accepted", bad)
		}
	}
	if m.id() == (member{"254700000001", "child", "w6", "2026-12-03", 0}).id() {
		t.Error("two reminders of one item share an ID")
	}
	for _, tc := range []struct {
		lang string
		days int
		want string
	}{
		{"en", 0, "today"}, {"en", 1, "tomorrow"}, {"en", 3, "in 3 days"},
		{"fr", 1, "demain"}, {"sw", 0, "leo"}, {"xx", 2, "in 2 days"},
	} {
		if got := when(tc.lang, tc.days); got != tc.want {
			t.Errorf("when(%s, %d) = %q, want %q", tc.lang, tc.days, got, tc.want)
		}
	}
	if mask("254700000123") != "***123" {
		t.Errorf("mask = %q", mask("254700000123"))
	}
}

// A sync schedules about a week ahead; later reminders come with later
// syncs, in time.
func TestHorizon(t *testing.T) {
	e := newEnv(t)
	const user = "254788000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "en", nil)
	s := e.scheduler(t)
	if n := mustSync(t, s); n != 2 {
		t.Fatalf("sync added %d, want 2 (the 6-week vaccines, 2026-12-03)", n)
	}
	// 2026-12-21: the 10-week dose (2026-12-31) comes within 8 days of its
	// 2-days-before reminder (12-29).
	e.clk.Set(time.Date(2026, 12, 21, 9, 0, 0, 0, nairobi))
	if n := mustSync(t, s); n != 1 {
		t.Fatalf("sync added %d, want 1 (10 weeks, 2 days before)", n)
	}
	e.clk.Set(time.Date(2026, 12, 29, 9, 0, 0, 0, nairobi))
	mustSync(t, s)
	if n := mustClaim(t, s); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	if txt := e.queue.sent()[0].Text; !strings.Contains(txt, "OPV 2") || !strings.Contains(txt, "in 2 days") {
		t.Errorf("text %q", txt)
	}
}

func TestSuperseded(t *testing.T) {
	rc := redis.NewClient(&redis.Options{})
	defer rc.Close()
	s, err := New(Config{Redis: rc, Consent: newConsent(), Queue: newQueue(), Adapters: adapters.NewRegistry(),
		Days: []int{7, 2, 0}, Location: nairobi})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 10, 0, 0, 0, 0, nairobi)
	at := func(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 0, 0, 0, nairobi) }
	for _, tc := range []struct {
		days int
		now  time.Time
		want bool
	}{
		{7, at(3, 9), false},   // on time
		{7, at(6, 9), false},   // late, 4 days left: no nearer reminder's day yet
		{7, at(8, 9), true},    // 2 days left: the 2-day one goes
		{7, at(8, 8), true},    // ... even before its hour
		{2, at(8, 9), false},   // that one
		{2, at(10, 8), true},   // the day itself: the day's own
		{0, at(10, 20), false}, // the nearest is never superseded
		{2, at(9, 23), false},  // 1 day left, the day's own is tomorrow
	} {
		if got := s.superseded(due, tc.days, tc.now); got != tc.want {
			t.Errorf("%d days before, at %v: superseded %v, want %v", tc.days, tc.now, got, tc.want)
		}
	}
}

// The default gateway run keeps push state in an embedded miniredis: the
// scripts work there too.
func TestEmbeddedRedis(t *testing.T) {
	m := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rc.Close()
	e := newEnv(t)
	e.rc = rc
	const user = "254799000001"
	e.register(t, user, "child", born)
	e.subscribe(user, "en", nil)
	a, b := e.scheduler(t, func(c *Config) { c.Lease = time.Minute }), e.scheduler(t)
	if n := mustSync(t, a); n != 2 {
		t.Fatalf("sync added %d, want 2", n)
	}
	if got, _, err := a.claim(context.Background(), e.clk.Now(), 10); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	e.clk.Add(61 * time.Second)
	if n := mustClaim(t, b); n != 1 {
		t.Fatalf("after the lease ran out sent %d, want 1", n)
	}
	if n := mustSync(t, a); n != 0 {
		t.Errorf("sync re-added %d", n)
	}
}

func TestSendAt(t *testing.T) {
	rc := redis.NewClient(&redis.Options{})
	defer rc.Close()
	due := time.Date(2026, 12, 10, 0, 0, 0, 0, nairobi)
	for _, tc := range []struct {
		at   string
		days int
		want time.Time
	}{
		{"", 2, time.Date(2026, 12, 8, 9, 0, 0, 0, nairobi)},
		{"00:00", 2, time.Date(2026, 12, 8, 0, 0, 0, 0, nairobi)},
		{"18:30", 0, time.Date(2026, 12, 10, 18, 30, 0, 0, nairobi)},
		{"7", 31, time.Date(2026, 11, 9, 7, 0, 0, 0, nairobi)},
	} {
		s, err := New(Config{Redis: rc, Consent: newConsent(), Queue: newQueue(), Adapters: adapters.NewRegistry(), SendAt: tc.at, Location: nairobi})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.sendAt(due, tc.days); !got.Equal(tc.want) {
			t.Errorf("SendAt %q, %d days before: %v, want %v", tc.at, tc.days, got, tc.want)
		}
	}
}
