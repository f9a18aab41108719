package smpp

import (
	"log/slog"

	"github.com/ussdgw/ussdgw/msisdn"
)

// MSISDN is a phone number or address that logs and prints masked: only
// its last three characters show, so logs never carry a full number. It is
// the module's one phone-number type, msisdn.MSISDN; an alias, so that the
// bridge passes numbers between smpp and ussd without conversions and
// there is one masking rule.
type MSISDN = msisdn.MSISDN

// Secret is a password. It prints and logs as "[redacted]".
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// GoString implements fmt.GoStringer, so %#v does not leak it either.
func (Secret) GoString() string { return `"[redacted]"` }
