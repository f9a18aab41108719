package flows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/gsm"
)

// check runs the whole-flow checks once every node decoded cleanly:
// variables, reachability, dead ends, loops without a screen, and screens
// that cannot fit the limit in some language.
func (c *compiler) check() {
	for _, n := range c.f.nodes {
		if n.kind == kindAction || n.kind == kindUnsubscribe || n.kind == kindSubscriptions {
			n.resolveDefaults()
		}
	}
	c.checkGraph()
	c.homeScreens()
	c.inputKeys()
	c.secretParams()
	c.sensitiveKept()
	c.checkScreens()
}

// secretParams marks the actions whose params carry a sensitive input: an
// adapter may echo a param in its error ("param pin: ... got 1234"), so
// their error text is never logged.
func (c *compiler) secretParams() {
	for _, n := range c.f.nodes {
		for _, p := range n.params {
			for _, v := range p.value.vars() {
				if c.f.sensitive[v] {
					n.secret = true
				}
			}
		}
	}
}

// sensitiveKept refuses a sensitive input where it would outlive the
// session: in what a subscription keeps (its topic, label and params stay
// in the consent registry and its audit trail for months) and in the text
// of an SMS (the outbox keeps it until it is sent, the SMSC and the handset
// after). A sensitive input lives in the session only.
func (c *compiler) sensitiveKept() {
	kept := map[string]string{} // path of a field → what keeps its value
	for _, n := range c.f.nodes {
		at := join("nodes", n.name)
		switch n.kind {
		case kindSubscribe:
			for _, k := range []string{"topic", "label", "params"} {
				kept[join(at, k)] = "a subscription, which the consent registry keeps"
			}
		case kindUnsubscribe:
			kept[join(at, "topic")] = "the consent audit trail"
		case kindSMS:
			kept[join(at, "text")] = "an SMS, which the outbox keeps until it is sent"
		case kindAction:
			kept[join(at, "late_sms")] = "an SMS, which the outbox keeps until it is sent"
		}
	}
	for _, u := range c.uses {
		if !c.f.sensitive[u.name] {
			continue
		}
		for field, what := range kept {
			if u.path == field || strings.HasPrefix(u.path, field+".") || strings.HasPrefix(u.path, field+"[") {
				c.d.errorf(u.at, u.path, "sensitive-input", "%q is a sensitive input: it may not go into %s (it is kept only for the session)", u.name, what)
			}
		}
	}
}

// inputKeys finds the inputs that accept a navigation key as an answer.
// Only inputs that ask for something specific count (a number, a pattern,
// a list): on a free-text screen 0 still means back.
func (c *compiler) inputKeys() {
	now := time.Now()
	for _, n := range c.f.nodes {
		r := n.rule
		if n.kind != kindInput || (r.kind != "number" && r.kind != "integer" && r.pattern == nil && len(r.oneOf) == 0) {
			continue
		}
		_, n.takesBack = r.check(c.f.nav.backKey, now)
		_, n.takesHome = r.check(c.f.nav.homeKey, now)
	}
}

// homeScreens marks the screens the start node reaches through routers
// and actions alone: with `start: check_quiz` (an action), the menu it
// leads to is the main menu.
func (c *compiler) homeScreens() {
	f := c.f
	f.homeScreen = make([]bool, len(f.nodes))
	seen := make([]bool, len(f.nodes))
	var walk func(i int)
	walk = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		n := f.nodes[i]
		if !n.transient() {
			f.homeScreen[i] = true
			return
		}
		for _, e := range n.edges() {
			if e.to >= 0 {
				walk(int(e.to))
			}
		}
	}
	walk(f.start)
}

func (c *compiler) defined(name string) bool {
	if c.defs[name] || c.results[name] {
		return true
	}
	for i := range name {
		if name[i] == '.' && c.results[name[:i]] {
			return true
		}
	}
	return false
}

