package flows

import (
	"strconv"
	"strings"

	"github.com/ussdgw/ussdgw/gsm"
)

// scope resolves template variables for one render or step.
type scope struct {
	f    *Flow
	st   *State
	env  *Env
	item string // "jobs.3." while a dynamic menu item is in scope
}

func (f *Flow) scope(env *Env, st *State) *scope {
	return &scope{f: f, st: st, env: env}
}

func (s *scope) lookup(name string) string {
	if s == nil {
		return ""
	}
	if s.item != "" && strings.HasPrefix(name, "item.") {
		name = s.item + name[len("item."):]
	}
	if v, ok := s.st.Vars[name]; ok {
		return v
	}
	switch name {
	case "msisdn":
		return s.env.MSISDN
	case "lang":
		return s.st.Lang
	case "service":
		return s.f.ID
	case "today":
		return s.env.Now.Format("2006-01-02")
	}
	return ""
}

// out prepares rendered text for the wire: with smart encoding, characters
// outside GSM 03.38 become look-alikes when that keeps the text GSM.
func (f *Flow) out(s string) string {
	if f.smart {
		if t, ok := gsm.Transliterate(s); ok {
			return t
		}
	}
	return s
}

func (f *Flow) limitFor(env *Env) gsm.Limit {
	if env != nil && env.Limit.Octets > 0 {
		return env.Limit
	}
	return f.limit
}

// entry is one numbered line of a menu: a static option or a list item.
type entry struct {
	label  string
	option int // index into node.options, when item == 0
	item   int // 1-based index into the items list, or 0
}

// entries lists the menu's visible choices in order: list items first,
// then the static options whose when: holds.
func (f *Flow) entries(sc *scope, n *node) []entry {
	li := f.lang(sc.st.Lang)
	var out []entry
	if it := n.items; it != nil {
		count, _ := strconv.Atoi(sc.st.Vars[it.from+".count"])
		count = min(count, it.max)
		isc := *sc
		for j := 1; j <= count; j++ {
			isc.item = it.from + "." + strconv.Itoa(j) + "."
			out = append(out, entry{label: f.out(it.label.get(li).String(&isc)), item: j})
		}
	}
	for i, o := range n.options {
		if o.when != nil && !o.when.eval(sc) {
			continue
		}
		out = append(out, entry{label: f.out(o.label.get(li).String(sc)), option: i})
	}
	return out
}

// page is a range of entries shown together: entries[from:to].
type page struct{ from, to int }

// layout is a paginated menu-like screen.
type layout struct {
	head  string
	lines []string // "3. Beans", numbered from 1 across pages
	pages []page
	more  string // "98. More"
	back  string // "0. Back", or "" when there is nowhere to go back to on page 0
	home  string // "00. Main menu", or ""
	// backLater is the back line of pages after the first, where back
	// always works: it goes to the page before.
	backLater string
	limit     gsm.Limit
	tooBig    bool // some page is over the limit even alone
}

func (f *Flow) navLines(sc *scope, n *node, isStart bool) (back, home string) {
	l := f.labels[f.lang(sc.st.Lang)]
	if n == nil || n.nav {
		if f.nav.back && (!isStart || len(sc.st.History) > 0) && (n == nil || !n.takesBack) {
			back = f.nav.backKey + ". " + l[lBack]
		}
		if f.nav.home && !isStart && (n == nil || !n.takesHome) {
			home = f.nav.homeKey + ". " + l[lHome]
		}
	}
	return back, home
}

func (f *Flow) layoutMenu(sc *scope, n *node, entries []entry, st *State) *layout {
	back, home := f.navLines(sc, n, f.homeScreen[f.byName[n.name]])
	return f.layout(sc, f.out(n.text.get(f.lang(st.Lang)).String(sc)), back, home, entries)
}

