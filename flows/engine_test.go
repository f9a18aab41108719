package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/gsm"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

type fakeCaller struct {
	res   adapters.Result
	err   error
	delay time.Duration
	panic bool
	got   adapters.Request
}

func (c *fakeCaller) Call(ctx context.Context, name string, req adapters.Request) (adapters.Result, error) {
	c.got = req
	if c.panic {
		panic("boom")
	}
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.res, c.err
}

func loadDemo(t testing.TB) *Flow {
	t.Helper()
	data, err := os.ReadFile("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("testdata/demo.yaml", data, Options{Adapters: []string{"fake"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// play starts f and applies inputs, returning the last screen.
func play(t *testing.T, f *Flow, env *Env, st *State, inputs ...string) Screen {
	t.Helper()
	s, err := f.Start(context.Background(), env, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if s, err = f.Step(context.Background(), env, st, in); err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
	}
	return s
}

func TestActionOutcomes(t *testing.T) {
	f := loadDemo(t)
	items := []any{map[string]any{"id": "a1", "name": "Alpha"}, map[string]any{"id": "b2", "name": "Beta"}}
	tests := []struct {
		name   string
		caller *fakeCaller
		want   string
		end    bool
	}{
		{"ok lists items", &fakeCaller{res: items}, "Results\n1. Alpha\n2. Beta\n0. Back\n00. Main menu", false},
		{"empty list", &fakeCaller{res: []any{}}, "Nothing found", true},
		{"not found", &fakeCaller{err: adapters.ErrNotFound}, "Nothing found", true},
		{"timeout branch", &fakeCaller{delay: time.Second}, "We will SMS you", true},
		{"error without branch", &fakeCaller{err: errors.New("down")}, "Sorry, the service is not available right now. Please try again later.", true},
		{"panic is an error", &fakeCaller{panic: true}, "Sorry, the service is not available right now. Please try again later.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			env := &Env{Adapters: tt.caller, MSISDN: "254700000001", Now: time.Now()}
			st := &State{Lang: "en"}
			if _, err := f.Start(ctx, env, st); err != nil {
				t.Fatal(err)
			}
			s, err := f.Step(ctx, env, st, "3")
			if err != nil {
				t.Fatal(err)
			}
			if s.Text != tt.want || s.End != tt.end {
				t.Errorf("got %q end=%v, want %q end=%v", s.Text, s.End, tt.want, tt.end)
			}
			if tt.caller.got.Op != "list" || tt.caller.got.Params["q"] != "254700000001" {
				t.Errorf("adapter got %+v", tt.caller.got)
			}
		})
	}
}

type smsBox struct{ to, text []string }

func (b *smsBox) Send(_ context.Context, msisdn, text string) error {
	b.to = append(b.to, msisdn)
	b.text = append(b.text, text)
	return nil
}

func TestSMSNode(t *testing.T) {
	f := loadDemo(t)
	c := &fakeCaller{res: []any{map[string]any{"id": "a1", "name": "Alpha"}}}
	box := &smsBox{}
	env := &Env{Adapters: c, MSISDN: "254700000001", Now: time.Now(), SMS: box}
	if s := play(t, f, env, &State{Lang: "en"}, "3", "1", "1"); s.Text != "Sent. Check your messages." {
		t.Fatalf("got %q", s.Text)
	}
	if len(box.text) != 1 || box.text[0] != "Item a1 as asked." || box.to[0] != "254700000001" {
		t.Fatalf("sent %v to %v", box.text, box.to)
	}
	// Without an SMS route the node takes its error branch.
	env.SMS = nil
	if s := play(t, f, env, &State{Lang: "en"}, "3", "1", "1"); !strings.HasPrefix(s.Text, "Sorry, the service is not available") {
		t.Fatalf("no route: %q", s.Text)
	}
}

func TestLateResultBySMS(t *testing.T) {
	f := loadDemo(t)
	c := &fakeCaller{res: []any{map[string]any{"id": "a1", "name": "Alpha"}}, delay: 80 * time.Millisecond}
	box := &smsBox{}
	var work []func(context.Context)
	env := &Env{Adapters: c, MSISDN: "254700000001", Now: time.Now(), SMS: box,
		Later: func(w func(context.Context)) { work = append(work, w) }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	st := &State{Lang: "en"}
	f.Start(ctx, env, st)
	s, err := f.Step(ctx, env, st, "3")
	if err != nil || s.Text != "We will SMS you" || !s.End {
		t.Fatalf("step: %q %v", s.Text, err)
	}
	if len(work) != 1 || len(box.text) != 0 {
		t.Fatalf("work %d, sent %d before the late call", len(work), len(box.text))
	}
	work[0](context.Background())
	if len(box.text) != 1 || box.text[0] != "Your results: Alpha" {
		t.Fatalf("late SMS %v", box.text)
	}
}

// An action with late_sms and no on_timeout: the built-in "we will send
// the answer by SMS" END, and only when an SMS can be sent.
func TestLateDefaultScreen(t *testing.T) {
	src := `id: late
languages: [en]
nodes:
  main:
    type: menu
    text: Hi
    options: [{label: Go, next: get}]
  get:
    type: action
    call: slow
    save: r
    next: show
    late_sms: "Result: {{r.v}}"
  show: {type: end, text: "{{r.v}}"}
`
	f, err := Parse("late.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeCaller{res: map[string]any{"v": "42"}, delay: 50 * time.Millisecond}
	for _, withSMS := range []bool{true, false} {
		env := &Env{Adapters: c, Now: time.Now(), Later: func(func(context.Context)) {}}
		if withSMS {
			env.SMS = &smsBox{}
		}
		want := "This is taking longer than usual. We will send you the answer by SMS."
		if !withSMS {
			want = "Sorry, the service is not available right now. Please try again later."
		}
		st := &State{}
		f.Start(context.Background(), env, st)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		s, _ := f.Step(ctx, env, st, "1")
		cancel()
		if s.Text != want || !s.End {
			t.Errorf("sms route %v: %q", withSMS, s.Text)
		}
	}
}

func TestItemsSetAndStaleResultsCleared(t *testing.T) {
	f := loadDemo(t)
	c := &fakeCaller{res: []any{map[string]any{"id": "a1", "name": "Alpha"}, map[string]any{"id": "b2", "name": "Beta"}}}
	env := &Env{Adapters: c, Now: time.Now()}
	st := &State{Lang: "en"}
	if s := play(t, f, env, st, "3", "2", "2"); s.Text != "Item b2" || !s.End {
		t.Fatalf("got %+v", s)
	}
	if st.Vars["res.count"] != "2" || st.Vars["res.2.name"] != "Beta" {
		t.Fatalf("vars %v", st.Vars)
	}
	// A shorter result must not leave the old second item behind.
	c.res = []any{map[string]any{"id": "z9", "name": "Zed"}}
	st2 := &State{Lang: "en", Vars: st.Vars}
	s := play(t, f, env, st2, "3")
	if s.Text != "Results\n1. Zed\n0. Back\n00. Main menu" {
		t.Fatalf("got %q", s.Text)
	}
	if _, ok := st2.Vars["res.2.name"]; ok {
		t.Fatalf("stale item kept: %v", st2.Vars)
	}
}

func TestRouterAndValidation(t *testing.T) {
	f := loadDemo(t)
	env := &Env{Now: time.Now()}
	for _, tt := range []struct {
		inputs []string
		want   string
	}{
		{[]string{"2", "17"}, "Under 18: 17"},
		{[]string{"2", "18"}, "Adult: 18"},
		{[]string{"2", " 42 "}, "Adult: 42"},
		{[]string{"2", "0x10"}, "Age must be 1 to 120.\nEnter your age\n0. Back\n00. Main menu"},
		{[]string{"2", "121"}, "Age must be 1 to 120.\nEnter your age\n0. Back\n00. Main menu"},
		{[]string{"2", "121", "5"}, "Under 18: 5"},
	} {
		st := &State{Lang: "en"}
		if s := play(t, f, env, st, tt.inputs...); s.Text != tt.want {
			t.Errorf("%v: got %q, want %q", tt.inputs, s.Text, tt.want)
		}
	}
}

func TestLanguageChooser(t *testing.T) {
	f := loadDemo(t)
	env := &Env{Now: time.Now(), MSISDN: "2547"}
	st := &State{Lang: "en"}
	s := play(t, f, env, st, "4")
	if s.Text != "Choose your language\n1. English\n2. Français\n0. Back" {
		t.Fatalf("chooser: %q", s.Text)
	}
	s = play(t, f, env, st, "4", "2")
	if st.Lang != "fr" || !strings.HasPrefix(s.Text, "Bienvenue\n") {
		t.Fatalf("after choosing: lang %s, %q", st.Lang, s.Text)
	}
	// A language the flow lacks falls back to the default.
	st = &State{Lang: "sw"}
	if s := play(t, f, env, st); !strings.HasPrefix(s.Text, "Welcome 2547") {
		t.Fatalf("fallback: %q", s.Text)
	}
}

func TestHistoryBounded(t *testing.T) {
	f := loadDemo(t)
	env := &Env{Now: time.Now()}
	st := &State{Lang: "en"}
	play(t, f, env, st)
	for range 50 {
		f.Step(context.Background(), env, st, "1") // into fruits
		f.Step(context.Background(), env, st, "0") // and back
		f.Step(context.Background(), env, st, "1")
	}
	if len(st.History) > maxHistory {
		t.Fatalf("history grew to %d", len(st.History))
	}
}

// pagedFlow has a menu of n options with the given label pattern.
func pagedFlow(t *testing.T, lang string, labels []string) *Flow {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "id: paged\nlanguages: [%s]\nnodes:\n  main:\n    type: menu\n    text: \"%s\"\n    options:\n", lang, labels[0])
	for _, l := range labels[1:] {
		fmt.Fprintf(&b, "      - {label: \"%s\", next: done}\n", l)
	}
	b.WriteString("  done: {type: end, text: Done}\n")
	f, err := Parse("paged.yaml", []byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkPages walks every page with 98 and checks each fits the limit, no
// label is cut, every option appears once, and 0 walks back.
func checkPages(t *testing.T, f *Flow, labels []string) []string {
	t.Helper()
	env := &Env{Now: time.Now()}
	st := &State{}
	s := play(t, f, env, st)
	var pages []string
	seen := map[string]bool{}
	for {
		pages = append(pages, s.Text)
		if l := gsm.Measure(s.Text); !DefaultLimit.Fits(l) {
			t.Fatalf("page %d is %d units (ucs2=%v):\n%s", len(pages), l.Units, l.UCS2, s.Text)
		}
		for _, line := range strings.Split(s.Text, "\n") {
			num, label, ok := strings.Cut(line, ". ")
			if !ok || num == "98" || num == "0" || num == "00" {
				continue
			}
			seen[label] = true
		}
		if !strings.Contains(s.Text, "\n98. ") {
			break
		}
		s, _ = f.Step(context.Background(), env, st, "98")
		if len(pages) > 50 {
			t.Fatal("too many pages")
		}
	}
	for _, l := range labels[1:] {
		if !seen[l] {
			t.Errorf("label %q never shown whole", l)
		}
	}
	for i := len(pages) - 2; i >= 0; i-- {
		s, _ = f.Step(context.Background(), env, st, "0")
		if s.Text != pages[i] {
			t.Fatalf("back to page %d:\n%s\nwant:\n%s", i+1, s.Text, pages[i])
		}
	}
	return pages
}

func TestPaginationGSM(t *testing.T) {
	labels := []string{"Choose a market"}
	for i := 1; i <= 14; i++ {
		labels = append(labels, fmt.Sprintf("Market number %d {in town}", i))
	}
	f := pagedFlow(t, "en", labels)
	pages := checkPages(t, f, labels)
	if len(pages) < 2 {
		t.Fatalf("expected several pages, got %d", len(pages))
	}
	want := "Choose a market\n1. Market number 1 {in town}\n2. Market number 2 {in town}\n3. Market number 3 {in town}\n4. Market number 4 {in town}\n5. Market number 5 {in town}\n98. More"
	if pages[0] != want {
		t.Errorf("first page:\n%s\nwant:\n%s", pages[0], want)
	}
	// Numbers go on across pages, and each names one choice on any page.
	env := &Env{Now: time.Now()}
	for _, in := range []string{"6", "1", "14"} {
		st := &State{}
		play(t, f, env, st, "98")
		if s, _ := f.Step(context.Background(), env, st, in); s.Text != "Done" {
			t.Errorf("option %s from page 2: %q", in, s.Text)
		}
	}
	// An invalid choice on a full page still shows the hint: the page is
	// laid out again with room for it.
	st := &State{}
	play(t, f, env, st)
	s, _ := f.Step(context.Background(), env, st, "15")
	if !s.Rejected || !strings.HasPrefix(s.Text, "Invalid choice. Try again.\nChoose a market\n1. ") || !DefaultLimit.Fits(gsm.Measure(s.Text)) {
		t.Errorf("invalid choice:\n%s", s.Text)
	}
	for _, bad := range []string{"0", "01", "+1", "-1", "1.0", "99999999999999999999"} {
		st := &State{}
		play(t, f, env, st)
		if s, _ := f.Step(context.Background(), env, st, bad); !s.Rejected && s.Text == "Done" {
			t.Errorf("input %q chose an option", bad)
		}
	}
}

func TestPaginationUCS2(t *testing.T) {
	// Amharic needs UCS-2: 80 characters a screen instead of 182.
	labels := []string{"ገበያ ይምረጡ"}
	for i := 1; i <= 8; i++ {
		labels = append(labels, fmt.Sprintf("የአዲስ አበባ ገበያ %d", i))
	}
	f := pagedFlow(t, "am", labels)
	pages := checkPages(t, f, labels)
	// The same menu in GSM text fits on one screen; in UCS-2 it does not.
	if len(pages) < 3 {
		t.Fatalf("want at least 3 UCS-2 pages, got %d", len(pages))
	}
	if !strings.HasSuffix(pages[0], "\n98. ተጨማሪ") {
		t.Errorf("first page should end with the Amharic More:\n%s", pages[0])
	}
}

func TestLongMenuTextKeptWholeOnItsOwnPage(t *testing.T) {
	// 160 characters: with "98. More" (and "0. Back") it fits, with an option too it does not.
	labels := []string{strings.Repeat("a", 160)}
	labels = append(labels, "Other market", "Send me this by SMS", "Done")
	f := pagedFlow(t, "en", labels)
	env := &Env{Now: time.Now()}
	st := &State{}
	s := play(t, f, env, st)
	if s.Text != labels[0]+"\n98. More" {
		t.Fatalf("page 1: %q", s.Text)
	}
	if s, _ = f.Step(context.Background(), env, st, "98"); s.Text != "1. Other market\n2. Send me this by SMS\n3. Done\n0. Back" {
		t.Fatalf("page 2: %q", s.Text)
	}
}

func TestLongMenuTextIsCutNotLabels(t *testing.T) {
	src := `id: cut
languages: [en]
nodes:
  main:
    type: menu
    text: "{{long}}"
    options:
      - {label: Go, next: set}
      - {label: Bye, next: bye}
  bye: {type: end, text: Bye}
  set:
    type: menu
    text: "x"
    options:
      - {label: Fill, next: main, set: {long: "` + strings.Repeat("word ", 60) + `"}}
`
	f, err := Parse("cut.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Now: time.Now()}
	st := &State{}
	s := play(t, f, env, st, "1", "1")
	if !DefaultLimit.Fits(gsm.Measure(s.Text)) || !strings.HasSuffix(s.Text, "...\n98. More\n0. Back") {
		t.Fatalf("got %d chars:\n%s", len(s.Text), s.Text)
	}
	if s, _ = f.Step(context.Background(), env, st, "98"); s.Text != "1. Go\n2. Bye\n0. Back" {
		t.Fatalf("page 2: %q", s.Text)
	}
}

func TestStaleNode(t *testing.T) {
	f := loadDemo(t)
	st := &State{Node: "gone"}
	if _, err := f.Step(context.Background(), &Env{}, st, "1"); !errors.Is(err, ErrStale) {
		t.Fatalf("err = %v, want ErrStale", err)
	}
}

func TestConditions(t *testing.T) {
	vars := map[string]string{"qty": "12", "crop": "Maize", "empty": ""}
	sc := &scope{st: &State{Vars: vars}, env: &Env{}}
	for _, tt := range []struct {
		src  string
		want bool
	}{
		{"qty > 10", true},
		{"qty >= 12 and qty <= 12", true},
		{"qty < 10", false},
		{"qty == 12.0", true},
		{"crop == maize", true},
		{"crop != 'Maize'", false},
		{"crop in (beans, maize)", true},
		{"crop not in (beans, rice)", true},
		{"empty is empty and crop is set", true},
		{"missing is set", false},
		{"qty < 5 or crop == maize", true},
		{"qty < 5 or crop == rice and qty > 1", false},
		{"crop > 3", false},
	} {
		c, err := parseCond(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := c.eval(sc); got != tt.want {
			t.Errorf("%q = %v, want %v", tt.src, got, tt.want)
		}
	}
	for _, bad := range []string{"", "qty", "qty >", "qty = 1", "1 == qty", "qty > abc", "crop in maize", "crop in (a,", "qty is big", "qty == 1 xor x", "'q' == 1"} {
		if _, err := parseCond(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestInputRules(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	one, hundred := 1.0, 100.0
	for _, tt := range []struct {
		rule inputRule
		in   string
		want string
		ok   bool
	}{
		{inputRule{kind: "text"}, "Arusha", "Arusha", true},
		{inputRule{kind: "text"}, "", "", false},
		{inputRule{kind: "number", min: &one, max: &hundred}, "2,5", "2.5", true},
		{inputRule{kind: "number", min: &one, max: &hundred}, "100.5", "", false},
		{inputRule{kind: "integer"}, "2.5", "", false},
		{inputRule{kind: "date"}, "5/3/2026", "2026-03-05", true},
		{inputRule{kind: "date"}, "05032026", "2026-03-05", true},
		{inputRule{kind: "date"}, "31/02/2026", "", false},
		{inputRule{kind: "date", notFuture: true}, "01/01/2027", "", false},
		{inputRule{kind: "text", oneOf: []string{"Yes", "No"}}, "yes", "Yes", true},
		{inputRule{kind: "text", minLen: 2, maxLen: 3}, "ሰላምታ", "", false}, // 4 characters, 12 bytes
		{inputRule{kind: "text", maxLen: 4}, "ሰላምታ", "ሰላምታ", true},
	} {
		got, ok := tt.rule.check(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%+v %q: got %q %v, want %q %v", tt.rule, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFlatten(t *testing.T) {
	vars := map[string]string{}
	flatten(vars, "p", map[string]any{"price": 3200.0, "unit": "bag", "ok": true,
		"markets": []any{map[string]any{"name": "Eldoret"}, "Kisumu"}}, keepAll)
	want := map[string]string{"p.price": "3200", "p.unit": "bag", "p.ok": "true",
		"p.markets.count": "2", "p.markets.1.name": "Eldoret", "p.markets.2": "Kisumu"}
	if fmt.Sprint(vars) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", vars, want)
	}
}

func TestWildMatch(t *testing.T) {
	for _, tt := range []struct {
		name, pattern string
		want          bool
	}{
		{"jobs.12.title", "jobs.#.title", true},
		{"jobs.x.title", "jobs.#.title", false},
		{"jobs..title", "jobs.#.title", false},
		{"jobs.1", "jobs.#", true},
		{"jobs.1.title", "jobs.#", false},
		{"jobs.count", "jobs.count", true},
		{"jobs.items.3.id", "jobs.items.#.id", true},
		{"p.price", "p.price", true},
		{"p.prices", "p.price", false},
		{"p.pric", "p.price", false},
	} {
		if got := wildMatch([]byte(tt.name), tt.pattern); got != tt.want {
			t.Errorf("wildMatch(%q, %q) = %v", tt.name, tt.pattern, got)
		}
	}
}

func TestOnlyUsedResultFieldsKept(t *testing.T) {
	f := loadDemo(t)
	c := &fakeCaller{res: []any{
		map[string]any{"id": "a1", "name": "Alpha", "notes": "long text the flow never shows", "extra": map[string]any{"x": 1.0}},
	}}
	st := &State{Lang: "en"}
	play(t, f, &Env{Adapters: c, Now: time.Now()}, st, "3")
	want := map[string]string{"res.count": "1", "res.1.id": "a1", "res.1.name": "Alpha"}
	if fmt.Sprint(st.Vars) != fmt.Sprint(want) {
		t.Fatalf("vars %v, want %v", st.Vars, want)
	}
}

type countingCaller struct {
	calls int
	res   adapters.Result
}

func (c *countingCaller) Call(context.Context, string, adapters.Request) (adapters.Result, error) {
	c.calls++
	return c.res, nil
}

// A list only its menu reads is not kept in the session: it is fetched
// again when the menu needs it (to take a choice, to go back to it).
func TestScopedListDroppedAndRefetched(t *testing.T) {
	src := `id: jobs
languages: [en]
nodes:
  main:
    type: menu
    text: Jobs
    options:
      - {label: Browse, next: load}
  load:
    type: action
    call: jobs
    save: list
    next: pick
  pick:
    type: menu
    text: Pick a job
    items: {from: list, label: "{{item.title}}", set: {job: "{{item.id}}"}, next: detail}
  detail:
    type: menu
    text: "Job {{job}}"
    options:
      - {label: Done, next: bye}
  bye: {type: end, text: Bye}
`
	f, err := Parse("jobs.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &countingCaller{res: []any{map[string]any{"id": "j1", "title": "Driver"}, map[string]any{"id": "j2", "title": "Nurse"}}}
	env := &Env{Adapters: c, Now: time.Now()}
	st := &State{}
	s := play(t, f, env, st, "1")
	if s.Text != "Pick a job\n1. Driver\n2. Nurse\n0. Back\n00. Main menu" || st.Entry != "load" {
		t.Fatalf("list: %q entry %q", s.Text, st.Entry)
	}
	if len(st.Vars) != 0 {
		t.Fatalf("the list stayed in the session: %v", st.Vars)
	}
	s, _ = f.Step(context.Background(), env, st, "2")
	if s.Text != "Job j2\n1. Done\n0. Back\n00. Main menu" {
		t.Fatalf("detail: %q", s.Text)
	}
	if fmt.Sprint(st.Vars) != "map[job:j2]" || fmt.Sprint(st.History) != "[main load]" {
		t.Fatalf("after choosing: vars %v history %v", st.Vars, st.History)
	}
	s, _ = f.Step(context.Background(), env, st, "0")
	// Calls: the list, the choice (fetched again to know what 2 is), back.
	if s.Text != "Pick a job\n1. Driver\n2. Nurse\n0. Back\n00. Main menu" || c.calls != 3 {
		t.Fatalf("back: %q after %d calls", s.Text, c.calls)
	}
	// If the list has changed meanwhile, the choice is judged on the new one
	// (here empty: on_empty is next, the same menu, now without items).
	c.res = []any{}
	if s, _ = f.Step(context.Background(), env, st, "1"); s.Text != "Invalid choice. Try again.\nPick a job\n0. Back\n00. Main menu" {
		t.Fatalf("list gone: %q", s.Text)
	}
}

func TestRouteShortcuts(t *testing.T) {
	data, _ := os.ReadFile("testdata/demo.yaml")
	set, err := Compile(map[string][]byte{"demo.yaml": data}, Options{Adapters: []string{"fake"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dial string
		ok   bool
		rest string
	}{
		{"*100#", true, ""},
		{"*100*1*2#", true, "1,2"},
		{"*100*5*1#", true, "1"}, // *100*5# is a code of its own
		{"*100*5", true, ""},
		{" *100# ", true, ""},
		{"*101#", false, ""},
		{"100", false, ""},
		{"*", false, ""},
		{"", false, ""},
	} {
		f, rest, ok := set.Route(tt.dial)
		if ok != tt.ok || strings.Join(rest, ",") != tt.rest || (ok && f.ID != "demo") {
			t.Errorf("Route(%q) = %v %q %v", tt.dial, f != nil, rest, ok)
		}
	}
	if f, ok := set.Keyword(" Demo "); !ok || f.ID != "demo" {
		t.Error("keyword lookup")
	}
}

// BenchmarkStep is one engine step: a menu choice that sets a variable
// and renders the next menu (the fsm transition, the history, templates,
// pagination measure).
func BenchmarkStep(b *testing.B) {
	f := loadDemo(b)
	env := &Env{Now: time.Now(), MSISDN: "254700000001"}
	ctx := context.Background()
	vars := map[string]string{"fruit": "apple"}
	b.ReportAllocs()
	for b.Loop() {
		st := State{Node: "fruits", Lang: "en", Vars: vars, History: []string{"main"}}
		if s, _ := f.Step(ctx, env, &st, "2"); !s.End {
			b.Fatal(s.Text)
		}
	}
}

// BenchmarkStepMenu renders a five-option menu after a choice.
func BenchmarkStepMenu(b *testing.B) {
	f := loadDemo(b)
	env := &Env{Now: time.Now(), MSISDN: "254700000001"}
	ctx := context.Background()
	vars := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		st := State{Node: "main", Lang: "en", Vars: vars}
		if s, _ := f.Step(ctx, env, &st, "1"); s.End {
			b.Fatal(s.Text)
		}
	}
}

type pager struct{}

func (pager) Call(_ context.Context, _ string, req adapters.Request) (adapters.Result, error) {
	p, _ := strconv.Atoi(req.Params["page"])
	if p == 0 {
		return nil, adapters.Errorf(adapters.KindInvalid, "bad page %q", req.Params["page"])
	}
	return map[string]any{"page": p, "more": p < 3, "next": p + 1,
		"items": []any{map[string]any{"id": fmt.Sprint("j", p), "name": fmt.Sprint("Job ", p)}}}, nil
}

// A "more" option that fetches the next page through an action comes back
// to the same screen: a refresh, so 0 leaves the list instead of walking
// back over every page.
func TestPagingThroughAnActionIsARefresh(t *testing.T) {
	src := `id: paging
languages: [en]
start: check
nodes:
  check: {type: router, routes: [{when: page is set, next: menu}], default: menu}
  menu:
    type: menu
    text: Start
    options:
      - {label: Browse, set: {page: "1"}, next: load}
      - {label: Broken, set: {page: "0"}, next: load}
  load:
    type: action
    call: list
    params: {page: "{{page}}"}
    save: res
    next: show
    on_invalid: refused
  refused: {type: end, text: "Refused"}
  show:
    type: menu
    text: "Page {{res.page}}"
    items: {from: res.items, label: "{{item.name}}", next: done}
    options: [{label: More, when: res.more == true, set: {page: "{{res.next}}"}, next: load}]
  done: {type: end, text: Bye}
`
	f, err := Parse("paging.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Adapters: pager{}, Now: time.Now()}
	st := &State{}
	// The start is a router: its menu is the main menu, without 0 or 00.
	if s := play(t, f, env, st); s.Text != "Start\n1. Browse\n2. Broken" {
		t.Fatalf("start: %q", s.Text)
	}
	if s := play(t, f, env, st, "1", "2", "2"); s.Text != "Page 3\n1. Job 3\n0. Back\n00. Main menu" {
		t.Fatalf("page 3: %q", s.Text)
	}
	if s, _ := f.Step(context.Background(), env, st, "0"); s.Text != "Start\n1. Browse\n2. Broken" {
		t.Fatalf("back from page 3: %q", s.Text)
	}
	// KindInvalid takes on_invalid, not on_error.
	if s := play(t, f, env, &State{}, "2"); s.Text != "Refused" {
		t.Fatalf("invalid: %q", s.Text)
	}
}

func TestNavKeysHidden(t *testing.T) {
	src := `id: nk
languages: [en]
nodes:
  main: {type: menu, text: Main, options: [{label: Go, next: q}, {label: End, next: bye}]}
  q: {type: menu, text: "Question", nav: keys, options: [{label: Next, next: bye}]}
  bye: {type: end, text: Bye}
`
	f, err := Parse("nk.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Now: time.Now()}
	st := &State{}
	if s := play(t, f, env, st, "1"); s.Text != "Question\n1. Next" {
		t.Fatalf("lines hidden: %q", s.Text)
	}
	if s, _ := f.Step(context.Background(), env, st, "00"); s.Text != "Main\n1. Go\n2. End" {
		t.Fatalf("00 still works: %q", s.Text)
	}
	if _, err := Parse("nk.yaml", []byte(strings.Replace(src, "nav: keys", "nav: maybe", 1)), Options{}); err == nil ||
		!strings.Contains(err.Error(), `nodes.q.nav: expected true, false or keys, got "maybe"`) {
		t.Fatalf("bad nav: %v", err)
	}
}

// An input that accepts 0 as an answer takes it: 0 days is not "back".
func TestInputTakesNavigationKeys(t *testing.T) {
	src := `id: water
languages: [en]
nodes:
  main: {type: menu, text: Water, options: [{label: Report, next: village}]}
  village: {type: input, text: "Village?", save: village, next: days}
  days: {type: input, text: "Days broken?", save: days, validate: {type: integer, min: 0, max: 365}, next: done}
  done: {type: end, text: "{{village}}: {{days}} days"}
`
	f, err := Parse("water.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Now: time.Now()}
	st := &State{}
	// On a free-text screen 0 is still back.
	if s := play(t, f, env, st, "1", "0"); s.Text != "Water\n1. Report" {
		t.Fatalf("0 on free text: %q", s.Text)
	}
	st = &State{}
	if s := play(t, f, env, st, "1", "Kibera"); s.Text != "Days broken?" {
		t.Fatalf("the number screen shows no 0 or 00 line: %q", s.Text)
	}
	if s, _ := f.Step(context.Background(), env, st, "0"); s.Text != "Kibera: 0 days" {
		t.Fatalf("0 as an answer: %q", s.Text)
	}
}

// An adapter error that echoes a sensitive input is not logged.
func TestSensitiveInputNotLogged(t *testing.T) {
	src := `id: pin
languages: [en]
nodes:
  main: {type: menu, text: Bank, options: [{label: Balance, next: ask}]}
  ask: {type: input, text: "PIN?", save: pin, sensitive: true, validate: {pattern: "[0-9]{4}"}, next: check}
  check: {type: action, call: bank, params: {pin: "{{pin}}"}, next: done}
  done: {type: end, text: OK}
`
	f, err := Parse("pin.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	env := &Env{Now: time.Now(), Log: logcheck.Wrap(t, slog.NewTextHandler(&logs, nil)),
		Adapters: &fakeCaller{err: adapters.Errorf(adapters.KindInvalid, "param pin: wrong pin %q", "4321")}}
	if s := play(t, f, env, &State{}, "1", "4321"); !s.End {
		t.Fatalf("got %q", s.Text)
	}
	if strings.Contains(logs.String(), "4321") || !strings.Contains(logs.String(), "adapter refused the request") {
		t.Fatalf("logs: %s", logs.String())
	}
}

// A sensitive input may not go where it would outlive the session: into
// a subscription (kept by the consent registry and its audit trail) or an
// SMS text (kept by the outbox until sent).
func TestSensitiveInputNotKept(t *testing.T) {
	const head = `id: pin
languages: [en]
nodes:
  main: {type: menu, text: Bank, options: [{label: Go, next: ask}]}
  ask: {type: input, text: "PIN?", save: pin, sensitive: true, validate: {pattern: "[0-9]{4}"}, next: use}
`
	for _, c := range []struct {
		name, use, want string
	}{
		{"subscribe params", `  use: {type: subscribe, topic: alerts, label: Alerts, params: {code: "{{pin}}"}, next: done}` + "\n", "nodes.use.params"},
		{"subscribe topic", `  use: {type: subscribe, topic: "alerts-{{pin}}", label: Alerts, next: done}` + "\n", "nodes.use.topic"},
		{"subscribe label", `  use: {type: subscribe, topic: alerts, label: "Alerts {{pin}}", next: done}` + "\n", "nodes.use.label"},
		{"sms text", `  use: {type: sms, text: "Your PIN is {{pin}}", next: done}` + "\n", "nodes.use.text"},
		{"late sms", `  use: {type: action, call: bank, timeout: 1s, late_sms: "PIN {{pin}}: {{r.x}}", save: r, next: done, on_timeout: done}` + "\n", "nodes.use.late_sms"},
		{"adapter params (session only)", `  use: {type: action, call: bank, params: {pin: "{{pin}}"}, next: done}` + "\n", ""},
		{"sms without it", `  use: {type: sms, text: "Thank you", next: done}` + "\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("pin.yaml", []byte(head+c.use+"  done: {type: end, text: OK}\n"), Options{})
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "sensitive input")):
				t.Errorf("err = %v, want a refusal at %s", err, c.want)
			}
		})
	}
}

type failingSMS struct{}

func (failingSMS) Send(context.Context, string, string) error { return errors.New("outbox: capped") }

// An SMS that cannot be queued is logged without its text or the number.
func TestSMSFailureLogsNoTextNorNumber(t *testing.T) {
	f := loadDemo(t)
	c := &fakeCaller{res: []any{map[string]any{"id": "a1", "name": "Alpha"}}}
	chk := logcheck.NewChecker(t)
	chk.Forbid("Item a1 as asked.", "254700000001")
	env := &Env{Adapters: c, MSISDN: "254700000001", Now: time.Now(), SMS: failingSMS{}, Log: chk.Logger(nil)}
	if s := play(t, f, env, &State{Lang: "en"}, "3", "1", "1"); !strings.HasPrefix(s.Text, "Sorry, the service is not available") {
		t.Fatalf("got %q", s.Text)
	}
	if chk.Lines() == 0 {
		t.Fatal("the failure was not logged")
	}
}
