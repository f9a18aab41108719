package problem

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// scanText reads YAML text for the mistakes owners make, which yaml.v3
// reports without a column and often on another line: a tab in the
// indentation, text holding ": ", "?" or " #" where YAML reads them as
// syntax, a line that lines up with nothing above it, a quote or bracket
// never closed. It returns them in text order. It is a reader of the
// common cases, not a YAML parser: FromYAML only calls it on text yaml.v3
// has already refused, and falls back to yaml.v3's words when it finds
// nothing.
func scanText(src []byte) []*Problem {
	s := &scanner{}
	for i, line := range strings.Split(string(src), "\n") {
		s.line(i+1, strings.TrimSuffix(line, "\r"))
	}
	if s.quote != 0 {
		s.add(s.quoteLine, s.quoteCol, RuleUnclosed, "this quote is never closed",
			"close it with "+string(s.quote)+" where the text ends")
	}
	for _, f := range s.flows {
		s.add(f.line, f.col, RuleUnclosed, fmt.Sprintf("this %c is never closed", f.char),
			fmt.Sprintf("close it with %c; text that holds # , [ ] { } goes in quotes", closer(f.char)))
	}
	Sort(s.found)
	return s.found
}

type level struct {
	col  int  // column (0-based) the lines of this block start at
	kind byte // 'm' mapping keys, 's' list items, '?' not known yet
	line int  // the line that opened it
}

type flow struct {
	char      byte
	line, col int
	colon     bool // the current entry has had its key's ":"
	indent    int  // the indentation of the line it opened on
}

type scanner struct {
	found []*Problem

	// Carried from line to line.
	quote               byte // inside a quoted scalar that spans lines
	quoteLine, quoteCol int
	flows               []flow
	blockParent         int // inside a | or > block: lines indented more than this belong to it
	inBlock             bool
	levels              []level
	prevOpens           bool // the last block line was "key:" or "-" with nothing after
	prevPlain           bool // the last block line ended in plain text, which may go on on the next line
	prevLine            int
	lineIndent          int // of the block line being read
}

func closer(c byte) byte {
	if c == '{' {
		return '}'
	}
	return ']'
}

func (s *scanner) add(line, col int, rule, msg, hint string) {
	s.found = append(s.found, &Problem{Line: line, Col: col, Rule: rule, Msg: msg, Hint: hint})
}

func (s *scanner) line(ln int, text string) {
	indent := len(text) - len(strings.TrimLeft(text, " "))
	rest := text[indent:]
	blank := strings.TrimSpace(text) == ""
	if s.inBlock {
		if blank || indent > s.blockParent {
			return
		}
		s.inBlock = false
	}
	if s.quote == 0 && len(s.flows) > 0 && indent <= s.flows[0].indent && !blank {
		// A flow may span lines, but a key back at the indentation of
		// the line that opened it means it was never closed.
		if key, _ := splitKey(text, indent); key {
			f := s.flows[0]
			s.add(f.line, f.col, RuleUnclosed, fmt.Sprintf("this %c is never closed", f.char),
				fmt.Sprintf("close it with %c on its line; text that holds # , [ ] { } goes in quotes", closer(f.char)))
			s.flows = nil
		}
	}
	if s.quote != 0 || len(s.flows) > 0 {
		s.chars(ln, text, 0)
		return
	}
	s.lineIndent = indent
	if ws := text[:len(text)-len(strings.TrimLeft(text, " \t"))]; strings.ContainsRune(ws, '\t') && !blank {
		s.add(ln, strings.IndexByte(ws, '\t')+1, RuleTab, "a tab in the indentation: YAML indents with spaces only",
			"replace the tab with spaces (editors have a setting to insert spaces for the tab key)")
		return
	}
	if blank || strings.HasPrefix(rest, "#") {
		return
	}
	if rest == "---" || strings.HasPrefix(rest, "--- ") || rest == "..." {
		s.levels, s.prevOpens, s.prevPlain = nil, false, false
		return
	}
	// The list dashes of the line and where its content starts.
	content := indent
	var dashes []int
	for strings.HasPrefix(text[content:], "- ") || text[content:] == "-" {
		dashes = append(dashes, content)
		content++
		for content < len(text) && text[content] == ' ' {
			content++
		}
	}
	key, valueCol := splitKey(text, content)
	kind := byte('?')
	switch {
	case len(dashes) > 0:
		kind = 's'
	case key:
		kind = 'm'
	}
	if !s.indent(ln, indent, kind, key || len(dashes) > 0) {
		return
	}
	// Nested levels opened on this line: "- key: v" opens the mapping
	// of the item at the key's column.
	for i := 1; i < len(dashes); i++ {
		s.levels = append(s.levels, level{col: dashes[i], kind: 's', line: ln})
	}
	if len(dashes) > 0 && key {
		s.levels = append(s.levels, level{col: content, kind: 'm', line: ln})
	}
	s.prevLine = ln
	s.prevOpens, s.prevPlain = false, false
	start := content
	if key {
		start = valueCol
	}
	if start >= len(text) || strings.HasPrefix(strings.TrimSpace(text[start:]), "#") {
		s.prevOpens = key || len(dashes) > 0 && content >= len(text)
		return
	}
	s.value(ln, text, start, key)
}