// resultFields records, for each name an action saves a result under,
// which of its flattened fields the flow reads (list indexes as #), so that
// a step keeps only those in the session: a list of ten markets with five
// fields each would otherwise cost the session hundreds of bytes.
func (c *compiler) resultFields() {
	keep := map[string]map[string]bool{}
	add := func(name string) {
		for r := range c.results {
			if name == r || strings.HasPrefix(name, r+".") {
				if keep[r] == nil {
					keep[r] = map[string]bool{}
				}
				keep[r][wildcardIndexes(name)] = true
			}
		}
	}
	for _, u := range c.uses {
		switch {
		case u.inItem && strings.HasPrefix(u.name, "item."):
			add(u.itemFrom + ".#." + u.name[len("item."):])
			add(u.itemFrom + ".count")
		case u.inItem && u.name == "item":
			add(u.itemFrom + ".#")
			add(u.itemFrom + ".count")
		default:
			add(u.name)
		}
	}
	readers := map[string]int{} // list → items menus reading it
	for _, n := range c.f.nodes {
		if n.items != nil {
			add(n.items.from + ".count")
			readers[n.items.from]++
		}
	}
	c.f.keep = map[string]func([]byte) bool{}
	for r := range c.results {
		var patterns []string
		for p := range keep[r] {
			patterns = append(patterns, p)
		}
		sort.Strings(patterns)
		c.f.keep[r] = keeper(patterns)
	}
	// A list is scoped to its menu when nothing but that menu's items read it.
	outside := map[string]bool{}
	for _, u := range c.uses {
		if !u.listOf && (!u.inItem || !(u.name == "item" || strings.HasPrefix(u.name, "item."))) {
			for r := range c.results {
				if u.name == r || strings.HasPrefix(u.name, r+".") {
					outside[r] = true
				}
			}
		}
	}
	for _, n := range c.f.nodes {
		if it := n.items; it != nil && readers[it.from] == 1 && !outside[it.from] && c.results[it.from] {
			it.scoped = true
		}
	}
}

// wildcardIndexes writes the all-digit parts of a dotted name as #:
// jobs.2.title → jobs.#.title.
func wildcardIndexes(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "#"
		}
	}
	return strings.Join(parts, ".")
}

func (c *compiler) checkVars() {
	var known []string
	for k := range c.defs {
		known = append(known, k)
	}
	for k := range c.results {
		known = append(known, k)
	}
	for _, u := range c.uses {
		if u.name == "item" || strings.HasPrefix(u.name, "item.") {
			if !u.inItem {
				c.d.errorf(u.at, u.path, "unknown-variable", "%s is only defined in the label and set of items", u.name)
			}
			continue
		}
		if c.defined(u.name) {
			continue
		}
		msg := fmt.Sprintf("undefined variable %q", u.name)
		if s := suggest(u.name, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += " (set it with set:, an input's save: or an action's save:)"
		}
		c.d.errorf(u.at, u.path, "unknown-variable", "%s", msg)
	}
}

