package flows

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/adapters"
)

// base is a valid flow the cases below break one way each.
const base = `id: shop
title: {en: Shop, fr: Boutique}
codes: ["*500#"]
languages: [en, fr]
nodes:
  main:
    type: menu
    text: {en: Welcome, fr: Bienvenue}
    options:
      - label: {en: Fruits, fr: Fruits}
        next: fruits
      - label: {en: Language, fr: Langue}
        next: "@language"
  fruits:
    type: input
    text: {en: "How many?", fr: "Combien ?"}
    save: qty
    validate: {type: integer, min: 1, max: 9}
    next: done
  done:
    type: end
    text: {en: "OK {{qty}}", fr: "OK {{qty}}"}
`

func TestLoaderAcceptsBase(t *testing.T) {
	if _, err := Parse("shop.yaml", []byte(base), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in base by new
		new     string
		want    []string
		adapter []string
	}{
		{
			name: "unknown field with suggestion",
			old:  "    options:\n", new: "    optoins:\n",
			want: []string{
				`shop.yaml:7:5: nodes.main.options: a menu needs options or items (missing-field)`,
				`shop.yaml:9:5: nodes.main.optoins: unknown field "optoins"; did you mean "options"? (unknown-field)`,
			},
		},
		{
			name: "unknown target with suggestion",
			old:  "next: fruits", new: "next: fruit",
			want: []string{`shop.yaml:11:15: nodes.main.options[1].next: unknown node "fruit"; did you mean "fruits"? (unknown-node)`},
		},
		{
			name: "missing required field",
			old:  "    save: qty\n", new: "",
			want: []string{
				`shop.yaml:15:5: nodes.fruits.save: required field is missing (missing-field)`,
				// with no save, qty is set nowhere
				`shop.yaml:21:16: nodes.done.text.en: undefined variable "qty" (set it with set:, an input's save: or an action's save:) (unknown-variable)`,
				`shop.yaml:21:34: nodes.done.text.fr: undefined variable "qty" (set it with set:, an input's save: or an action's save:) (unknown-variable)`,
			},
		},
		{
			name: "unknown node type",
			old:  "type: end", new: "type: finish",
			want: []string{`shop.yaml:21:11: nodes.done.type: unknown node type "finish" (menu, input, action, router, sms, subscribe, unsubscribe, subscriptions or end) (bad-value)`},
		},
		{
			name: "text missing for a declared language",
			old:  `{en: "How many?", fr: "Combien ?"}`, new: `{en: "How many?"}`,
			want: []string{`shop.yaml:16:11: nodes.fruits.text: missing text for fr (missing-text)`},
		},
		{
			name: "text in an undeclared language",
			old:  "{en: Welcome, fr: Bienvenue}", new: "{en: Welcome, fr: Bienvenue, sw: Karibu}",
			want: []string{`shop.yaml:8:40: nodes.main.text.sw: "sw" is not one of the languages (en, fr) (unknown-language)`},
		},
		{
			name: "undefined variable with suggestion",
			old:  `{en: "OK {{qty}}"`, new: `{en: "OK {{qtty}}"`,
			want: []string{`shop.yaml:22:16: nodes.done.text.en: undefined variable "qtty"; did you mean "qty"? (unknown-variable)`},
		},
		{
			name: "template not closed",
			old:  `{en: "OK {{qty}}"`, new: `{en: "OK {{qty"`,
			want: []string{`shop.yaml:22:16: nodes.done.text.en: template: {{ is not closed by }} (bad-template)`},
		},
		{
			name: "invalid regular expression",
			old:  "validate: {type: integer, min: 1, max: 9}", new: "validate: {pattern: \"[0-9\"}",
			want: []string{`shop.yaml:18:25: nodes.fruits.validate.pattern: invalid regular expression: missing closing ]: ` + "`[0-9` (bad-value)"},
		},
		{
			name: "min greater than max",
			old:  "min: 1, max: 9", new: "min: 10, max: 9",
			want: []string{`shop.yaml:18:36: nodes.fruits.validate.min: min 10 is greater than max 9 (bad-value)`},
		},
		{
			name: "bad USSD code",
			old:  `codes: ["*500#"]`, new: `codes: ["500", "*500#"]`,
			want: []string{`shop.yaml:3:9: codes[1]: "500" is not a USSD code like *384# or *384*1# (bad-value)`},
		},
		{
			name: "default language not declared",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr]\ndefault_language: sw\n",
			want: []string{`shop.yaml:5:19: default_language: "sw" is not one of the languages (en, fr) (unknown-language)`},
		},
		{
			name: "unreachable node",
			old:  "  done:\n", new: "  orphan:\n    type: end\n    text: Bye\n  done:\n",
			want: []string{`shop.yaml:20:3: nodes.orphan: unreachable: no path from the start node "main" leads here (unreachable)`},
		},
		{
			name: "dead end",
			old:  "    next: done\n", new: "    next: loop\n  loop:\n    type: menu\n    text: Loop\n    options:\n      - {label: Again, next: loop}\n",
			want: []string{
				// main and fruits lead only into the loop (the language chooser comes back to main)
				`shop.yaml:6:3: nodes.main: dead end: no path from here reaches an end node (dead-end)`,
				`shop.yaml:14:3: nodes.fruits: dead end: no path from here reaches an end node (dead-end)`,
				`shop.yaml:20:3: nodes.loop: dead end: no path from here reaches an end node (dead-end)`,
				`shop.yaml:25:3: nodes.done: unreachable: no path from the start node "main" leads here (unreachable)`,
			},
		},
		{
			name: "loop of routers",
			old:  "    next: done\n", new: "    next: r1\n  r1:\n    type: router\n    routes: [{when: qty > 5, next: done}]\n    default: r2\n  r2:\n    type: router\n    routes: [{when: qty < 2, next: done}]\n    default: r1\n",
			want: []string{`shop.yaml:20:3: nodes.r1: loop with no screen: r1 → r2 → r1 (loop)`},
		},
		{
			name: "bad condition",
			old:  "    next: done\n", new: "    next: r1\n  r1:\n    type: router\n    routes: [{when: qty = 5, next: done}]\n    default: done\n",
			want: []string{`shop.yaml:22:21: nodes.r1.routes[1].when: invalid condition: use == to compare, not = (bad-condition)`},
		},
		{
			name: "unknown adapter",
			old:  "    next: done\n", new: "    next: act\n  act:\n    type: action\n    call: pricez\n    next: done\n",
			want:    []string{`shop.yaml:22:11: nodes.act.call: unknown adapter "pricez"; did you mean "prices"? (the gateway has prices) (unknown-adapter)`},
			adapter: []string{"prices"},
		},
		{
			name: "wrong YAML type",
			old:  "languages: [en, fr]", new: "languages: {en: English}",
			want: []string{`shop.yaml:4:12: languages: expected a list, got a mapping (wrong-type)`},
		},
		{
			name: "duplicate key",
			old:  "    save: qty\n", new: "    save: qty\n    save: qty2\n",
			want: []string{`shop.yaml:18:5: nodes.fruits.save: duplicate key (first at line 17) (duplicate-key)`},
		},
		{
			name: "language without built-in labels",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr, ha]\nlabels:\n  ha: {back: Koma}\n",
			// and every text given per language lacks ha
			want: []string{
				`shop.yaml:2:8: title: missing text for ha (missing-text)`,
				`shop.yaml:6:7: labels.ha: language ha has no built-in labels: give labels.ha.home, more, language, invalid_choice, invalid_input, unavailable, resume, resume_continue, resume_restart, expired, late (missing-text)`,
				`shop.yaml:10:11: nodes.main.text: missing text for ha (missing-text)`,
				`shop.yaml:12:16: nodes.main.options[1].label: missing text for ha (missing-text)`,
				`shop.yaml:14:16: nodes.main.options[2].label: missing text for ha (missing-text)`,
				`shop.yaml:18:11: nodes.fruits.text: missing text for ha (missing-text)`,
				`shop.yaml:24:11: nodes.done.text: missing text for ha (missing-text)`,
			},
		},
		{
			name: "YAML syntax",
			old:  "    text: {en: Welcome, fr: Bienvenue}", new: "    text: {en: Welcome, fr: Bienvenue",
			want: []string{`shop.yaml:8:11: this { is never closed (yaml-unclosed)`},
		},
		{
			name: "item outside items",
			old:  `{en: "OK {{qty}}", fr: "OK {{qty}}"}`, new: `"OK {{item.name}}"`,
			want: []string{`shop.yaml:22:11: nodes.done.text: item.name is only defined in the label and set of items (unknown-variable)`},
		},
		{
			name: "subscribe without a topic",
			old:  "    next: done\n", new: "    next: sub\n  sub:\n    type: subscribe\n    label: {en: \"{{qty}} alerts\", fr: \"Alertes {{qty}}\"}\n    next: done\n",
			want: []string{`shop.yaml:21:5: nodes.sub.topic: required field is missing (missing-field)`},
		},
		{
			name: "subscribe with a misspelt key",
			old:  "    next: done\n", new: "    next: sub\n  sub:\n    type: subscribe\n    topik: \"q:{{qty}}\"\n    topic: \"q:{{qty}}\"\n    label: Alerts\n    next: done\n",
			want: []string{`shop.yaml:22:5: nodes.sub.topik: unknown field "topik"; did you mean "topic"? (unknown-field)`},
		},
		{
			name: "subscribe topic with an undefined variable",
			old:  "    next: done\n", new: "    next: sub\n  sub:\n    type: subscribe\n    topic: \"q:{{qtty}}\"\n    label: Alerts\n    params: {threshold: \"{{qty}}\"}\n    next: done\n",
			want: []string{`shop.yaml:22:12: nodes.sub.topic: undefined variable "qtty"; did you mean "qty"? (unknown-variable)`},
		},
		{
			name: "subscribe params cannot name the number",
			old:  "    next: done\n", new: "    next: sub\n  sub:\n    type: subscribe\n    topic: q\n    label: Alerts\n    params: {Phone-Number: \"{{msisdn}}\"}\n    next: done\n",
			want: []string{`shop.yaml:24:14: nodes.sub.params.Phone-Number: "Phone-Number" is not a parameter name (lower-case letters, digits and _) (bad-value)`},
		},
		{
			name: "unsubscribe with a topic and all",
			old:  "    next: done\n", new: "    next: uns\n  uns:\n    type: unsubscribe\n    topic: q\n    all: true\n    next: done\n",
			want: []string{`shop.yaml:23:10: nodes.uns.all: give a topic or all: true, not both (bad-value)`},
		},
		{
			name: "unsubscribe with neither topic nor all",
			old:  "    next: done\n", new: "    next: uns\n  uns:\n    type: unsubscribe\n    next: done\n",
			want: []string{`shop.yaml:21:5: nodes.uns.topic: an unsubscribe needs a topic, or all: true for every topic of the service (missing-field)`},
		},
		{
			name: "subscriptions without save and an unknown on_empty",
			old:  "    next: done\n", new: "    next: subs\n  subs:\n    type: subscriptions\n    next: done\n    on_empty: nonee\n",
			want: []string{
				`shop.yaml:21:5: nodes.subs.save: required field is missing (missing-field)`,
				`shop.yaml:23:15: nodes.subs.on_empty: unknown node "nonee"; did you mean "done"? (unknown-node)`,
			},
		},
		{
			name: "unknown time zone",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr]\ntimezone: Africa/Nairobbi\n",
			want: []string{`shop.yaml:5:11: timezone: "Africa/Nairobbi" is not a time zone like Africa/Nairobi or UTC (bad-value)`},
		},
		{
			name: "bad alerts",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr]\nalerts: {quiet_hours: \"21:00-21:00\", daily_cap: -1, digest_at: \"7am\", quiet: yes}\n",
			want: []string{
				`shop.yaml:5:23: alerts.quiet_hours: "21:00-21:00" is not a time range like 21:00-07:00 (24-hour clock, start and end different) (bad-value)`,
				`shop.yaml:5:49: alerts.daily_cap: -1 is out of range (0 to 100; 0 is no cap) (bad-value)`,
				`shop.yaml:5:64: alerts.digest_at: "7am" is not a time like 07:00 (24-hour clock) (bad-value)`,
				`shop.yaml:5:71: alerts.quiet: unknown field "quiet" (unknown-field)`,
			},
		},
		{
			name: "message missing a language and a bad message name",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr]\nmessages:\n  alert: {en: \"{{crop}} is {{price}}\"}\n  Digest: \"x\"\n",
			want: []string{
				`shop.yaml:6:10: messages.alert: missing text for fr (missing-text)`,
				`shop.yaml:7:3: messages.Digest: "Digest" is not a valid message name (lower-case letters, digits and _, starting with a letter) (bad-value)`,
			},
		},
		{
			name: "stop word that is the service's keyword",
			old:  "languages: [en, fr]\n", new: "languages: [en, fr]\nkeywords: [SHOP]\nsms: {stop_words: [shop, quit, \"no more\"], start_words: [Quit]}\n",
			want: []string{
				`shop.yaml:6:20: sms.stop_words[1]: SHOP is also a keyword of this service (duplicate)`,
				`shop.yaml:6:32: sms.stop_words[3]: "no more" is not a word (1 to 20 letters or digits, no spaces) (bad-value)`,
				`shop.yaml:6:58: sms.start_words[1]: QUIT is already in sms.stop_words (duplicate)`,
			},
		},
		{
			name: "static screen over the limit",
			old:  `{en: "How many?", fr: "Combien ?"}`, new: `{en: "How many?", fr: "` + strings.Repeat("Combien ", 25) + `"}`,
			want: []string{`shop.yaml:14:3: nodes.fruits.text: in fr the screen is 229 characters (GSM 7-bit), over the 182 it can hold (screen-too-long)`},
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			src := strings.Replace(base, tt.old, tt.new, 1)
			_, err := Parse("shop.yaml", []byte(src), Options{Adapters: tt.adapter})
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
		seen[tt.want[0]] = true
	}
	if len(seen) < 12 {
		t.Errorf("only %d distinct mistakes covered", len(seen))
	}
}