// indent checks the indentation of a block line and keeps the levels up
// to date; false means the line was reported.
func (s *scanner) indent(ln, indent int, kind byte, structural bool) bool {
	if len(s.levels) == 0 {
		s.levels = append(s.levels, level{col: indent, kind: kind, line: ln})
		return true
	}
	top := s.levels[len(s.levels)-1]
	if indent > top.col {
		switch {
		case s.prevOpens:
			s.levels = append(s.levels, level{col: indent, kind: kind, line: ln})
			return true
		case s.prevPlain && !structural:
			return false // the text of the line above goes on
		}
		s.add(ln, indent+1, RuleIndent,
			fmt.Sprintf("this line is indented more than line %d above it (%d spaces, not %d)", s.prevLine, indent, top.col),
			fmt.Sprintf("keys of one mapping line up: indent it by %d spaces like line %d; if it belongs under line %d, end that line with ':' and nothing after", top.col, top.line, s.prevLine))
		return false
	}
	var popped []level
	for len(s.levels) > 0 && s.levels[len(s.levels)-1].col > indent {
		popped = append(popped, s.levels[len(s.levels)-1])
		s.levels = s.levels[:len(s.levels)-1]
	}
	// A list written under its key without indenting ("key:\n- a")
	// shares the key's column; a key after it ends the list.
	if n := len(s.levels); n > 1 && s.levels[n-1].col == indent && s.levels[n-1].kind == 's' && kind == 'm' &&
		s.levels[n-2].col == indent && s.levels[n-2].kind == 'm' {
		s.levels = s.levels[:n-1]
	}
	if len(s.levels) == 0 || s.levels[len(s.levels)-1].col != indent {
		var like []string
		near := popped
		if len(s.levels) > 0 {
			near = append(near, s.levels[len(s.levels)-1])
		}
		// The likeliest first: a level of the same kind (a list item
		// among list items), then the nearest.
		slices.SortStableFunc(near, func(a, b level) int {
			return cmp.Or(cmp.Compare(b2i(a.kind != kind), b2i(b.kind != kind)), cmp.Compare(abs(a.col-indent), abs(b.col-indent)))
		})
		for _, l := range near[:min(2, len(near))] {
			like = append(like, fmt.Sprintf("%d spaces like line %d", l.col, l.line))
		}
		hint := "indent it like the lines of the block it belongs to"
		if len(like) > 0 {
			hint = "indent it by " + strings.Join(like, ", or ")
		}
		s.add(ln, indent+1, RuleIndent,
			fmt.Sprintf("this line is indented by %d spaces, which lines up with no line above it", indent), hint)
		s.levels = append(s.levels, level{col: indent, kind: kind, line: ln})
		return false
	}
	top = s.levels[len(s.levels)-1]
	switch {
	case top.kind == '?':
		s.levels[len(s.levels)-1].kind = kind
	case kind == 's' && top.kind == 'm' && s.prevOpens:
		s.levels = append(s.levels, level{col: indent, kind: 's', line: ln})
	case kind != '?' && kind != top.kind:
		what := map[byte]string{'m': "a key", 's': "a list item"}
		s.add(ln, indent+1, RuleIndent,
			fmt.Sprintf("%s at the indentation of the %ss above it (line %d)", what[kind], strings.TrimPrefix(what[top.kind], "a "), top.line),
			"a block is all keys or all list items ('- '): indent this line under its own key, or make it like the lines above")
		return false
	}
	return true
}

// splitKey reports whether the text from col on is "key:" or "key: ...",
// and where the value after the ": " starts.
func splitKey(text string, col int) (bool, int) {
	rest := text[col:]
	if rest == "" || strings.ContainsRune("\"'{[|>&*!%@`#", rune(rest[0])) {
		// A quoted key ("a b": 1) is rare in these files; leave it.
		return false, col
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case ':':
			if i+1 == len(rest) || rest[i+1] == ' ' {
				v := col + i + 1
				for v < len(text) && text[v] == ' ' {
					v++
				}
				return true, v
			}
		case '#':
			if i > 0 && rest[i-1] == ' ' {
				return false, col
			}
		}
	}
	return false, col
}

