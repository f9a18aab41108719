package quiz

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/adaptertest"
	"github.com/ussdgw/ussdgw/adapters/internal/kvtest"
	"github.com/ussdgw/ussdgw/adapters/internal/source"

	"github.com/ussdgw/ussdgw/internal/logcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(logcheck.Checked(m)) }

const (
	dataFile = "../../flows-examples/data/quiz.yaml"
	user     = "254722000001"
	other    = "254722000002"
)

func loadShipped(t testing.TB) *source.Source[data] {
	t.Helper()
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load("quiz.yaml", raw, false)
	if err != nil {
		t.Fatal(err)
	}
	return source.FromData(d)
}

// newSeeded returns an adapter whose attempts are seeded 42, 43, ...
func newSeeded(t testing.TB, kv adapters.KV) *Adapter {
	var mu sync.Mutex
	seed := uint64(41)
	return newAdapter(loadShipped(t), kv, 0, func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		seed++
		return seed
	})
}

var p = adaptertest.Params

func do(t *testing.T, a *Adapter, op string, params map[string]string) map[string]any {
	t.Helper()
	res, err := a.Call(context.Background(), adapters.Request{Op: op, Params: params})
	if err != nil {
		t.Fatalf("%s %v: %v", op, params, err)
	}
	if err := adaptertest.CheckResult(res, 182); err != nil {
		t.Fatal(err)
	}
	m, _ := res.(map[string]any)
	return m
}

func TestConformance(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Harness{
				New: func(t *testing.T, log *slog.Logger) adapters.Adapter {
					a := newAdapter(loadShipped(t), st.KV, 0, func() uint64 { return 7 })
					do(t, a, "start", p("msisdn", user, "course", "farming"))
					// other has finished a numeracy quiz.
					do(t, a, "start", p("msisdn", other, "course", "numeracy"))
					for range 5 {
						do(t, a, "answer", p("msisdn", other, "course", "numeracy", "answer", "1"))
					}
					return a
				},
				OK: []adapters.Request{
					{Op: "courses", Params: p("lang", "sw")},
					{Op: "courses", Params: p("msisdn", user)},
					{Op: "start", Params: p("msisdn", user, "course", "farming", "lang", "fr")},
					{Op: "question", Params: p("msisdn", user, "course", "farming", "lang", "sw")},
					{Op: "status", Params: p("msisdn", user, "course", "farming")},
					{Op: "result", Params: p("msisdn", other, "course", "numeracy", "lang", "fr")},
					{Op: "current", Params: p("msisdn", user, "lang", "sw")},
				},
				NotFound: []adapters.Request{
					{Op: "question", Params: p("msisdn", user, "course", "maternal")},
					{Op: "question", Params: p("msisdn", other, "course", "numeracy")},
					{Op: "result", Params: p("msisdn", user, "course", "farming")},
					{Op: "start", Params: p("msisdn", user, "course", "astrophysics")},
					{Op: "answer", Params: p("msisdn", other, "course", "numeracy", "answer", "1")},
					{Op: "current", Params: p("msisdn", other)},
				},
				Invalid: []adapters.Request{
					{Op: "answer", Params: p("msisdn", user, "course", "farming", "answer", "yes")},
					{Op: "answer", Params: p("msisdn", user, "course", "farming", "answer", "1", "n", "4")},
					{Op: "status", Params: p("msisdn", "07x", "course", "farming")},
				},
				Private: []string{user, other},
			})
		})
	}
}

func TestOrderIsSeeded(t *testing.T) {
	c := loadShipped(t).Current().course["farming"]
	got := strings.Join(order(c, 5, 42), ",")
	if got != strings.Join(order(c, 5, 42), ",") {
		t.Fatal("the same seed drew two orders")
	}
	if want := "f1,f3,f6,f2,f4"; got != want {
		t.Errorf("seed 42 drew %s, want %s", got, want)
	}
	seen := map[string]bool{}
	for s := range uint64(50) {
		seen[strings.Join(order(c, 5, s), ",")] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 seeds drew only %d orders", len(seen))
	}
}

