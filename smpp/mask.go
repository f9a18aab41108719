package smpp

import (
	"log/slog"
	"strings"
)

// MSISDN is a phone number or address that logs masked: only its last
// three characters show, so logs never carry a full number.
type MSISDN string

// LogValue implements slog.LogValuer.
func (m MSISDN) LogValue() slog.Value { return slog.StringValue(m.String()) }

// String returns the masked form, e.g. "*********123".
func (m MSISDN) String() string {
	if len(m) <= 3 {
		return strings.Repeat("*", len(m))
	}
	return strings.Repeat("*", len(m)-3) + string(m[len(m)-3:])
}

// Secret is a password. It prints and logs as "[redacted]".
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// GoString implements fmt.GoStringer, so %#v does not leak it either.
func (Secret) GoString() string { return `"[redacted]"` }
