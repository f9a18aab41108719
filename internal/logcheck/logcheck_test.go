package logcheck

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/msisdn"
)

func TestLeak(t *testing.T) {
	for _, c := range []struct {
		line string
		want string // "" = no leak
	}{
		{`level=INFO msg=x msisdn=254700000001`, "254700000001"},
		{`level=INFO msg=x msisdn=***001`, ""},
		{`level=INFO msg=x to=+254700000001`, "254700000001"},
		{`msg="sending to 254700000001."`, "254700000001"},
		{`msg=x key=ussd:n:{254700000001}:subs`, "254700000001"},
		{`msg=x url="http://a/x?phone=%2B254700000001"`, "254700000001"},
		{`msg=x url="http://a/x?phone=254700000001&y=1"`, "254700000001"},
		{`msg=x id=harvest-1:254712345678`, "254712345678"},
		{`msg=x national=0712345678`, "0712345678"},
		{`{"msg":"x","to":"255700000002"}`, "255700000002"},
		{`msg=x n=123456789012345`, "123456789012345"},
		// Not numbers.
		{`time=2026-11-30T15:30:39.123456789Z level=INFO msg=x`, ""},
		{`msg=x unix=1764516639 ms=1764516639123`, ""},
		{`msg=x dur=1.234567891s took=0.0123456789`, ""},
		{`msg=x id=3f8a1234567890bc`, ""},
		{`msg=x id=a1234567890123456789`, ""},
		{`msg=x id=01234567890123456789`, ""},
		{`msg=x uuid=550e8400-e29b-41d4-a716-446655440000`, ""},
		{`msg=x seq=12345678 count=99`, ""},
		{`msg=x ref=msg_123456789012`, ""},
		{`msg=x bytes=1073741824`, ""},
		{`msg=x ` + msisdn.Mask("254700000001"), ""},
		{`err="command_length 4294967295 is over the maximum 65536"`, ""},
		{`msg=x seq=2147483647`, ""},
		{`msg=x id=000000001234`, ""},
		{`msg=x n=8312345678`, ""},
		{`msg=x to=4471234567890`, "4471234567890"},
		{`msg=x to=12125550100`, "12125550100"},
		{`msg=x to=79161234567`, "79161234567"},
		{`msg=x to=420601123456`, "420601123456"},
		{`msg=x to=8801712345678`, "8801712345678"},
	} {
		got, leak := Leak(c.line)
		if got != c.want || leak != (c.want != "") {
			t.Errorf("Leak(%s) = %q, %v; want %q", c.line, got, leak, c.want)
		}
	}
}

// fakeT records what a Checker reports, to test the failing itself.
type fakeT struct {
	testing.TB
	errs    []string
	cleanup []func()
}

func (f *fakeT) Errorf(format string, args ...any) { f.errs = append(f.errs, format) }
func (f *fakeT) Cleanup(fn func())                 { f.cleanup = append(f.cleanup, fn) }
func (f *fakeT) end() {
	for _, fn := range f.cleanup {
		fn()
	}
}

func TestCheckerFailsTheTest(t *testing.T) {
	for _, c := range []struct {
		name string
		log  func(*slog.Logger)
		fail bool
	}{
		{"masked number", func(l *slog.Logger) { l.Info("sent", "to", msisdn.MSISDN("254700000001")) }, false},
		{"whole number", func(l *slog.Logger) { l.Info("sent", "to", "254700000001") }, true},
		{"whole number at debug", func(l *slog.Logger) { l.Debug("sent", "to", "254700000001") }, true},
		{"number in a group", func(l *slog.Logger) { l.WithGroup("g").With("n", "254700000001").Info("x") }, true},
		{"secret text", func(l *slog.Logger) { l.Warn("send failed", "text", "your code is 4711") }, true},
		{"nothing secret", func(l *slog.Logger) { l.Warn("send failed", "id", "abc") }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ft := &fakeT{}
			var out bytes.Buffer
			chk := NewChecker(ft)
			chk.Forbid("your code is 4711", "ab")
			l := chk.Logger(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
			c.log(l)
			ft.end()
			if failed := len(ft.errs) > 0; failed != c.fail {
				t.Errorf("failed = %v, want %v", failed, c.fail)
			}
			if chk.Lines() != 1 {
				t.Errorf("checked %d lines, want 1", chk.Lines())
			}
			// The wrapped handler still gets its records at its level.
			if strings.Contains(c.name, "debug") != (out.Len() == 0) {
				t.Errorf("passed on %q", out.String())
			}
		})
	}
}

func TestLateLinesGoToMain(t *testing.T) {
	ft := &fakeT{}
	chk := NewChecker(ft)
	ft.end()
	chk.Logger(nil).Info("late", "to", "254700000001")
	var b bytes.Buffer
	if n := reportLate(&b); n != 1 || !strings.Contains(b.String(), "254700000001") {
		t.Errorf("late leaks = %d %q", n, b.String())
	}
}