// value reads the value of a block line starting at col.
func (s *scanner) value(ln int, text string, col int, afterKey bool) {
	switch c := text[col]; c {
	case '"', '\'', '{', '[':
		s.chars(ln, text, col)
	case '|', '>':
		s.inBlock = true
		s.blockParent = len(text) - len(strings.TrimLeft(text, " "))
	case '@', '`', '%':
		v := plainEnd(text, col, false)
		s.add(ln, col+1, RuleQuote, fmt.Sprintf("quote this text: %s (text cannot start with %c)", v, c),
			fmt.Sprintf("write it in quotes: %q", v))
	case '&', '*', '!':
	default:
		v := plainEnd(text, col, false)
		if i := strings.Index(v, ": "); i >= 0 || strings.HasSuffix(v, ":") {
			s.add(ln, col+1, RuleQuote, fmt.Sprintf(`quote this text: %s (a ": " inside it reads as a new key)`, v),
				"write it in quotes: "+keyPrefix(text, col, afterKey)+strconv.Quote(v))
			return
		}
		s.prevPlain = true
	}
}

// keyPrefix returns the "key: " before col, for a hint.
func keyPrefix(text string, col int, afterKey bool) string {
	if !afterKey {
		return ""
	}
	return strings.TrimLeft(strings.TrimLeft(text[:col], " "), "- ")
}

// plainEnd returns the plain text from col to the end of the line, or
// in a flow to the next , } or ], without a trailing comment.
func plainEnd(text string, col int, inFlow bool) string {
	end := len(text)
	for i := col; i < len(text); i++ {
		if text[i] == '#' && i > col && text[i-1] == ' ' && !inFlow {
			end = i
			break
		}
		if inFlow && strings.IndexByte(",}]", text[i]) >= 0 {
			end = i
			break
		}
	}
	return strings.TrimSpace(text[col:end])
}

// chars follows quotes and flow brackets through text from col on.
func (s *scanner) chars(ln int, text string, col int) {
	for i := col; i < len(text); i++ {
		c := text[i]
		if s.quote != 0 {
			switch {
			case s.quote == '"' && c == '\\':
				i++
			case s.quote == '\'' && c == '\'' && i+1 < len(text) && text[i+1] == '\'':
				i++
			case c == s.quote:
				s.quote = 0
			}
			continue
		}
		if c == '#' && (i == 0 || text[i-1] == ' ') {
			return
		}
		if len(s.flows) == 0 && i > col {
			// After the quoted text or flow that started at col.
			switch c {
			case ' ':
				continue
			case '}', ']':
				s.add(ln, i+1, RuleUnclosed, fmt.Sprintf("this %c closes nothing", c),
					"remove it, or open it where it belongs; text that holds # , [ ] { } goes in quotes")
			}
			return
		}
		switch c {
		case ' ':
			continue
		case '"', '\'':
			s.quote, s.quoteLine, s.quoteCol = c, ln, i+1
			continue
		case '{', '[':
			s.flows = append(s.flows, flow{char: c, line: ln, col: i + 1, indent: s.lineIndent})
			continue
		case '}', ']':
			if len(s.flows) == 0 || closer(s.flows[len(s.flows)-1].char) != c {
				s.add(ln, i+1, RuleUnclosed, fmt.Sprintf("this %c closes nothing", c),
					"remove it, or open it where it belongs; text that holds # , [ ] { } goes in quotes")
				return
			}
			s.flows = s.flows[:len(s.flows)-1]
			continue
		case ',':
			if len(s.flows) > 0 {
				s.flows[len(s.flows)-1].colon = false
			}
			continue
		case ':':
			if len(s.flows) > 0 {
				s.flows[len(s.flows)-1].colon = true
			}
			continue
		}
		if len(s.flows) == 0 {
			return // text after a closing quote: yaml.v3 says what it is
		}
		// A plain scalar inside a flow: up to ", " "}" "]", or its key's ": ".
		f := &s.flows[len(s.flows)-1]
		j := i
		for j < len(text) && strings.IndexByte(",}]", text[j]) < 0 {
			if text[j] == ':' && (j+1 == len(text) || text[j+1] == ' ') && !f.colon {
				break
			}
			j++
		}
		v := strings.TrimSpace(text[i:j])
		bad := ""
		switch {
		case strings.Contains(v, ": "):
			bad = `a ": " inside {...} or [...] ends the text`
		case strings.ContainsRune(v, '?'):
			bad = `a "?" inside {...} or [...] is YAML syntax`
		case strings.Contains(v, " #"):
			bad = `" #" starts a comment`
		}
		if bad != "" {
			s.add(ln, i+1, RuleQuote, fmt.Sprintf("quote this text: %s (%s)", v, bad),
				"write it in quotes: "+strconv.Quote(v))
			// Give up on this flow: its remaining structure is unknowable.
			s.flows = nil
			return
		}
		i = j - 1
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func abs(x int) int { return max(x, -x) }