// layout numbers entries and paginates them under head.
func (f *Flow) layout(sc *scope, head, back, home string, entries []entry) *layout {
	lay := &layout{head: head, back: back, home: home, limit: f.limitFor(sc.env)}
	lay.lines = make([]string, len(entries))
	for i, e := range entries {
		lay.lines[i] = strconv.Itoa(i+1) + ". " + e.label
	}
	f.paginate(lay, sc)
	return lay
}

func (f *Flow) paginate(lay *layout, sc *scope) {
	l := f.labels[f.lang(sc.st.Lang)]
	lay.more = f.nav.more + ". " + l[lMore]
	lay.backLater = f.nav.backKey + ". " + l[lBack]
	lay.pages = lay.pages[:0]
	for i, first := 0, true; first || i < len(lay.lines); first = false {
		base := meter{}
		if first {
			base.line(lay.back)
		} else {
			base.line(lay.backLater)
		}
		base.line(lay.home)
		if first && lay.head != "" {
			// The menu text is what the user came for (a price, a
			// result): it is kept whole, on a page of its own if need be,
			// and cut only when it cannot fit even alone.
			need := base
			if len(lay.lines) > 0 {
				need.line(lay.more)
			}
			with := need
			with.line(lay.head)
			if !with.fits(lay.limit) {
				lay.head = cutToFit(lay.head, need, lay.limit)
			}
			base.line(lay.head)
		}
		// Everything left fits without "More": the last page.
		m, j := base, i
		for j < len(lay.lines) && m.try(lay.lines[j], lay.limit) {
			j++
		}
		if j < len(lay.lines) || !m.fits(lay.limit) {
			m, j = base, i
			m.line(lay.more)
			for j < len(lay.lines) && m.try(lay.lines[j], lay.limit) {
				j++
			}
			if j == i && i < len(lay.lines) && !first {
				lay.tooBig = true
				j = i + 1 // a label alone over the limit: shown alone, never cut
			}
		}
		lay.pages = append(lay.pages, page{i, j})
		i = j
	}
}

// withHint renders page p with hint on top ("Invalid choice. Try again.").
// The page keeps its choices; to make room for the hint it leaves out the
// main-menu line, then the back line (both keys still work), and only then
// its last choices.
func (lay *layout) withHint(p int, hint string) string {
	p = min(max(p, 0), len(lay.pages)-1)
	pg := lay.pages[p]
	if hint == "" {
		return lay.text(p, "", pg.to, true, true)
	}
	for _, nav := range [][2]bool{{true, true}, {true, false}, {false, false}} {
		if s := lay.text(p, hint, pg.to, nav[0], nav[1]); lay.limit.Fits(gsm.Measure(s)) {
			return s
		}
	}
	for to := pg.to - 1; to > pg.from; to-- {
		if s := lay.text(p, hint, to, false, false); lay.limit.Fits(gsm.Measure(s)) {
			return s
		}
	}
	return lay.text(p, hint, pg.from, false, false)
}

// text renders page p (its choices up to index to), with hint on top and
// the back and main-menu lines when asked.
func (lay *layout) text(p int, hint string, to int, back, home bool) string {
	pg := lay.pages[p]
	var b strings.Builder
	lines := make([]string, 0, to-pg.from+5)
	if hint != "" {
		lines = append(lines, hint)
	}
	if p == 0 && lay.head != "" {
		lines = append(lines, lay.head)
	}
	lines = append(lines, lay.lines[pg.from:to]...)
	if p < len(lay.pages)-1 {
		lines = append(lines, lay.more)
	}
	switch {
	case !back:
	case p == 0 && lay.back != "":
		lines = append(lines, lay.back)
	case p > 0:
		lines = append(lines, lay.backLater)
	}
	if home && lay.home != "" {
		lines = append(lines, lay.home)
	}
	return joinLines(&b, lines)
}

