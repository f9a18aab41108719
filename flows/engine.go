package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/ussdgw/ussdgw/adapters"
)

// ErrStale is returned when a state names a node the flow no longer has
// (the flow was reloaded with that node removed); the caller starts over.
var ErrStale = errors.New("flows: the session's node is not in the flow")

// langNode is the built-in language chooser's place in State.Node.
const langNode = "@language"

// Start puts st at the flow's start and returns the first screen. st.Lang
// is kept: it is the user's language, remembered beyond the session.
func (f *Flow) Start(ctx context.Context, env *Env, st *State) (Screen, error) {
	st.Page = 0
	st.History = st.History[:0]
	if st.Vars == nil {
		st.Vars = map[string]string{}
	}
	s, err := f.enter(ctx, env, st, target(f.start))
	f.dropList(st)
	return s, err
}

// Render returns the screen st is on: what a retried request or a resumed
// session shows. It changes nothing but a list it had to fetch again.
func (f *Flow) Render(ctx context.Context, env *Env, st *State) (Screen, error) {
	if st.Node == langNode {
		return f.languageScreen(env, st, ""), nil
	}
	i, ok := f.byName[st.Node]
	if !ok || f.nodes[i].transient() {
		return Screen{}, ErrStale
	}
	if s, moved, err := f.fetchList(ctx, env, st, f.nodes[i]); moved || err != nil {
		f.dropList(st)
		return s, err
	}
	s := f.render(env, st, f.nodes[i], "")
	f.dropList(st)
	return s, nil
}

// Step applies one input to st and returns the next screen. It is safe
// for concurrent use on distinct states; its only I/O is through
// env.Adapters.
func (f *Flow) Step(ctx context.Context, env *Env, st *State, input string) (Screen, error) {
	if st.Vars == nil {
		st.Vars = map[string]string{}
	}
	s, err := f.step(ctx, env, st, strings.TrimSpace(input))
	f.dropList(st)
	return s, err
}

// A list that only its menu reads (items.scoped) is not kept in the
// session: it is fetched again, by running the action that made it
// (st.Entry), whenever the menu needs it. A session on a list screen
// then costs a few dozen bytes instead of the whole list.

// fetchList makes sure the list of n is in st.Vars. moved is true when
// running the action again led somewhere else (it failed, timed out or
// came back empty): the screen returned is that one.
func (f *Flow) fetchList(ctx context.Context, env *Env, st *State, n *node) (s Screen, moved bool, err error) {
	if n.items == nil || !n.items.scoped || st.Entry == "" {
		return Screen{}, false, nil
	}
	if _, ok := st.Vars[n.items.from+".count"]; ok {
		return Screen{}, false, nil
	}
	j, ok := f.byName[st.Entry]
	if !ok || !f.nodes[j].transient() {
		return Screen{}, false, nil
	}
	node, page := st.Node, st.Page
	if env != nil && env.Trace != nil { // a refresh of the screen shown, not a move
		tr := env.Trace
		env.Trace = nil
		defer func() { env.Trace = tr }()
	}
	s, err = f.enter(ctx, env, st, target(j))
	if err != nil || st.Node != node {
		return s, true, err
	}
	st.Page = page
	return Screen{}, false, nil
}

// dropList removes the list of the screen st is on, when it is one that
// fetchList can fetch again.
func (f *Flow) dropList(st *State) {
	if st.Entry == "" {
		return
	}
	if i, ok := f.byName[st.Node]; ok {
		if it := f.nodes[i].items; it != nil && it.scoped {
			clearVars(st.Vars, it.from)
		}
	}
}

