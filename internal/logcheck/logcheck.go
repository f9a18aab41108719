// Package logcheck is a test helper: slog handlers that check every log
// line a test writes, at every level down to debug, and fail the test when
// a line shows a phone number whole or a text the test named as secret
// (an SMS body, a sensitive input). Tests build their loggers with New or
// Wrap, and a package's TestMain calls Main so that what packages log
// through slog.Default is checked too. A test helper: it imports only the
// codecs (msisdn); only tests import it.
//
// It is for tests only, and imports only the standard library.
package logcheck

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// Checker checks log lines: each one it sees is checked by Leak and for
// the texts given to Forbid. Its problems fail the test that made it (at
// the test's cleanup: lines logged by goroutines after the test ended go
// to the package's TestMain through Main).
type Checker struct {
	t      testing.TB // nil for Main's
	mu     sync.Mutex
	done   bool
	forbid []string
	bad    []string
	lines  int
}

// NewChecker returns a Checker that fails t if a line it checks leaks.
func NewChecker(t testing.TB) *Checker {
	c := &Checker{t: t}
	t.Cleanup(c.report)
	return c
}

// New returns a logger that checks every line at debug and above and
// writes nothing: for tests that discarded their logs.
func New(t testing.TB) *slog.Logger { return NewChecker(t).Logger(nil) }

// Wrap returns a logger that checks every line at debug and above and
// passes each record on to next (at next's own level), for tests that
// read or show their logs.
func Wrap(t testing.TB, next slog.Handler) *slog.Logger { return NewChecker(t).Logger(next) }

// Discard returns a logger that checks every line at debug and above and
// writes nothing, for loggers made outside a test (package variables): its
// leaks fail the package's run through Main.
func Discard() *slog.Logger { return Package().Logger(nil) }

// Package returns a Checker not tied to a test: its leaks fail the
// package's run through Main. For hooks that wrap the handlers a program
// builds for itself (cmd/ussdgw's newLogger).
func Package() *Checker { return &Checker{} }

// Text checks the lines of a log captured as text (a child process's
// stderr), failing t for each line that leaks.
func Text(t testing.TB, text string, forbid ...string) {
	t.Helper()
	for line := range strings.Lines(text) {
		if n, ok := Leak(line); ok {
			t.Errorf("logcheck: phone number %s logged whole: %s", n, strings.TrimSpace(line))
		}
		for _, s := range forbid {
			if len(s) >= 4 && strings.Contains(line, s) {
				t.Errorf("logcheck: secret text %q logged: %s", s, strings.TrimSpace(line))
			}
		}
	}
}

// Forbid names texts that must never appear in a log line, such as the
// text of an SMS the test sends. Texts shorter than 4 bytes are ignored:
// they would match by chance.
func (c *Checker) Forbid(texts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range texts {
		if len(s) >= 4 {
			c.forbid = append(c.forbid, s)
		}
	}
}

// Lines is the number of lines checked so far.
func (c *Checker) Lines() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
}

// Handler returns a handler that checks every record at debug and above,
// then passes it on to next (nil: nowhere).
func (c *Checker) Handler(next slog.Handler) slog.Handler {
	check := slog.NewTextHandler(checkWriter{c}, &slog.HandlerOptions{Level: slog.LevelDebug})
	if next == nil {
		return check
	}
	return slog.NewMultiHandler(check, next)
}

// Logger is slog.New(c.Handler(next)).
func (c *Checker) Logger(next slog.Handler) *slog.Logger { return slog.New(c.Handler(next)) }

// checkWriter receives one whole line per Write: slog's handlers write each
// record in one call.
type checkWriter struct{ c *Checker }

