package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/flows"
)

// adapterBench is a flow whose menu choice runs one action and shows one
// field of its result: the step a user takes to see a price, a job list,
// a next visit or a quiz question.
const adapterBench = `id: bench
languages: [en]
nodes:
  main:
    type: menu
    text: Bench
    options:
      - {label: None, next: none}
      - {label: Price, next: price}
      - {label: Jobs, next: jobs}
      - {label: Visit, next: visit}
      - {label: Question, next: question}
  none: {type: end, text: "Nothing called"}
  price:
    type: action
    call: prices
    op: latest
    params: {commodity: maize, market: eldoret, lang: en}
    save: p
    next: show_price
  show_price: {type: end, text: "{{p.currency}} {{p.price}}"}
  jobs:
    type: action
    call: jobs
    op: list
    params: {region: nairobi, page: "1"}
    save: j
    next: show_jobs
  show_jobs: {type: end, text: "{{j.items.1.title}}"}
  visit:
    type: action
    call: health
    op: next
    params: {msisdn: "{{msisdn}}", schedule: pregnancy, lang: en}
    save: v
    next: show_visit
  show_visit: {type: end, text: "{{v.name}} {{v.date}}"}
  question:
    type: action
    call: quiz
    op: question
    params: {msisdn: "{{msisdn}}", course: farming, lang: en}
    save: q
    next: show_question
    on_empty: start_quiz
  start_quiz:
    type: action
    call: quiz
    op: start
    params: {msisdn: "{{msisdn}}", course: farming, lang: en}
    save: q
    next: show_question
  show_question: {type: end, text: "{{q.text}}"}
`

// BenchmarkStepWithAdapter is one engine step that calls a built-in
// adapter over the shipped data (per-user data in the in-memory store),
// beside the same step calling none: the difference is what the adapter
// adds to a step.
func BenchmarkStepWithAdapter(b *testing.B) {
	s := defaults()
	s.Flows = "../../flows-examples"
	a, err := wire(context.Background(), s, slog.New(slog.NewTextHandler(io.Discard, nil)), wireOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	f, err := flows.Parse("bench.yaml", []byte(adapterBench), flows.Options{Adapters: a.reg.Names()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	env := &flows.Env{Adapters: a.reg, MSISDN: "254700000077", Now: time.Now()}
	// The health step needs a registration to find a next visit.
	if _, err := a.reg.Call(ctx, "health", regRequest(time.Now())); err != nil {
		b.Fatal(err)
	}
	for i, name := range []string{"none", "prices", "jobs", "health", "quiz"} {
		b.Run(name, func(b *testing.B) {
			input := string(rune('1' + i))
			b.ReportAllocs()
			for b.Loop() {
				st := flows.State{Node: "main", Lang: "en", Vars: map[string]string{}}
				scr, err := f.Step(ctx, env, &st, input)
				if err != nil || !scr.End || scr.Text == "" {
					b.Fatalf("%q %v", scr.Text, err)
				}
			}
		})
	}
}

func regRequest(now time.Time) adapters.Request {
	return adapters.Request{Op: "register", Params: map[string]string{
		"msisdn": "254700000077", "schedule": "pregnancy", "date": now.AddDate(0, 3, 0).Format("2006-01-02")}}
}