func (f *Flow) step(ctx context.Context, env *Env, st *State, input string) (Screen, error) {
	if st.Node == langNode {
		return f.stepLanguage(env, st, input)
	}
	i, ok := f.byName[st.Node]
	if !ok {
		return Screen{}, ErrStale
	}
	n := f.nodes[i]
	switch n.kind {
	case kindEnd:
		return f.render(env, st, n, ""), nil
	case kindAction, kindRouter:
		return f.enter(ctx, env, st, target(i))
	}
	if n.navKeys {
		switch {
		case input == f.nav.homeKey && f.nav.home && !f.homeScreen[i] && !n.takesHome:
			return f.enter(ctx, env, st, toHome)
		case input == f.nav.backKey && st.Page == 0 && f.nav.back && (!f.homeScreen[i] || len(st.History) > 0) && !n.takesBack:
			return f.back(ctx, env, st)
		}
	}
	// Leaving needs no list; anything else on a list screen does.
	if s, moved, err := f.fetchList(ctx, env, st, n); moved || err != nil {
		return s, err
	}
	if input == f.nav.backKey && st.Page > 0 { // paging back is not navigation: it always works
		st.Page--
		return f.render(env, st, n, ""), nil
	}
	if n.kind == kindInput {
		val, ok := n.rule.check(input, env.Now)
		if ok && env.tooLong(input) {
			ok = false
		}
		if !ok {
			hint := f.labels[f.lang(st.Lang)][lInvalidInput]
			if n.errText != nil {
				hint = n.errText.get(f.lang(st.Lang)).String(f.scope(env, st))
			}
			s := f.render(env, st, n, hint)
			s.Rejected = true
			return s, nil
		}
		st.Vars[n.save] = val
		return f.move(ctx, env, st, i, "valid", n.next)
	}
	// A menu. Any number it shows is accepted, whatever the page: numbers
	// run on across pages, so each names one choice.
	sc := f.scope(env, st)
	entries := f.entries(sc, n)
	if input == f.nav.more {
		if lay := f.layoutMenu(sc, n, entries, st); st.Page < len(lay.pages)-1 {
			st.Page++
			return f.render(env, st, n, ""), nil
		}
	}
	k, err := strconv.Atoi(input)
	if err != nil || k < 1 || k > len(entries) || input[0] == '0' || input[0] == '+' {
		s := f.render(env, st, n, f.labels[f.lang(st.Lang)][lInvalidChoice])
		s.Rejected = true
		return s, nil
	}
	e := entries[k-1]
	if e.item > 0 {
		isc := *sc
		isc.item = n.items.from + "." + strconv.Itoa(e.item) + "."
		f.assign(&isc, n.items.set)
		return f.move(ctx, env, st, i, "item", n.items.next)
	}
	o := n.options[e.option]
	f.assign(sc, o.set)
	return f.move(ctx, env, st, i, "option:"+strconv.Itoa(e.option+1), o.next)
}

// assign evaluates every value before setting any, so that set: a: "{{b}}",
// b: "{{a}}" swaps rather than depends on order.
func (f *Flow) assign(sc *scope, set []assign) {
	if len(set) == 0 {
		return
	}
	vals := make([]string, len(set))
	for i, a := range set {
		vals[i] = a.value.String(sc)
	}
	for i, a := range set {
		sc.st.Vars[a.name] = vals[i]
	}
}

// move leaves screen node from by event towards to.
func (f *Flow) move(ctx context.Context, env *Env, st *State, from int, event string, to target) (Screen, error) {
	switch to {
	case toBack:
		return f.back(ctx, env, st)
	case toHome, toUnavailable, toLate:
		return f.enter(ctx, env, st, to)
	case toLanguage:
		f.leave(st, from)
		st.Node, st.Page = langNode, 0
		env.arrived(langNode)
		return f.languageScreen(env, st, ""), nil
	}
	next, err := f.fire(from, event)
	if err != nil {
		return Screen{}, err
	}
	if int(next) == from {
		return f.enter(ctx, env, st, next)
	}
	depth, name := len(st.History), f.nodes[from].name
	f.leave(st, from)
	s, err := f.enter(ctx, env, st, next)
	if st.Node == name && len(st.History) == depth+1 {
		// Back on the same screen through actions (a "more" option that
		// fetches the next page): a refresh, not a step to go back over.
		st.History = st.History[:depth]
	}
	return s, err
}

// leave records screen node i in the history as the user moves on from it.
// A screen showing a list only it reads is recorded by the action that
// made it, and the list is dropped from the session.
func (f *Flow) leave(st *State, i int) {
	n := f.nodes[i]
	if st.Entry != "" && n.items != nil && n.items.scoped {
		clearVars(st.Vars, n.items.from)
		pushHistory(st, st.Entry)
	} else {
		pushHistory(st, n.name)
	}
	st.Entry = ""
}

// fire asks the state machine where event leads from node i.
func (f *Flow) fire(i int, event string) (target, error) {
	dst, err := f.machine.fire(f.nodes[i].name, event)
	if err != nil {
		return 0, err
	}
	return target(f.byName[dst]), nil
}