func TestSetErrorsAcrossFiles(t *testing.T) {
	other := strings.Replace(base, "id: shop", "id: other", 1)
	other = strings.Replace(other, "title: {en: Shop, fr: Boutique}\n", "keywords: [SHOP]\n", 1)
	mine := strings.Replace(base, "title: {en: Shop, fr: Boutique}\n", "keywords: [shop]\n", 1)
	_, err := Compile(map[string][]byte{"a.yaml": []byte(mine), "b.yaml": []byte(other)}, Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`b.yaml:2:12: keywords[1]: keyword SHOP is also used by service "shop" (a.yaml) (duplicate)`,
		`b.yaml:3:9: codes[1]: code *500# is also used by service "shop" (a.yaml) (duplicate)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = Compile(map[string][]byte{"a.yaml": []byte(base), "c.yaml": []byte(strings.Replace(base, `"*500#"`, `"*501#"`, 1))}, Options{})
	if got := Errors(err); len(got) != 1 || got[0].Error() != `c.yaml:1:5: id: service "shop" is also defined in a.yaml (duplicate)` {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestEveryErrorOfAFileAtOnce(t *testing.T) {
	src := strings.NewReplacer("next: fruits", "next: nowhere", "type: end", "type: fin", "min: 1, max: 9", "min: 9, max: 1").Replace(base)
	_, err := Parse("shop.yaml", []byte(src), Options{})
	if n := len(Errors(err)); n != 3 {
		t.Fatalf("got %d errors, want 3:\n%v", n, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("id: x\nlanguages: [en]\nnodes: {a: {type: end, text: hi}}\n"))
	f.Add([]byte("nodes: [1, 2]"))
	f.Add([]byte("id: x\nlanguages: [en]\nnodes:\n  a: {type: router, routes: [{when: 'a in (1,', next: a}], default: a}\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse("fuzz.yaml", data, Options{})
		if err != nil {
			for _, e := range Errors(err) {
				if e.File != "fuzz.yaml" || e.Line < 0 {
					t.Fatalf("bad error position: %v", e)
				}
			}
			return
		}
		// A flow that loads must run: start and a few inputs never fail.
		env := &Env{}
		st := &State{}
		if _, err := fl.Start(t.Context(), env, st); err != nil {
			t.Fatalf("start: %v", err)
		}
		for _, in := range []string{"1", "0", "00", "98", "x"} {
			if _, err := fl.Step(t.Context(), env, st, in); err != nil {
				t.Fatalf("step %q: %v", in, err)
			}
		}
	})
}

// TestActionOpsChecked: an action's op and params are checked against the
// ops its adapter declares, each mistake at its own text, with a
// suggestion; an adapter that declares nothing is not checked.
func TestActionOpsChecked(t *testing.T) {
	const src = `id: p
languages: [en]
nodes:
  main:
    type: action
    call: prices
    op: %s
    params: {%s}
    save: price
    next: done
  done: {type: end, text: "{{price.value}}"}
`
	ops := map[string][]adapters.OpSpec{"prices": {
		{Name: "latest", Required: []string{"commodity", "market"}, Optional: []string{"lang"}},
		{Name: "regions", Optional: []string{"lang"}},
	}}
	for _, tt := range []struct {
		name, op, params string
		want             []string
	}{
		{"valid", "latest", "commodity: maize, market: nakuru, lang: en", nil},
		{"misspelled op", "latests", "commodity: maize, market: nakuru", []string{
			`x.yaml:7:9: nodes.main.op: adapter prices has no op "latests"; did you mean "latest"? (unknown-op)`}},
		{"unknown op", "specis", "", []string{
			`x.yaml:7:9: nodes.main.op: adapter prices has no op "specis" (unknown-op)`}},
		{"misspelled param", "latest", "comodity: maize, market: nakuru", []string{
			`x.yaml:8:13: nodes.main.params.commodity: op latest of adapter prices needs param commodity (missing-param)`,
			`x.yaml:8:14: nodes.main.params.comodity: op latest of adapter prices has no param "comodity"; did you mean "commodity"? (unknown-param)`}},
		{"missing op", `""`, "", []string{`x.yaml:5:5: nodes.main.op: adapter prices needs an op (missing-field)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(fmt.Sprintf(src, tt.op, tt.params)), Options{Adapters: []string{"prices"}, Ops: ops})
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if es := Errors(err); len(es) > 0 && !strings.Contains(es[0].Hint, "latest") {
				t.Errorf("hint %q does not list what the adapter offers", es[0].Hint)
			}
		})
	}
	// Without declared ops, anything goes (checked at run time).
	if _, err := Parse("x.yaml", []byte(fmt.Sprintf(src, "specis", "x: 1")), Options{Adapters: []string{"prices"}}); err != nil {
		t.Errorf("undeclared ops checked: %v", err)
	}
}