func (c *compiler) checkGraph() {
	f := c.f
	// Reachability from the start node.
	seen := make([]bool, len(f.nodes))
	stack := []int{f.start}
	seen[f.start] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range f.nodes[i].edges() {
			if e.to >= 0 && !seen[e.to] {
				seen[e.to] = true
				stack = append(stack, int(e.to))
			}
		}
	}
	for i, n := range f.nodes {
		if !seen[i] {
			c.d.errorf(c.nodeKeys[i], join("nodes", n.name), "unreachable", "unreachable: no path from the start node %q leads here", f.nodes[f.start].name)
		}
	}
	// Dead ends: no path reaches an end screen. Going back counts as a way
	// out (the screen before has one); the built-in error screen is an end.
	canEnd := make([]bool, len(f.nodes))
	for changed := true; changed; {
		changed = false
		for i, n := range f.nodes {
			if canEnd[i] {
				continue
			}
			ok := n.kind == kindEnd
			for _, e := range n.edges() {
				if e.to == toBack || e.to == toUnavailable || e.to == toLate || (e.to == toHome && canEnd[f.start]) || (e.to >= 0 && canEnd[e.to]) {
					ok = true
				}
			}
			if ok {
				canEnd[i], changed = true, true
			}
		}
	}
	for i, n := range f.nodes {
		if seen[i] && !canEnd[i] {
			c.d.errorf(c.nodeKeys[i], join("nodes", n.name), "dead-end", "dead end: no path from here reaches an end node")
		}
	}
	// Routers and actions that loop among themselves would never show a screen.
	state := make([]int, len(f.nodes)) // 0 new, 1 on stack, 2 done
	var path []int
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = 1
		path = append(path, i)
		for _, e := range f.nodes[i].edges() {
			if e.to < 0 || !f.nodes[e.to].transient() {
				continue
			}
			if state[e.to] == 1 {
				var names []string
				for k := len(path) - 1; k >= 0; k-- {
					names = append([]string{f.nodes[path[k]].name}, names...)
					if path[k] == int(e.to) {
						break
					}
				}
				names = append(names, f.nodes[e.to].name)
				c.d.errorf(c.nodeKeys[e.to], join("nodes", f.nodes[e.to].name), "loop", "loop with no screen: %s", strings.Join(names, " → "))
				return true
			}
			if state[e.to] == 0 && visit(int(e.to)) {
				return true
			}
		}
		path = path[:len(path)-1]
		state[i] = 2
		return false
	}
	for i, n := range f.nodes {
		if n.transient() && state[i] == 0 {
			visit(i)
		}
	}
}

// checkScreens renders every screen whose words are all static, in every
// language, and reports those that cannot fit the screen limit: an input
// prompt or end text over it, or a menu option too long to show even alone.
func (c *compiler) checkScreens() {
	f := c.f
	env := &Env{Now: time.Now()}
	for i, n := range f.nodes {
		if n.transient() {
			continue
		}
		for li, lang := range f.Languages {
			st := &State{Node: n.name, Lang: lang, Vars: map[string]string{}, History: []string{"x"}}
			sc := f.scope(env, st)
			switch n.kind {
			case kindMenu:
				if !n.text.get(li).static() {
					continue
				}
				lay := f.layoutMenu(sc, n, f.staticEntries(n, li), st)
				if lay.tooBig {
					c.d.errorf(c.nodeKeys[i], join("nodes", n.name), "screen-too-long", "in %s an option does not fit on a screen even alone (limit %s)", lang, describe(f.limit))
				} else if lay.head != f.out(n.text.get(li).src) {
					c.d.errorf(c.nodeKeys[i], join("nodes", n.name+".text"), "screen-too-long", "in %s the menu text does not fit on a screen (limit %s)", lang, describe(f.limit))
				}
			case kindInput, kindEnd:
				t := n.text.get(li)
				if !t.static() {
					continue
				}
				s := f.out(t.src)
				if n.kind == kindInput {
					back, home := f.navLines(sc, n, false)
					s += "\n" + back + "\n" + home
				}
				if l := gsm.Measure(s); !f.limit.Fits(l) {
					c.d.errorf(c.nodeKeys[i], join("nodes", n.name+".text"), "screen-too-long", "in %s the screen is %d characters (%s), over the %d it can hold",
						lang, l.Units, coding(l.UCS2), f.limit.Max(l.UCS2))
				}
			}
		}
	}
}

// staticEntries are a menu's options whose labels have no variables.
func (f *Flow) staticEntries(n *node, li int) []entry {
	var out []entry
	for i, o := range n.options {
		if t := o.label.get(li); t.static() {
			out = append(out, entry{label: f.out(t.src), option: i})
		}
	}
	return out
}

func coding(ucs2 bool) string {
	if ucs2 {
		return "UCS-2"
	}
	return "GSM 7-bit"
}

func describe(l gsm.Limit) string {
	return fmt.Sprintf("%d GSM 7-bit or %d UCS-2 characters", l.Max(false), l.Max(true))
}
