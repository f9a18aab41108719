package studio

import (
	"fmt"
	"html"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/flows"
)

// The diagram is SVG drawn here, on the server, rather than by a
// JavaScript graph library in the browser: the gateway already has the
// flow compiled and the counts at hand, the picture is the same in every
// browser and in a test, nothing is vendored, and the page stays a few
// kilobytes that work offline. The layout is a simple layered one (each
// node one row below the first node that leads to it), which suits USSD
// menus: trees with a few links back.

const (
	boxW    = 240 // node width
	colGap  = 36
	rowGap  = 70
	lineH   = 15
	margin  = 24
	headerH = 56 // the summary above the nodes
)

// drawnNode is a node placed on the picture.
type drawnNode struct {
	flows.GraphNode
	rank, col int
	x, y, h   float64
	stats     *NodeStats
	left      int64 // sessions that ended here other than on an end screen
	lines     []line
}

type line struct {
	text, class string
	title       string
}

// report returns the report's counts for a node, never nil.
func statsOf(r Report, name string) *NodeStats {
	if n := r.Nodes[name]; n != nil {
		return n
	}
	return &NodeStats{}
}

// screenKinds show a screen to the user; the others run in between.
var screenKinds = map[string]bool{"menu": true, "input": true, "end": true}

// Diagram draws the flow of g with the counts of r as an SVG document;
// off says that there are no counts to draw (analytics off).
func Diagram(g flows.Graph, r Report, off bool) string {
	nodes := make([]*drawnNode, len(g.Nodes))
	byName := map[string]*drawnNode{}
	for i, n := range g.Nodes {
		d := &drawnNode{GraphNode: n, rank: -1, stats: statsOf(r, n.Name)}
		for cause, c := range d.stats.Exits {
			if cause != ExitEnd {
				d.left += c
			}
		}
		nodes[i] = d
		byName[n.Name] = d
	}
	rows := layers(g, nodes, byName)
	worst := worstNode(nodes)
	for _, d := range nodes {
		d.lines = nodeLines(d, r)
		d.h = float64(len(d.lines)*lineH + 30)
	}
	// Place rows: each row's nodes side by side, rows centred on the widest.
	widest := 0
	for _, row := range rows {
		widest = max(widest, len(row))
	}
	width := float64(margin*2 + widest*boxW + (widest-1)*colGap)
	y := float64(margin + headerH)
	for _, row := range rows {
		rowW := float64(len(row)*boxW + (len(row)-1)*colGap)
		x0 := (width - rowW) / 2
		h := 0.0
		for i, d := range row {
			d.col, d.x, d.y = i, x0+float64(i*(boxW+colGap)), y
			h = math.Max(h, d.h)
		}
		y += h + rowGap
	}
	height := y - rowGap + margin

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="flow" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" data-service="%s">`,
		width, height, width, height, esc(r.Service))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#98a2b3"/></marker>` +
		`<marker id="arrow-used" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="12" markerHeight="12" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f6feb"/></marker></defs>`)
	summary(&b, r, worst, off)
	edges(&b, nodes, byName)
	for _, d := range nodes {
		drawNode(&b, d, d == worst)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// layers ranks nodes by their distance from the start (breadth first) and
// orders each row by where the nodes leading to it stand, which keeps
// most lines from crossing.
func layers(g flows.Graph, nodes []*drawnNode, byName map[string]*drawnNode) [][]*drawnNode {
	start := byName[g.Start]
	if start == nil && len(nodes) > 0 {
		start = nodes[0]
	}
	var rows [][]*drawnNode
	if start == nil {
		return rows
	}
	start.rank = 0
	queue := []*drawnNode{start}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for len(rows) <= d.rank {
			rows = append(rows, nil)
		}
		rows[d.rank] = append(rows[d.rank], d)
		for _, e := range d.Edges {
			if t := byName[e.To]; t != nil && t.rank < 0 {
				t.rank = d.rank + 1
				queue = append(queue, t)
			}
		}
	}
	var lost []*drawnNode // not reachable (lint refuses such flows)
	for _, d := range nodes {
		if d.rank < 0 {
			d.rank = len(rows)
			lost = append(lost, d)
		}
	}
	if len(lost) > 0 {
		rows = append(rows, lost)
	}
	pos := map[*drawnNode]float64{}
	for i, d := range rows[0] {
		pos[d] = float64(i)
	}
	parents := map[*drawnNode][]*drawnNode{}
	for _, d := range nodes {
		for _, e := range d.Edges {
			if t := byName[e.To]; t != nil && t.rank == d.rank+1 {
				parents[t] = append(parents[t], d)
			}
		}
	}
	for r := 1; r < len(rows); r++ {
		bary := map[*drawnNode]float64{}
		for i, d := range rows[r] {
			ps := parents[d]
			if len(ps) == 0 {
				bary[d] = float64(i)
				continue
			}
			sum := 0.0
			for _, p := range ps {
				sum += pos[p]
			}
			bary[d] = sum / float64(len(ps))
		}
		sort.SliceStable(rows[r], func(i, j int) bool { return bary[rows[r][i]] < bary[rows[r][j]] })
		for i, d := range rows[r] {
			pos[d] = float64(i)
		}
	}
	return rows
}