func TestAttempt(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			a := newSeeded(t, st.KV)
			base := p("msisdn", user, "course", "farming")
			with := func(kv ...string) map[string]string {
				m := p(kv...)
				for k, v := range base {
					m[k] = v
				}
				return m
			}
			if s := do(t, a, "status", base); s["state"] != "new" || s["attempts"] != 0 {
				t.Errorf("status before = %v", s)
			}
			// Seed 42: f1, f3, f6, f2, f4.
			q := do(t, a, "start", with("lang", "sw"))
			b, _ := json.Marshal(q)
			if want := `{"course":"farming","course_name":"Misingi ya kilimo","n":1,"options":[{"id":"1","name":"Mwanzo wa mvua"},{"id":"2","name":"Wakati wa kiangazi"},{"id":"3","name":"Mara baada ya mavuno"}],"text":"Ni wakati gani bora wa kupanda mahindi?","total":5}`; string(b) != want {
				t.Errorf("first question\n got %s\nwant %s", b, want)
			}
			r := do(t, a, "answer", with("answer", "1", "n", "1"))
			if r["correct"] != true || r["score"] != 1 || r["n"] != 1 || r["done"] != false || r["right"] != "1" {
				t.Errorf("right answer: %v", r)
			}
			// A retried submission of the same answer counts once.
			_, err := a.Call(context.Background(), adapters.Request{Op: "answer", Params: with("answer", "1", "n", "1")})
			if adapters.KindOf(err) != adapters.KindInvalid {
				t.Errorf("double submission: %v", err)
			}
			r = do(t, a, "answer", with("answer", "3", "lang", "fr"))
			if r["correct"] != false || r["score"] != 1 || r["right_text"] != "Les racines au semis" ||
				r["feedback"] != "Le DAP est riche en phosphore, qui fortifie les racines." {
				t.Errorf("wrong answer: %v", r)
			}
			// The session ends; later, a new gateway process resumes at question 3.
			b2 := newSeeded(t, st.KV)
			if s := do(t, b2, "status", base); s["state"] != "started" || s["answered"] != 2 || s["score"] != 1 {
				t.Errorf("status during = %v", s)
			}
			if q := do(t, b2, "question", base); q["n"] != 3 || q["text"] != "Why grow beans after maize?" {
				t.Errorf("resumed at %v", q)
			}
			courses, _ := b2.Call(context.Background(), adapters.Request{Op: "courses", Params: p("msisdn", user)})
			if st := courses.([]any)[0].(map[string]any)["state"]; st != "started" {
				t.Errorf("courses state = %v", st)
			}
			for _, ans := range []string{"1", "2", "2"} { // f6, f2, f4: all right
				r = do(t, b2, "answer", with("answer", ans))
			}
			b, _ = json.Marshal(r)
			if want := `{"attempts":1,"best":4,"correct":true,"course":"farming","course_name":"Farming basics","done":true,"feedback":"Dry grain well and use hermetic bags against weevils and aflatoxin.","n":5,"passed":true,"percent":"80%","right":"2","right_text":"Well dried, in hermetic bags","score":4,"sms":"Farming basics quiz: 4/5 (80%). Passed. Well done!","total":5,"verdict":"Passed. Well done!"}`; string(b) != want {
				t.Errorf("last answer\n got %s\nwant %s", b, want)
			}
			if _, err := b2.Call(context.Background(), adapters.Request{Op: "question", Params: base}); adapters.KindOf(err) != adapters.KindNotFound {
				t.Errorf("question after the end: %v", err)
			}
			// A second attempt (seed 43 in this process: a new order) keeps the best score.
			b2.Call(context.Background(), adapters.Request{Op: "start", Params: base})
			for range 5 {
				do(t, b2, "answer", with("answer", "3"))
			}
			res := do(t, b2, "result", with("lang", "sw"))
			if res["score"] != 0 || res["best"] != 4 || res["attempts"] != 2 || res["passed"] != false ||
				res["sms"] != "Jaribio la Misingi ya kilimo: 0/5 (0%). Bado hujafaulu. Jaribu tena!" {
				t.Errorf("result = %v", res)
			}
		})
	}
}

// current offers the quiz under way that was touched last, and nothing
// once every quiz is finished.
func TestCurrent(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			a := newSeeded(t, st.KV)
			clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
			a.now = func() time.Time { return clock }
			none := func() {
				t.Helper()
				_, err := a.Call(context.Background(), adapters.Request{Op: "current", Params: p("msisdn", user)})
				if adapters.KindOf(err) != adapters.KindNotFound {
					t.Errorf("current with no quiz under way: %v", err)
				}
			}
			none()
			do(t, a, "start", p("msisdn", user, "course", "numeracy"))
			clock = clock.Add(time.Minute)
			do(t, a, "start", p("msisdn", user, "course", "farming"))
			do(t, a, "answer", p("msisdn", user, "course", "farming", "answer", "1"))
			c := do(t, a, "current", p("msisdn", user, "lang", "fr"))
			if c["course"] != "farming" || c["course_name"] != "Bases de l'agriculture" || c["answered"] != 1 || c["n"] != 2 || c["total"] != 5 || c["score"] != 1 {
				t.Errorf("current = %v", c)
			}
			// Numeracy is answered later: it is now the one to continue.
			clock = clock.Add(time.Minute)
			do(t, a, "answer", p("msisdn", user, "course", "numeracy", "answer", "2"))
			if c := do(t, a, "current", p("msisdn", user)); c["course"] != "numeracy" || c["answered"] != 1 {
				t.Errorf("current after numeracy = %v", c)
			}
			for _, course := range []string{"numeracy", "farming"} {
				for range 4 {
					do(t, a, "answer", p("msisdn", user, "course", course, "answer", "1"))
				}
			}
			none()
		})
	}
}

// The seed of New's attempts comes from the clock: the same instant draws
// the same order (golden transcripts), another instant another.
func TestClockSeed(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	same := time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("EAT", 3*3600)) // t0 in another zone
	if clockSeed(t0) != clockSeed(same) {
		t.Fatal("one instant gave two seeds")
	}
	seen := map[uint64]bool{}
	for i := range 1000 {
		seen[clockSeed(t0.Add(time.Duration(i)))] = true
	}
	if len(seen) != 1000 {
		t.Errorf("1000 instants gave %d seeds", len(seen))
	}
}

