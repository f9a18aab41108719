package smpp

import (
	"log/slog"
)

// Secret is a password. It prints and logs as "[redacted]".
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// GoString implements fmt.GoStringer, so %#v does not leak it either.
func (Secret) GoString() string { return `"[redacted]"` }
