package smpp

import (
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/gsm"
)

// DecodeText decodes user data by its data_coding. ok is false when the
// coding is not text we know (8-bit binary, or a value we do not read);
// text is then empty and the caller keeps the raw bytes.
//
//   - 0x00, 0x01, 0x0F and 0xF0-0xF3: unpacked GSM 7-bit, one septet per
//     octet. SMSCs differ on 0x01 (IA5) and on what 0x00 means, and some
//     send plain ASCII or Latin-1: digits, letters and most punctuation
//     are the same septets, so those decode right either way; if any octet
//     has its high bit set the data cannot be septets and is read as
//     Latin-1 instead.
//   - 0x08 (and 0x18, 0x48: UCS-2 with other class bits): UCS-2 / UTF-16BE.
//   - 0x03: Latin-1 (ISO-8859-1).
func DecodeText(dc uint8, b []byte) (text string, ok bool) {
	switch {
	case dc == 0x00 || dc == 0x01 || dc == 0x0F || (dc >= 0xF0 && dc <= 0xF3):
		for _, c := range b {
			if c >= 0x80 {
				return latin1(b), true
			}
		}
		return gsm.Decode(b), true
	case dc == 0x08 || dc == 0x18 || dc == 0x48:
		return gsm.DecodeUCS2(b), true
	case dc == 0x03:
		return latin1(b), true
	}
	return "", false
}

func latin1(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}
