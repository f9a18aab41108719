// Package msisdn is the gateway's one phone-number type: a subscriber's
// number as international digits without "+" (254712345678), which logs
// and prints masked so that no log line, error text or %v carries a full
// number. It imports nothing of ours, so that any package may use it.
//
// It is a leaf: it imports only the standard library, so that every
// package of the module (the leaf packages consent and outbox too) can
// use it without import cycles. It must not import anything of ours.
package msisdn

import (
	"log/slog"
	"strings"
)

// MSISDN is a subscriber's number: international digits, no "+".
//
// It masks itself wherever it is printed: LogValue (slog), String (%s,
// %v, errors) and GoString (%#v) all show only the last three digits
// (see Mask). Use string(m) where the digits themselves are needed (Redis
// keys, SMPP addresses, HTTP requests to adapters).
type MSISDN string

// LogValue implements slog.LogValuer: the number logs masked.
func (m MSISDN) LogValue() slog.Value { return slog.StringValue(Mask(string(m))) }

// String implements fmt.Stringer: the number prints masked, so that an
// error built with %s or %v does not carry it either.
func (m MSISDN) String() string { return Mask(string(m)) }

// GoString implements fmt.GoStringer, so that %#v masks it too.
func (m MSISDN) GoString() string { return `"` + Mask(string(m)) + `"` }

// Mask hides all but the last three characters of s behind "***"
// (254712345678 → ***678). The mask has a fixed width, so that it does
// not tell the number's length (and hence often its country) either; a
// value of three characters or fewer is hidden whole.
func Mask(s string) string {
	if len(s) <= 3 {
		return "***"
	}
	return "***" + s[len(s)-3:]
}

// Min and Max are the lengths of a number in digits: E.164 allows at most
// 15; the gateway accepts 5 so that short test and service numbers pass.
const (
	Min = 5
	Max = 15
)

// Valid reports whether s is already in the gateway's form: Min to Max
// digits, nothing else.
func Valid(s string) bool {
	if len(s) < Min || len(s) > Max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Normalize reads an international number as aggregators send it
// ("+254 700-000001", "254700000001") and returns its digits
// (254700000001), or false when it is not one: anything but digits,
// spaces and dashes after an optional leading "+", or a length outside
// Min to Max. It does not read national numbers (0712…): that needs a
// default country and a numbering plan, which the API does with
// libphonenumber.
func Normalize(s string) (MSISDN, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", false
		}
	}
	if !Valid(b.String()) {
		return "", false
	}
	return MSISDN(b.String()), true
}

// Redact returns s with every number in it masked: each run of Min to Max
// digits that stands alone (not inside a word or a longer id of letters
// and digits) is replaced by Mask of it. For strings that may embed a
// number, such as message ids ("harvest-1:254712345678" →
// "harvest-1:***678") and texts of errors naming Redis keys.
func Redact(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i >= Min && j-i <= Max && (i == 0 || !isWord(s[i-1])) && (j == len(s) || !isWord(s[j])) {
			b.WriteString(s[last:i])
			b.WriteString(Mask(s[i:j]))
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Text is a string that may embed a number (a message id, a reference):
// it logs and prints through Redact.
type Text string

// LogValue implements slog.LogValuer.
func (t Text) LogValue() slog.Value { return slog.StringValue(Redact(string(t))) }

// String implements fmt.Stringer.
func (t Text) String() string { return Redact(string(t)) }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWord(b byte) bool {
	return isDigit(b) || b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}