// worstNode is the node most sessions left from other than on an end
// screen: the one that loses people. Nil when none did.
func worstNode(nodes []*drawnNode) *drawnNode {
	var worst *drawnNode
	for _, d := range nodes {
		if d.left > 0 && (worst == nil || d.left > worst.left) {
			worst = d
		}
	}
	return worst
}

func pct(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}

// nodeLines are the lines of text inside a node's box.
func nodeLines(d *drawnNode, r Report) []line {
	st := d.stats
	var ls []line
	if d.Text != "" {
		ls = append(ls, line{text: trunc(d.Text, 36), class: "text", title: d.Text})
	}
	entered := fmt.Sprintf("entered %d", st.Entered)
	if st.LatencyMs.Count > 0 {
		entered += " · answered in " + (time.Duration(st.LatencyMs.Sum/st.LatencyMs.Count) * time.Millisecond).String()
	}
	ls = append(ls, line{text: entered, class: "entered"})
	if d.Kind == "menu" {
		// A menu's options, each with how many chose it.
		seen := map[string]bool{}
		for _, e := range d.Edges {
			n := st.Choices[e.To]
			label := e.Label
			if seen[e.To] {
				n = 0 // counted on the first option leading there
			}
			seen[e.To] = true
			ls = append(ls, line{text: fmt.Sprintf("%s → %s: %d", trunc(label, 18), trunc(e.To, 12), n), class: "choice", title: label + " → " + e.To})
		}
	}
	if ended := st.Exits[ExitEnd]; ended > 0 {
		ls = append(ls, line{text: fmt.Sprintf("finished here: %d", ended), class: "finished"})
	}
	if d.left > 0 {
		var parts []string
		for _, c := range []string{ExitAbort, ExitTimeout, ExitElsewhere, ExitError} {
			if n := st.Exits[c]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c, n))
			}
		}
		ls = append(ls, line{text: fmt.Sprintf("left: %d (%s of entered)", d.left, pct(d.left, st.Entered)), class: "left"},
			line{text: strings.Join(parts, ", "), class: "left"})
	}
	return ls
}

func summary(b *strings.Builder, r Report, worst *drawnNode, off bool) {
	if off {
		fmt.Fprintf(b, `<text class="summary worst-note" x="%d" y="%d">%s</text>`, margin, margin+6,
			esc(r.Service+": no counts, the gateway's analytics are off (-analytics-retention 0 or a store without counters)."))
		return
	}
	s := fmt.Sprintf("%s, %s to %s: %d sessions, %d finished on an end screen (%s)", r.Service, r.From, r.To, r.Sessions, r.Completed, pct(r.Completed, r.Sessions))
	fmt.Fprintf(b, `<text class="summary" x="%d" y="%d">%s</text>`, margin, margin+6, esc(s))
	w := "Nobody left before the end."
	if worst != nil {
		w = fmt.Sprintf("Most people leave at %s: %d of %d who entered (%s).", worst.Name, worst.left, worst.stats.Entered, pct(worst.left, worst.stats.Entered))
	}
	fmt.Fprintf(b, `<text class="summary worst-note" x="%d" y="%d">%s</text>`, margin, margin+26, esc(w))
}

// edges draws the transitions between nodes: thicker and blue the more
// sessions took them, with the count on the line.
func edges(b *strings.Builder, nodes []*drawnNode, byName map[string]*drawnNode) {
	var maxN int64 = 1
	for _, d := range nodes {
		for _, n := range d.stats.Choices {
			maxN = max(maxN, n)
		}
	}
	for _, d := range nodes {
		done := map[string]bool{}
		for i, e := range d.Edges {
			t := byName[e.To]
			if t == nil || done[e.To] {
				continue // a built-in place (@back...) or a second way to the same node
			}
			done[e.To] = true
			n := d.stats.Choices[e.To]
			sx := d.x + boxW/2 + float64((i%5)-2)*8
			sy := d.y + d.h
			tx, ty := t.x+boxW/2, t.y
			var path string
			var lx, ly float64
			if t.rank > d.rank {
				dy := math.Max(30, (ty-sy)/2)
				path = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", sx, sy, sx, sy+dy, tx, ty-dy, tx, ty-2)
				lx, ly = (sx+tx)/2, (sy+ty)/2
			} else {
				// Back up or across: out of the right side, into the right side.
				sx, sy = d.x+boxW, d.y+d.h/2
				tx, ty = t.x+boxW, t.y+t.h/2
				bend := 60 + 10*math.Abs(float64(d.rank-t.rank))
				path = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", sx, sy, sx+bend, sy, tx+bend, ty, tx+2, ty)
				lx, ly = math.Max(sx, tx)+bend*0.75, (sy+ty)/2
			}
			class, marker, width := "edge", "arrow", 1.2
			if n > 0 {
				class, marker, width = "edge used", "arrow-used", 1.5+5*float64(n)/float64(maxN)
			}
			fmt.Fprintf(b, `<path class="%s" d="%s" stroke-width="%.1f" marker-end="url(#%s)" data-from="%s" data-to="%s" data-count="%d"><title>%s → %s: %d</title></path>`,
				class, path, width, marker, esc(d.Name), esc(e.To), n, esc(d.Name), esc(e.To), n)
			if n > 0 {
				fmt.Fprintf(b, `<text class="edge-count" x="%.0f" y="%.0f">%d</text>`, lx+4, ly, n)
			}
		}
	}
}