func pushHistory(st *State, name string) {
	if len(st.History) >= maxHistory {
		st.History = append(st.History[:0], st.History[1:]...)
	}
	st.History = append(st.History, name)
}

// back returns to the previous screen, or the start when there is none.
func (f *Flow) back(ctx context.Context, env *Env, st *State) (Screen, error) {
	for len(st.History) > 0 {
		name := st.History[len(st.History)-1]
		st.History = st.History[:len(st.History)-1]
		i, ok := f.byName[name]
		if !ok {
			continue
		}
		if f.nodes[i].transient() {
			return f.enter(ctx, env, st, target(i)) // fetch the list again
		}
		st.Node, st.Page, st.Entry = name, 0, ""
		env.arrived(name)
		return f.render(env, st, f.nodes[i], ""), nil
	}
	return f.enter(ctx, env, st, target(f.start))
}

// enter arrives at t, runs routers and actions until a screen node, and
// renders it.
func (f *Flow) enter(ctx context.Context, env *Env, st *State, t target) (Screen, error) {
	via := ""
	for hops := 0; hops <= len(f.nodes); hops++ {
		switch t {
		case toHome:
			st.History = st.History[:0]
			t = target(f.start)
			continue
		case toBack:
			return f.back(ctx, env, st)
		case toUnavailable:
			return Screen{Text: f.out(f.labels[f.lang(st.Lang)][lUnavailable]), End: true}, nil
		case toLate:
			return Screen{Text: f.out(f.labels[f.lang(st.Lang)][lLate]), End: true}, nil
		case toLanguage:
			st.Node, st.Page = langNode, 0
			env.arrived(langNode)
			return f.languageScreen(env, st, ""), nil
		}
		n := f.nodes[t]
		st.Node, st.Page, st.Entry = n.name, 0, ""
		env.arrived(n.name)
		if !n.transient() {
			if n.items != nil && n.items.scoped {
				st.Entry = via
			}
			return f.render(env, st, n, ""), nil
		}
		if via == "" {
			via = n.name
		}
		var event string
		var to target
		switch n.kind {
		case kindRouter:
			event, to = f.route(env, st, n)
		case kindSMS:
			event, to = f.sendSMS(ctx, env, st, n)
		case kindSubscribe:
			event, to = f.subscribe(ctx, env, st, n)
		case kindUnsubscribe:
			event, to = f.unsubscribe(ctx, env, st, n)
		case kindSubscriptions:
			event, to = f.subscriptions(ctx, env, st, n)
		default:
			event, to = f.act(ctx, env, st, n)
		}
		if event == "error" || event == "timeout" {
			env.failed(n.name)
		}
		if to < 0 {
			t = to
			continue
		}
		next, err := f.fire(int(t), event)
		if err != nil {
			return Screen{}, err
		}
		t = next
	}
	return Screen{}, fmt.Errorf("flows: %s: too many routers and actions in a row", f.ID)
}

func (f *Flow) route(env *Env, st *State, n *node) (string, target) {
	sc := f.scope(env, st)
	for i, r := range n.routes {
		if r.when.eval(sc) {
			return "route:" + strconv.Itoa(i+1), r.next
		}
	}
	return "default", n.def
}

// act calls the node's adapter and returns the outcome's event.
func (f *Flow) act(ctx context.Context, env *Env, st *State, n *node) (string, target) {
	sc := f.scope(env, st)
	params := make(map[string]string, len(n.params))
	for _, p := range n.params {
		params[p.name] = p.value.String(sc)
	}
	if n.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.timeout)
		defer cancel()
	}
	res, err := f.call(ctx, env, n, params)
	kind := adapters.KindOf(err)
	if err != nil && kind != adapters.KindNotFound && ctx.Err() != nil {
		kind = adapters.KindTimeout
	}
	if err == nil && isEmpty(res) {
		kind = adapters.KindNotFound
	}
	if n.saveAs != "" {
		clearVars(st.Vars, n.saveAs)
	}
	switch kind {
	case adapters.KindNone:
		if n.saveAs != "" {
			flatten(st.Vars, n.saveAs, res, f.keep[n.saveAs])
		}
		return "ok", n.next
	case adapters.KindNotFound:
		return "empty", n.onEmpty
	case adapters.KindInvalid:
		f.logger(env).Info("adapter refused the request", "service", f.ID, "node", n.name, "adapter", n.call, "op", n.op, "err", loggable(n, err))
		return "invalid", n.onInvalid
	case adapters.KindTimeout:
		f.logger(env).Warn("adapter timed out", "service", f.ID, "node", n.name, "adapter", n.call, "op", n.op)
		if n.lateSMS != nil && env.SMS != nil && env.Later != nil {
			f.later(env, st, n, params)
		} else if n.onTimeout == toLate {
			// Nobody can send the answer later: do not promise it.
			return "error", n.onError
		}
		return "timeout", n.onTimeout
	}
	f.logger(env).Warn("adapter failed", "service", f.ID, "node", n.name, "adapter", n.call, "op", n.op,
		"kind", kind.String(), "err", loggable(n, err))
	return "error", n.onError
}

