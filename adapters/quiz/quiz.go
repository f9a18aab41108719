// Package quiz is the learning-quiz adapter (kind "quiz"): courses with
// banks of multiple-choice questions, a quiz of a few questions drawn in
// a random order per attempt, feedback on each answer, and per-user
// progress and score that survive the session, so that an unfinished quiz
// can be resumed later. It must not import flows, ussd or a transport:
// flows call it, not the other way round.
//
// Courses come from a document (see Doc and flows-examples/data/quiz.yaml)
// read from a file or fetched from a back-end URL. Progress is kept in the
// gateway's KV store under "quiz:{<msisdn>}:<course>", updated with
// compare-and-swap so that a double submission counts once. Texts are
// localized by the "lang" param. See adapters/README.md for each op.
package quiz

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/i18n"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
	"github.com/ussdgw/ussdgw/adapters/internal/source"
)

// Config is the configuration of a quiz instance.
type Config struct {
	source.Config `yaml:",inline"`
	// Keep is how long a user's progress in a course is kept after their
	// last answer; 0 keeps it for ever. Default 90 days (2160h).
	Keep time.Duration `yaml:"keep"`
}

func defaults() *Config { return &Config{Keep: 90 * 24 * time.Hour} }

// Kind returns the factory of the "quiz" kind. It needs Deps.KV.
func Kind() adapters.Factory {
	return adapters.Define(defaults, func(c *Config, in adapters.Instance) (adapters.Adapter, error) {
		return New(*c, in)
	})
}

// Adapter runs quizzes. It is safe for concurrent use.
type Adapter struct {
	source.Served[data]
	kv   adapters.KV
	keep time.Duration
	seed func() uint64    // the seed of a new attempt
	now  func() time.Time // when progress changes (current picks the latest)
}

var (
	_ adapters.Adapter   = (*Adapter)(nil)
	_ adapters.Starter   = (*Adapter)(nil)
	_ adapters.Stopper   = (*Adapter)(nil)
	_ adapters.Describer = (*Adapter)(nil)
)

// New returns a quiz adapter; a data file is read and checked now.
func New(c Config, in adapters.Instance) (*Adapter, error) {
	var errs []error
	if c.Keep < 0 {
		errs = append(errs, adapters.FieldErrorf("keep", "must not be negative"))
	}
	if in.KV == nil {
		errs = append(errs, errors.New("needs the gateway's store for progress, and none was given"))
	}
	src, err := source.New(c.Config, in, Load)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	now := in.Deps.WithDefaults().Now
	a := newAdapter(src, in.KV, c.Keep, func() uint64 { return clockSeed(now()) })
	a.now = now
	return a, nil
}