func joinLines(b *strings.Builder, lines []string) string {
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// meter measures a screen as lines are added, in the coding it will need.
type meter struct {
	septets, units int
	ucs2           bool
	lines          int
}

func (m *meter) line(s string) {
	if s == "" {
		return
	}
	if m.lines > 0 {
		m.septets++
		m.units++
	}
	m.lines++
	n, ok := gsm.Septets(s)
	if !ok {
		m.ucs2 = true
	}
	m.septets += n
	m.units += gsm.UCS2Units(s)
}

func (m meter) fits(lim gsm.Limit) bool {
	if m.ucs2 {
		return m.units <= lim.Max(true)
	}
	return m.septets <= lim.Max(false)
}

// try adds s if the result still fits.
func (m *meter) try(s string, lim gsm.Limit) bool {
	c := *m
	c.line(s)
	if !c.fits(lim) {
		return false
	}
	*m = c
	return true
}

// cutToFit shortens head (ending it with "...") so that it fits in the
// room the other lines of m leave, or returns "" when nothing fits.
func cutToFit(head string, others meter, lim gsm.Limit) string {
	runes := []rune(head)
	for n := len(runes) - 1; n > 0; n-- {
		s := strings.TrimSpace(string(runes[:n])) + "..."
		m := others
		m.line(s)
		if m.fits(lim) {
			return s
		}
	}
	return ""
}

// render shows node n's screen for st, with an optional hint on top.
func (f *Flow) render(env *Env, st *State, n *node, hint string) Screen {
	sc := f.scope(env, st)
	li := f.lang(st.Lang)
	lim := f.limitFor(env)
	switch n.kind {
	case kindEnd:
		return Screen{Text: fitText(f.out(n.text.get(li).String(sc)), lim), End: true}
	case kindInput:
		back, home := f.navLines(sc, n, f.homeScreen[f.byName[n.name]])
		prompt := f.out(n.text.get(li).String(sc))
		hint = f.out(hint)
		lines := []string{prompt}
		if back != "" {
			lines = append(lines, back)
		}
		if home != "" {
			lines = append(lines, home)
		}
		var b strings.Builder
		s := joinLines(&b, lines)
		if hint != "" {
			withHint := hint + "\n" + s
			if lim.Fits(gsm.Measure(withHint)) {
				return Screen{Text: withHint}
			}
		}
		if !lim.Fits(gsm.Measure(s)) {
			others := meter{}
			for _, l := range lines[1:] {
				others.line(l)
			}
			if cut := cutToFit(prompt, others, lim); cut != "" {
				lines[0] = cut
				b.Reset()
				s = joinLines(&b, lines)
			}
		}
		return Screen{Text: s}
	}
	entries := f.entries(sc, n)
	lay := f.layoutMenu(sc, n, entries, st)
	st.Page = min(st.Page, len(lay.pages)-1)
	return Screen{Text: lay.withHint(st.Page, f.out(hint))}
}

// fitText cuts a final text that is over the limit.
func fitText(s string, lim gsm.Limit) string {
	if lim.Fits(gsm.Measure(s)) {
		return s
	}
	if cut := cutToFit(s, meter{}, lim); cut != "" {
		return cut
	}
	return s
}

func (f *Flow) languageEntries() []entry {
	out := make([]entry, len(f.Languages))
	for i := range f.Languages {
		out[i] = entry{label: f.labels[i][lName], option: i}
	}
	return out
}

func (f *Flow) layoutLanguage(sc *scope, entries []entry, st *State) *layout {
	l := f.labels[f.lang(st.Lang)]
	return f.layout(sc, l[lLanguage], f.nav.backKey+". "+l[lBack], "", entries)
}

func (f *Flow) languageScreen(env *Env, st *State, hint string) Screen {
	sc := f.scope(env, st)
	entries := f.languageEntries()
	lay := f.layoutLanguage(sc, entries, st)
	st.Page = min(st.Page, len(lay.pages)-1)
	return Screen{Text: lay.withHint(st.Page, f.out(hint))}
}