// later calls the adapter again after the step has answered, without the
// step's deadline, and sends the node's late_sms with the result: the
// "we will send the answer by SMS" promise of a timeout branch.
func (f *Flow) later(env *Env, st *State, n *node, params map[string]string) {
	vars := make(map[string]string, len(st.Vars))
	for k, v := range st.Vars {
		vars[k] = v
	}
	late := &State{Lang: st.Lang, Vars: vars}
	lenv := *env
	env.Later(func(ctx context.Context) {
		res, err := f.call(ctx, &lenv, n, params)
		if err != nil || isEmpty(res) {
			f.logger(&lenv).Warn("late adapter result did not come", "service", f.ID, "node", n.name,
				"kind", adapters.KindOf(err).String())
			return
		}
		if n.saveAs != "" {
			clearVars(late.Vars, n.saveAs)
			flatten(late.Vars, n.saveAs, res, keepAll)
		}
		text := f.out(n.lateSMS.get(f.lang(late.Lang)).String(f.scope(&lenv, late)))
		if err := lenv.SMS.Send(ctx, lenv.MSISDN, text); err != nil {
			f.logger(&lenv).Error("sending a late result by SMS", "service", f.ID, "node", n.name, "err", err)
		}
	})
}

// sendSMS queues the node's text as an SMS to the user.
func (f *Flow) sendSMS(ctx context.Context, env *Env, st *State, n *node) (string, target) {
	if env.SMS == nil {
		f.logger(env).Warn("sms node without an SMS route", "service", f.ID, "node", n.name)
		return "error", n.onError
	}
	text := f.out(n.text.get(f.lang(st.Lang)).String(f.scope(env, st)))
	if err := env.SMS.Send(ctx, env.MSISDN, text); err != nil {
		f.logger(env).Error("sending an SMS", "service", f.ID, "node", n.name, "err", err)
		return "error", n.onError
	}
	return "sent", n.next
}

// loggable is err as it may be logged: without its text when the action
// passed a sensitive input.
func loggable(n *node, err error) any {
	if n.secret {
		return "(withheld: the request carries a sensitive input)"
	}
	return err
}

// call calls the adapter, turning a panic into an error: a faulty adapter
// must cost one user one step, not the process.
func (f *Flow) call(ctx context.Context, env *Env, n *node, params map[string]string) (res adapters.Result, err error) {
	if env.Adapters == nil {
		return nil, &adapters.Error{Kind: adapters.KindUnavailable, Msg: "no adapters configured"}
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &adapters.Error{Kind: adapters.KindUnavailable, Msg: fmt.Sprintf("adapter panicked: %v", r)}
		}
	}()
	return env.Adapters.Call(ctx, n.call, adapters.Request{Op: n.op, Params: params})
}

func (f *Flow) logger(env *Env) *slog.Logger {
	if env.Log != nil {
		return env.Log
	}
	return slog.Default()
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case []map[string]any:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	case []string:
		return len(x) == 0
	}
	return false
}

func clearVars(vars map[string]string, name string) {
	prefix := name + "."
	for k := range vars {
		if k == name || strings.HasPrefix(k, prefix) {
			delete(vars, k)
		}
	}
}

// flatten stores a result tree as variables: maps by key, lists by
// 1-based index with a count (jobs.1.title, jobs.count). Only the names
// keep accepts are stored. Names are built in one buffer and become
// strings only when kept: a list of fifty fields the flow never reads costs
// no allocation.
func flatten(vars map[string]string, name string, v any, keep func([]byte) bool) {
	buf := make([]byte, 0, 64)
	flattenInto(vars, append(buf, name...), v, keep)
}