func drawNode(b *strings.Builder, d *drawnNode, worst bool) {
	class := "node kind-" + d.Kind
	if !screenKinds[d.Kind] {
		class += " step"
	}
	if worst {
		class += " worst"
	}
	if d.stats.Entered == 0 {
		class += " unused" // drawn faint: the eye goes to where people went
	}
	// The fill reddens with the share of those who entered and left here.
	rate := 0.0
	if d.stats.Entered > 0 {
		rate = math.Min(1, float64(d.left)/float64(d.stats.Entered))
	}
	fill := "#ffffff"
	if rate > 0 {
		fill = fmt.Sprintf("#ff%02x%02x", 255-int(120*rate), 255-int(120*rate))
	}
	fmt.Fprintf(b, `<g class="%s" data-node="%s" data-kind="%s" data-entered="%d" data-left="%d">`, class, esc(d.Name), esc(d.Kind), d.stats.Entered, d.left)
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%d" height="%.0f" rx="8" fill="%s"/>`, d.x, d.y, boxW, d.h, fill)
	fmt.Fprintf(b, `<text class="name" x="%.0f" y="%.0f">%s <tspan class="kind">%s</tspan></text>`, d.x+10, d.y+18, esc(trunc(d.Name, 22)), esc(d.Kind))
	if worst {
		fmt.Fprintf(b, `<text class="worst-badge" x="%.0f" y="%.0f" text-anchor="end">loses most</text>`, d.x+boxW-8, d.y+18)
	}
	for i, l := range d.lines {
		y := d.y + 36 + float64(i*lineH)
		if l.title != "" {
			fmt.Fprintf(b, `<text class="%s" x="%.0f" y="%.0f"><title>%s</title>%s</text>`, l.class, d.x+10, y, esc(l.title), esc(l.text))
		} else {
			fmt.Fprintf(b, `<text class="%s" x="%.0f" y="%.0f">%s</text>`, l.class, d.x+10, y, esc(l.text))
		}
	}
	b.WriteString(`</g>`)
}

func esc(s string) string { return html.EscapeString(s) }

// trunc shortens s to n characters, with an ellipsis.
func trunc(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// reportRange reads ?from= and ?to= (YYYY-MM-DD), dates of the service's
// calendar (loc): the last 7 days up to its today by default. A date is
// taken at noon there, so that the report reads that day whatever the
// offset from UTC; the browser's UTC date is the wrong day near midnight.
func reportRange(r *http.Request, now time.Time, loc *time.Location) (from, to time.Time, err error) {
	if loc == nil {
		loc = time.UTC
	}
	to = now.In(loc)
	from = to.AddDate(0, 0, -6)
	day := func(v string) (time.Time, error) {
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		return d.Add(12 * time.Hour), err
	}
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = day(v); err != nil {
			return from, to, fmt.Errorf("from %q: use YYYY-MM-DD", v)
		}
	}
	if v := r.URL.Query().Get("to"); v != "" {
		if to, err = day(v); err != nil {
			return from, to, fmt.Errorf("to %q: use YYYY-MM-DD", v)
		}
	}
	if to.Before(from) {
		return from, to, fmt.Errorf("to %s is before from %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	return from, to, nil
}

// reportFor reads the counts for the request's service and range.
func (s *Server) reportFor(w http.ResponseWriter, r *http.Request) (*flows.Flow, Report, bool) {
	f, ok := s.cfg.Manager.Flows().Flow(r.PathValue("service"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such service")
		return nil, Report{}, false
	}
	from, to, err := reportRange(r, s.cfg.Now(), f.Location())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, Report{}, false
	}
	if s.cfg.Analytics == nil {
		return f, Report{Service: f.ID, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Nodes: map[string]*NodeStats{}}, true
	}
	rep, err := s.cfg.Analytics.Report(r.Context(), f.ID, from, to)
	if err != nil {
		s.log.Warn("reading the analytics", "service", f.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the analytics store failed")
		return nil, Report{}, false
	}
	if rep.Nodes == nil {
		rep.Nodes = map[string]*NodeStats{}
	}
	return f, rep, true
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if _, rep, ok := s.reportFor(w, r); ok {
		writeJSON(w, http.StatusOK, rep)
	}
}

func (s *Server) diagram(w http.ResponseWriter, r *http.Request) {
	f, rep, ok := s.reportFor(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, Diagram(f.Graph(r.URL.Query().Get("lang")), rep, s.cfg.Analytics == nil))
}
