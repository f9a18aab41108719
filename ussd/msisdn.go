package ussd

import "log/slog"

// MSISDN is a subscriber's number. It logs masked (all but the last three
// digits hidden), so that logs carry no personal data.
type MSISDN string

// LogValue implements slog.LogValuer.
func (m MSISDN) LogValue() slog.Value {
	return slog.StringValue(Mask(string(m)))
}

// Mask hides all but the last three characters of s.
func Mask(s string) string {
	if len(s) <= 3 {
		return "***"
	}
	return "***" + s[len(s)-3:]
}