func flattenInto(vars map[string]string, key []byte, v any, keep func([]byte) bool) {
	set := func(k []byte, val string) {
		if keep(k) {
			vars[string(k)] = val
		}
	}
	switch x := v.(type) {
	case nil:
	case string:
		set(key, x)
	case bool:
		set(key, strconv.FormatBool(x))
	case int:
		if keep(key) {
			vars[string(key)] = strconv.Itoa(x)
		}
	case int64:
		if keep(key) {
			vars[string(key)] = strconv.FormatInt(x, 10)
		}
	case float64:
		if keep(key) {
			vars[string(key)] = strconv.FormatFloat(x, 'f', -1, 64)
		}
	case map[string]any:
		for k, e := range x {
			flattenInto(vars, append(append(key, '.'), k...), e, keep)
		}
	case map[string]string:
		for k, e := range x {
			set(append(append(key, '.'), k...), e)
		}
	case []any:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			flattenInto(vars, strconv.AppendInt(append(key, '.'), int64(i+1), 10), e, keep)
		}
	case []map[string]any:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			flattenInto(vars, strconv.AppendInt(append(key, '.'), int64(i+1), 10), e, keep)
		}
	case []string:
		set(append(key, ".count"...), strconv.Itoa(len(x)))
		for i, e := range x {
			set(strconv.AppendInt(append(key, '.'), int64(i+1), 10), e)
		}
	default:
		if keep(key) {
			vars[string(key)] = fmt.Sprint(x)
		}
	}
}

func keepAll([]byte) bool { return true }

// keeper accepts the names that match one of patterns, where a # part of
// a pattern stands for any all-digit part (jobs.#.title).
func keeper(patterns []string) func([]byte) bool {
	return func(name []byte) bool {
		for _, p := range patterns {
			if wildMatch(name, p) {
				return true
			}
		}
		return false
	}
}

func wildMatch(name []byte, pattern string) bool {
	i, j := 0, 0
	for i < len(name) && j < len(pattern) {
		if pattern[j] == '#' && (j+1 == len(pattern) || pattern[j+1] == '.') {
			k := i
			for k < len(name) && name[k] >= '0' && name[k] <= '9' {
				k++
			}
			if k == i || (k < len(name) && name[k] != '.') {
				return false
			}
			i, j = k, j+1
			continue
		}
		if name[i] != pattern[j] {
			return false
		}
		i, j = i+1, j+1
	}
	return i == len(name) && j == len(pattern)
}

// stepLanguage handles an input on the language chooser.
func (f *Flow) stepLanguage(env *Env, st *State, input string) (Screen, error) {
	back := func() (Screen, error) { return f.back(context.Background(), env, st) }
	switch {
	case input == f.nav.backKey && st.Page > 0:
		st.Page--
		return f.languageScreen(env, st, ""), nil
	case input == f.nav.backKey:
		return back()
	case input == f.nav.homeKey && f.nav.home:
		return f.enter(context.Background(), env, st, toHome)
	}
	sc := f.scope(env, st)
	entries := f.languageEntries()
	if input == f.nav.more {
		if lay := f.layoutLanguage(sc, entries, st); st.Page < len(lay.pages)-1 {
			st.Page++
			return f.languageScreen(env, st, ""), nil
		}
	}
	k, err := strconv.Atoi(input)
	if err != nil || k < 1 || k > len(entries) || input[0] == '0' || input[0] == '+' {
		s := f.languageScreen(env, st, f.labels[f.lang(st.Lang)][lInvalidChoice])
		s.Rejected = true
		return s, nil
	}
	st.Lang = f.Languages[k-1]
	return back()
}

// ResumeScreen is the offer a user gets on dialling again after a session
// that timed out or was cut: 1 continue, 2 start again.
func (f *Flow) ResumeScreen(lang string) Screen {
	l := f.labels[f.lang(lang)]
	return Screen{Text: l[lResume] + "\n1. " + l[lResumeContinue] + "\n2. " + l[lResumeRestart]}
}

// Exported label keys for transports that answer outside a flow.
const (
	LabelExpired     = lExpired
	LabelUnavailable = lUnavailable
	LabelLater       = lLater   // too many requests from this number
	LabelUpdated     = lUpdated // the session's flow version is gone after a reload
)