func (w checkWriter) Write(p []byte) (int, error) {
	w.c.check(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func (c *Checker) check(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	var why string
	if n, ok := Leak(line); ok {
		why = fmt.Sprintf("phone number %s logged whole", n)
	}
	for _, s := range c.forbid {
		if strings.Contains(line, s) {
			why = fmt.Sprintf("secret text %q logged", s)
			break
		}
	}
	if why == "" {
		return
	}
	msg := why + ": " + line
	if c.t == nil || c.done {
		lateMu.Lock()
		late = append(late, msg)
		lateMu.Unlock()
		return
	}
	c.bad = append(c.bad, msg)
}

func (c *Checker) report() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	for _, m := range c.bad {
		c.t.Errorf("logcheck: %s", m)
	}
}

var (
	lateMu sync.Mutex
	late   []string // leaks seen by Main's checker or after a test ended
)

// Main runs a package's tests with slog.Default checking every line at
// debug and above (and showing info and above on stderr, as before), and
// fails the run if any line leaked, there or in a test's checker after the
// test ended. Use it as the package's TestMain.
func Main(m *testing.M) { os.Exit(Checked(m).Run()) }

// Runner is what runs a package's tests: *testing.M, or a wrapper such as
// goleak.VerifyTestMain takes.
type Runner interface{ Run() int }

// Checked wraps m so that its Run does what Main does and returns the exit
// code, for a TestMain that does more: goleak.VerifyTestMain(logcheck.Checked(m)).
func Checked(m Runner) Runner { return checked{m} }

type checked struct{ m Runner }

func (r checked) Run() int {
	c := &Checker{}
	prev := slog.Default()
	slog.SetDefault(c.Logger(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	code := r.m.Run()
	slog.SetDefault(prev)
	if n := reportLate(os.Stderr); n > 0 && code == 0 {
		code = 1
	}
	return code
}

func reportLate(w io.Writer) int {
	lateMu.Lock()
	defer lateMu.Unlock()
	for _, m := range late {
		fmt.Fprintf(w, "logcheck: %s\n", m)
	}
	n := len(late)
	late = nil
	return n
}

// Leak reports whether line shows a phone number whole, and which: a run
// of 9 to 15 digits standing alone (not part of a word, an id of letters
// and digits, a fraction, or a dashed id such as a UUID), optionally after
// "+" or its URL escape "%2B", that starts as a phone number does: with an
// assigned country calling code (international form, as the gateway keeps
// numbers) or with 0 and a digit that is not (a national number such as
// 0712345678). Other runs are counts, sizes and limits (4294967295 starts
// with 429, which is no country's code). Runs that are Unix times in
// seconds (10 digits) or milliseconds (13 digits) between 2001 and 2033
// are not numbers either: international numbers of those lengths never
// start with 1 (North American ones have 11 digits).
func Leak(line string) (string, bool) {
	for i := 0; i < len(line); {
		if !isDigit(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && isDigit(line[j]) {
			j++
		}
		run := line[i:j]
		start := i
		i = j
		if len(run) < 9 || len(run) > 15 {
			continue
		}
		if start >= 3 && strings.EqualFold(line[start-3:start], "%2B") {
			return run, true
		}
		if start > 0 && (isWord(line[start-1]) || line[start-1] == '.' || line[start-1] == '-') {
			continue
		}
		if j < len(line) && (isWord(line[j]) || line[j] == '-') {
			continue
		}
		if run[0] == '1' && (len(run) == 10 || len(run) == 13) {
			continue
		}
		if !phoneLike(run) {
			continue
		}
		return run, true
	}
	return "", false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWord(b byte) bool {
	return isDigit(b) || b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80
}

// phoneLike reports whether a run of digits starts as a phone number:
// with 0 and another digit (national), or with a country calling code
// assigned by the ITU (E.164). The table errs on the side of a code: a
// block of three-digit codes counts whole unless it is listed as sparse.
func phoneLike(run string) bool {
	if run[0] == '0' {
		return run[1] != '0' && len(run) <= 12
	}
	switch run[0] {
	case '1', '7':
		return true
	}
	cc2 := run[:2]
	if strings.Contains(twoDigit, " "+cc2+" ") {
		return true
	}
	if ok, sparse := threeDigitSparse[cc2]; sparse {
		return strings.Contains(ok, run[2:3])
	}
	return !strings.Contains(noCodes, " "+cc2+" ")
}

// twoDigit are the two-digit country codes.
const twoDigit = " 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 "

// noCodes are the two-digit prefixes no country code starts with.
const noCodes = " 28 83 89 "

// threeDigitSparse are three-digit blocks only partly assigned: the third
// digits in use.
var threeDigitSparse = map[string]string{
	"21": "12368", // 211 South Sudan, 212 Morocco, 213 Algeria, 216 Tunisia, 218 Libya
	"42": "013",   // 420 Czechia, 421 Slovakia, 423 Liechtenstein
	"29": "01789", // 290 Saint Helena, 291 Eritrea, 297 Aruba, 298 Faroe, 299 Greenland
	"37": "0123456789",
	"80": "08",      // 800, 808 international freephone and shared cost
	"85": "02356",   // 850 North Korea, 852 Hong Kong, 853 Macau, 855 Cambodia, 856 Laos
	"87": "08",      // 870 Inmarsat, 878 UPT
	"88": "0123468", // 880 Bangladesh, 881-883 global services, 886 Taiwan, 888 OCHA
	"99": "1234568", // 991 ITPCS, 992-996 Central Asia, 998 Uzbekistan
}