// Eight gateway instances submit the same answer at once: it counts once.
func TestConcurrentAnswers(t *testing.T) {
	for _, st := range kvtest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			a := newSeeded(t, st.KV)
			base := p("msisdn", user, "course", "numeracy")
			do(t, a, "start", base)
			var wg sync.WaitGroup
			var mu sync.Mutex
			kinds := map[adapters.Kind]int{}
			for range 8 {
				wg.Go(func() {
					params := p("answer", "1", "n", "1")
					for k, v := range base {
						params[k] = v
					}
					_, err := newSeeded(t, st.KV).Call(context.Background(), adapters.Request{Op: "answer", Params: params})
					mu.Lock()
					kinds[adapters.KindOf(err)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if kinds[adapters.KindNone] != 1 || kinds[adapters.KindInvalid] != 7 {
				t.Errorf("outcomes %v, want 1 none and 7 invalid", kinds)
			}
			if s := do(t, a, "status", base); s["answered"] != 1 {
				t.Errorf("answered %v", s["answered"])
			}
		})
	}
}

func TestDataProblems(t *testing.T) {
	const doc = `langs: [en, fr]
size: 2
texts: {pass: Yes, fail: No, sms: "{course} {grade}"}
courses:
  - id: c
    name: C
    pass: 3
    questions:
      - {id: q1, text: Q, options: [A, B], answer: 3, feedback: F}
      - {id: q1, text: {en: Q}, options: [A], answer: 1, feedback: F}
  - {id: d, name: D, pass: 1, questions: []}
`
	_, err := Load("q.yaml", []byte(doc), false)
	want := []string{
		`q.yaml:3:35: texts.sms: unknown field {grade} (bad-value)`,
		`q.yaml:7:11: courses[0].pass: want 1 to the quiz size (2) (bad-value)`,
		`q.yaml:9:52: courses[0].questions[0].answer: want the number of an option, 1 to 2 (bad-value)`,
		`q.yaml:10:14: courses[0].questions[1].id: want a lower-case identifier not used before in the course, got "q1" (bad-value)`,
		`q.yaml:10:42: courses[0].questions[1].options: want 2 to 4 options, got 1 (bad-value)`,
		`q.yaml:10:24: courses[0].questions[1].text: missing text in fr (bad-value)`,
		`q.yaml:11:42: courses[1].questions: 0 questions, fewer than the quiz size 2 (bad-value)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestNew(t *testing.T) {
	c := defaults()
	c.File = dataFile
	if _, err := New(*c, adapters.Instance{}); err == nil || !strings.Contains(err.Error(), "needs the gateway's store") {
		t.Errorf("New without a KV: %v", err)
	}
	a, err := New(*c, adapters.Instance{Deps: adapters.Deps{KV: kvtest.Stores(t)[0].KV}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Ops()) != 7 {
		t.Errorf("Ops = %v", a.Ops())
	}
}

func FuzzLoad(f *testing.F) {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, false)
	f.Add([]byte(`{"langs":["en"],"size":1,"texts":{"pass":"P","fail":"F","sms":"{score}"},"courses":[{"id":"c","name":"C","pass":1,"questions":[{"id":"q","text":"Q","options":["A","B"],"answer":1,"feedback":"F"}]}]}`), true)
	f.Add([]byte("langs: [en]\nsize: 1\ncourses: [{questions: [{options: [a]}]}]\n"), false)
	f.Fuzz(func(t *testing.T, raw []byte, remote bool) {
		d, err := Load("f.yaml", raw, remote)
		if err != nil {
			return
		}
		for _, c := range d.courses {
			if o := order(c, d.size, 1); len(o) != d.size {
				t.Fatalf("order of %d, want %d", len(o), d.size)
			}
		}
	})
}

func BenchmarkQuestion(b *testing.B) {
	for _, st := range kvtest.Stores(b) {
		b.Run(st.Name, func(b *testing.B) {
			a := newSeeded(b, st.KV)
			ctx := context.Background()
			params := p("msisdn", user, "course", "maternal", "lang", "fr")
			if _, err := a.Call(ctx, adapters.Request{Op: "start", Params: params}); err != nil {
				b.Fatal(err)
			}
			adaptertest.Bench(b, a, adapters.Request{Op: "question", Params: params})
		})
	}
}

func BenchmarkAnswer(b *testing.B) {
	for _, st := range kvtest.Stores(b) {
		b.Run(st.Name, func(b *testing.B) {
			a := newSeeded(b, st.KV)
			ctx := context.Background()
			params := p("msisdn", user, "course", "maternal", "answer", "1")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%5 == 0 {
					b.StopTimer()
					a.Call(ctx, adapters.Request{Op: "start", Params: params})
					b.StartTimer()
				}
				if _, err := a.Call(ctx, adapters.Request{Op: "answer", Params: params}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
