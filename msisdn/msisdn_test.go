package msisdn

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"254712345678", "***678"},
		{"25471234567890", "***890"},
		{"1234", "***234"},
		{"123", "***"},
		{"", "***"},
	} {
		if got := Mask(c.in); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMSISDNNeverPrintsWhole(t *testing.T) {
	m := MSISDN("254712345678")
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "msisdn", m)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "to", m)
	err := fmt.Errorf("sending to %s: %w", m, errors.New("boom"))
	for name, s := range map[string]string{
		"text and json logs": buf.String(),
		"%s":                 fmt.Sprintf("to %s", m),
		"%v":                 fmt.Sprintf("%v", m),
		"%#v":                fmt.Sprintf("%#v", m),
		"%+v struct":         fmt.Sprintf("%+v", struct{ To MSISDN }{m}),
		"error":              err.Error(),
	} {
		if strings.Contains(s, "254712345678") || strings.Contains(s, "712345") {
			t.Errorf("%s carries the number: %s", name, s)
		}
		if !strings.Contains(s, "***678") {
			t.Errorf("%s has no masked number: %s", name, s)
		}
	}
	if string(m) != "254712345678" {
		t.Errorf("string(m) = %q, want the digits", string(m))
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want MSISDN
		ok   bool
	}{
		{"254700000001", "254700000001", true},
		{"+254 700 000001", "254700000001", true},
		{" +254-700-000001 ", "254700000001", true},
		{"12345", "12345", true},
		{"1234", "", false},
		{"1234567890123456", "", false},
		{"2547OO000001", "", false},
		{"+", "", false},
		{"", "", false},
		{"++254700000001", "", false},
		{"254700000001;", "", false},
	} {
		got, ok := Normalize(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, string(got), ok, string(c.want), c.ok)
		}
	}
}

func TestValid(t *testing.T) {
	for in, want := range map[string]bool{
		"254700000001": true, "12345": true, "123456789012345": true,
		"1234": false, "1234567890123456": false, "+254700000001": false, "25470000000a": false, "": false,
	} {
		if got := Valid(in); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"harvest-1:254712345678", "harvest-1:***678"},
		{"digest:market:2026-11-30:254700000001", "digest:market:2026-11-30:***001"},
		{"n:{254700000001}:subs and p:{255700000002}", "n:{***001}:subs and p:{***002}"},
		{"1764516639123-0", "***123-0"},
		{"3f8a1234567890bc", "3f8a1234567890bc"},
		{"no numbers, 42 and 2026", "no numbers, 42 and 2026"},
		{"", ""},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Text(c.in).LogValue().String(); got != c.want {
			t.Errorf("Text(%q) logs %q, want %q", c.in, got, c.want)
		}
	}
}
