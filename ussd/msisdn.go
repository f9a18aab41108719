package ussd

import "github.com/ussdgw/ussdgw/msisdn"

// MSISDN is a subscriber's number (international digits, no "+"). It is
// the module's one phone-number type, msisdn.MSISDN, which logs and prints
// masked (only the last three digits show). An alias rather than a new
// type, so that ussd.MSISDN, smpp.MSISDN and msisdn.MSISDN are one type:
// callers keep compiling, values pass between packages without
// conversions, and there is one masking rule.
type MSISDN = msisdn.MSISDN

// Mask hides all but the last three characters of s (msisdn.Mask).
func Mask(s string) string { return msisdn.Mask(s) }