// clockSeed derives an attempt's seed from the clock (splitmix64 of the
// Unix nanoseconds): attempts started at different times get different
// orders, and a fixed test clock gives the same order on every run.
func clockSeed(t time.Time) uint64 {
	z := uint64(t.UnixNano()) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func newAdapter(src *source.Source[data], kv adapters.KV, keep time.Duration, seed func() uint64) *Adapter {
	a := &Adapter{Served: source.Served[data]{Src: src}, kv: kv, keep: keep, seed: seed, now: time.Now}
	user := []string{"msisdn", "course"}
	a.Table = opset.New(
		opset.Op{OpSpec: adapters.OpSpec{Name: "courses", Optional: []string{"msisdn", "lang"}}, Fn: a.courses},
		opset.Op{OpSpec: adapters.OpSpec{Name: "current", Required: []string{"msisdn"}, Optional: []string{"lang"}}, Fn: a.current},
		opset.Op{OpSpec: adapters.OpSpec{Name: "start", Required: user, Optional: []string{"lang"}}, Fn: a.start},
		opset.Op{OpSpec: adapters.OpSpec{Name: "question", Required: user, Optional: []string{"lang"}}, Fn: a.question},
		opset.Op{OpSpec: adapters.OpSpec{Name: "answer", Required: append(user, "answer"), Optional: []string{"n", "lang"}}, Fn: a.answer},
		opset.Op{OpSpec: adapters.OpSpec{Name: "status", Required: user}, Fn: a.status},
		opset.Op{OpSpec: adapters.OpSpec{Name: "result", Required: user, Optional: []string{"lang"}}, Fn: a.result},
	)
	return a
}

// progress is a user's record in one course: the attempt under way (or
// the last one, when Done) and the finished attempts.
type progress struct {
	V        int      `json:"v"`
	Seed     uint64   `json:"s"`
	Order    []string `json:"o"` // question ids of the attempt, in order
	N        int      `json:"n"` // questions answered
	Score    int      `json:"c"`
	Done     bool     `json:"d"`
	Attempts int      `json:"a"` // finished attempts
	Best     int      `json:"b"`
	Last     int      `json:"l"`           // score of the last finished attempt
	LastOf   int      `json:"t"`           // its number of questions
	At       int64    `json:"u,omitempty"` // when it last changed, Unix seconds
}

func key(msisdn, course string) string { return "quiz:{" + msisdn + "}:" + course }

// order draws the attempt's questions from the bank with a PCG generator
// seeded by seed and a Fisher-Yates shuffle of our own, so that a seed
// gives the same quiz on every Go version.
func order(c *course, size int, seed uint64) []string {
	ids := make([]string, len(c.questions))
	for i, q := range c.questions {
		ids[i] = q.id
	}
	r := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	for i := len(ids) - 1; i > 0; i-- {
		j := int(r.Uint64() % uint64(i+1))
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids[:size]
}

// call is what every per-user op starts with.
type call struct {
	d      *data
	lang   string
	msisdn string
	c      *course
}

func (a *Adapter) begin(p map[string]string) (call, error) {
	d := a.Src.Current()
	if d == nil {
		return call{}, source.NotLoaded
	}
	msisdn, err := opset.MSISDN(p)
	if err != nil {
		return call{}, err
	}
	c, ok := d.course[p["course"]]
	if !ok {
		return call{}, opset.NotFound("no course %q", p["course"])
	}
	return call{d: d, lang: i18n.Pick(p["lang"], d.langs), msisdn: msisdn, c: c}, nil
}

// load returns the user's progress in the course (nil if none) and its
// stored bytes, for a later Swap.
func (a *Adapter) load(ctx context.Context, k call) (*progress, []byte, error) {
	vals, err := a.kv.Get(ctx, key(k.msisdn, k.c.id))
	if err != nil {
		return nil, nil, opset.StoreErr(ctx, "reading progress", err, k.msisdn)
	}
	if len(vals) == 0 || vals[0] == nil {
		return nil, nil, nil
	}
	var pr progress
	if err := json.Unmarshal(vals[0], &pr); err != nil || pr.V != 1 {
		return nil, nil, &adapters.Error{Kind: adapters.KindUnavailable, Msg: "reading progress: unknown record format"}
	}
	return &pr, vals[0], nil
}

// update applies change to the user's progress with compare-and-swap,
// retrying when another call changed it in between.
func (a *Adapter) update(ctx context.Context, k call, change func(old *progress) (*progress, error)) (*progress, error) {
	for range 5 {
		old, raw, err := a.load(ctx, k)
		if err != nil {
			return nil, err
		}
		next, err := change(old)
		if err != nil {
			return nil, err
		}
		next.At = a.now().Unix()
		b, _ := json.Marshal(next)
		ok, err := a.kv.Swap(ctx, key(k.msisdn, k.c.id), raw, b, a.keep)
		if err != nil {
			return nil, opset.StoreErr(ctx, "saving progress", err, k.msisdn)
		}
		if ok {
			return next, nil
		}
	}
	return nil, &adapters.Error{Kind: adapters.KindUnavailable, Msg: "saving progress: too many concurrent changes"}
}

func (a *Adapter) courses(ctx context.Context, p map[string]string) (adapters.Result, error) {
	d := a.Src.Current()
	if d == nil {
		return nil, source.NotLoaded
	}
	lang := i18n.Pick(p["lang"], d.langs)
	out := make([]any, len(d.courses))
	if p["msisdn"] == "" {
		for i, c := range d.courses {
			out[i] = c.item[lang]
		}
		return out, nil
	}
	all, err := a.all(ctx, d, p)
	if err != nil {
		return nil, err
	}
	for i, c := range d.courses {
		item := make(map[string]any, 4)
		for k, v := range c.item[lang] {
			item[k] = v
		}
		item["state"] = state(all[i])
		out[i] = item
	}
	return out, nil
}

// all reads the user's progress in every course, in the order of the
// data (nil where there is none), in one round trip.
func (a *Adapter) all(ctx context.Context, d *data, p map[string]string) ([]*progress, error) {
	msisdn, err := opset.MSISDN(p)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(d.courses))
	for i, c := range d.courses {
		keys[i] = key(msisdn, c.id) // one hash slot: the same {msisdn}
	}
	vals, err := a.kv.Get(ctx, keys...)
	if err != nil {
		return nil, opset.StoreErr(ctx, "reading progress", err, msisdn)
	}
	out := make([]*progress, len(d.courses))
	for i := range d.courses {
		if i < len(vals) && vals[i] != nil {
			pr := new(progress)
			if json.Unmarshal(vals[i], pr) == nil && pr.V == 1 {
				out[i] = pr
			}
		}
	}
	return out, nil
}

// current is the quiz the user has under way, for a "continue your quiz"
// offer when they dial again: of the courses started and not finished,
// the one changed last (the first in the data on a tie).
func (a *Adapter) current(ctx context.Context, p map[string]string) (adapters.Result, error) {
	d := a.Src.Current()
	if d == nil {
		return nil, source.NotLoaded
	}
	lang := i18n.Pick(p["lang"], d.langs)
	all, err := a.all(ctx, d, p)
	if err != nil {
		return nil, err
	}
	best := -1
	for i, pr := range all {
		if pr != nil && !pr.Done && (best < 0 || pr.At > all[best].At) {
			best = i
		}
	}
	if best < 0 {
		return nil, opset.NotFound("no quiz under way")
	}
	c, pr := d.courses[best], all[best]
	return map[string]any{
		"course":      c.id,
		"course_name": c.name[lang],
		"answered":    pr.N,
		"n":           pr.N + 1,
		"total":       len(pr.Order),
		"score":       pr.Score,
	}, nil
}

func state(pr *progress) string {
	switch {
	case pr == nil:
		return "new"
	case !pr.Done:
		return "started"
	}
	return "done"
}

func (a *Adapter) start(ctx context.Context, p map[string]string) (adapters.Result, error) {
	k, err := a.begin(p)
	if err != nil {
		return nil, err
	}
	seed := a.seed()
	pr, err := a.update(ctx, k, func(old *progress) (*progress, error) {
		next := &progress{V: 1, Seed: seed, Order: order(k.c, k.d.size, seed)}
		if old != nil {
			next.Attempts, next.Best, next.Last, next.LastOf = old.Attempts, old.Best, old.Last, old.LastOf
		}
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return a.questionOf(k, pr)
}

func (a *Adapter) question(ctx context.Context, p map[string]string) (adapters.Result, error) {
	k, err := a.begin(p)
	if err != nil {
		return nil, err
	}
	pr, _, err := a.load(ctx, k)
	if err != nil {
		return nil, err
	}
	if pr == nil || pr.Done {
		return nil, opset.NotFound("no quiz under way in %s", k.c.id)
	}
	return a.questionOf(k, pr)
}

// current returns the question the attempt is at, skipping questions
// taken out of the bank since the attempt began.
func current(k call, pr *progress) (*question, bool) {
	for pr.N < len(pr.Order) {
		if q, ok := k.c.question[pr.Order[pr.N]]; ok {
			return q, true
		}
		pr.N++
	}
	return nil, false
}

func (a *Adapter) questionOf(k call, pr *progress) (adapters.Result, error) {
	q, ok := current(k, pr)
	if !ok {
		return nil, opset.NotFound("no quiz under way in %s", k.c.id)
	}
	return map[string]any{
		"course":      k.c.id,
		"course_name": k.c.name[k.lang],
		"n":           pr.N + 1,
		"total":       len(pr.Order),
		"text":        q.text[k.lang],
		"options":     q.options[k.lang],
	}, nil
}

func (a *Adapter) answer(ctx context.Context, p map[string]string) (adapters.Result, error) {
	k, err := a.begin(p)
	if err != nil {
		return nil, err
	}
	choice, err := strconv.Atoi(p["answer"])
	if err != nil || choice < 1 || choice > 4 {
		return nil, opset.Invalid("answer", "want the number of an option")
	}
	wantN := 0
	if s := p["n"]; s != "" {
		if wantN, err = strconv.Atoi(s); err != nil || wantN < 1 {
			return nil, opset.Invalid("n", "want the number of the question answered")
		}
	}
	var q *question
	var correct bool
	pr, err := a.update(ctx, k, func(old *progress) (*progress, error) {
		if old == nil || old.Done {
			return nil, opset.NotFound("no quiz under way in %s", k.c.id)
		}
		next := *old
		next.Order = slices.Clone(old.Order)
		var ok bool
		if q, ok = current(k, &next); !ok {
			return nil, opset.NotFound("no quiz under way in %s", k.c.id)
		}
		if wantN != 0 && wantN != next.N+1 {
			return nil, opset.Invalid("n", "question %d is not the one under way (%d)", wantN, next.N+1)
		}
		if choice > len(q.options[k.lang]) {
			return nil, opset.Invalid("answer", "want the number of an option, 1 to %d", len(q.options[k.lang]))
		}
		correct = choice == q.answer
		next.N++
		if correct {
			next.Score++
		}
		if _, more := current(k, &next); !more {
			next.Done = true
			next.Attempts++
			next.Last, next.LastOf = next.Score, len(next.Order)
			next.Best = max(next.Best, next.Score)
		}
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"correct":    correct,
		"feedback":   q.feedback[k.lang],
		"right":      strconv.Itoa(q.answer),
		"right_text": q.right[k.lang],
		"n":          pr.N,
		"total":      len(pr.Order),
		"score":      pr.Score,
		"done":       pr.Done,
	}
	if pr.Done {
		for key, v := range a.resultOf(k, pr) {
			if _, taken := out[key]; !taken {
				out[key] = v
			}
		}
	}
	return out, nil
}

func (a *Adapter) status(ctx context.Context, p map[string]string) (adapters.Result, error) {
	k, err := a.begin(p)
	if err != nil {
		return nil, err
	}
	pr, _, err := a.load(ctx, k)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"course": k.c.id, "state": state(pr), "answered": 0, "total": k.d.size,
		"score": 0, "best": 0, "attempts": 0}
	if pr != nil {
		out["answered"], out["total"], out["score"] = pr.N, len(pr.Order), pr.Score
		out["best"], out["attempts"] = pr.Best, pr.Attempts
	}
	return out, nil
}

func (a *Adapter) result(ctx context.Context, p map[string]string) (adapters.Result, error) {
	k, err := a.begin(p)
	if err != nil {
		return nil, err
	}
	pr, _, err := a.load(ctx, k)
	if err != nil {
		return nil, err
	}
	if pr == nil || pr.Attempts == 0 {
		return nil, opset.NotFound("no finished quiz in %s", k.c.id)
	}
	return a.resultOf(k, pr), nil
}

// resultOf is the last finished attempt as a result.
func (a *Adapter) resultOf(k call, pr *progress) map[string]any {
	def := k.d.langs[0]
	passed := pr.Last >= k.c.pass
	verdict := k.d.texts.Fail.In(k.lang, def)
	if passed {
		verdict = k.d.texts.Pass.In(k.lang, def)
	}
	percent := "0%"
	if pr.LastOf > 0 {
		percent = strconv.Itoa((pr.Last*100+pr.LastOf/2)/pr.LastOf) + "%"
	}
	vars := map[string]string{
		"course": k.c.name[k.lang], "score": strconv.Itoa(pr.Last), "total": strconv.Itoa(pr.LastOf),
		"percent": percent, "verdict": verdict,
	}
	sms := varRE.ReplaceAllStringFunc(k.d.texts.SMS.In(k.lang, def), func(v string) string {
		return vars[v[1:len(v)-1]]
	})
	return map[string]any{
		"course":      k.c.id,
		"course_name": k.c.name[k.lang],
		"score":       pr.Last,
		"total":       pr.LastOf,
		"percent":     percent,
		"passed":      passed,
		"verdict":     verdict,
		"sms":         sms,
		"best":        pr.Best,
		"attempts":    pr.Attempts,
	}
}
