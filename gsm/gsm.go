// Package gsm measures and converts text for the GSM 03.38 default alphabet
// (3GPP TS 23.038) and UCS-2, the two codings a USSD screen or an SMS can
// use. It imports nothing of ours, so that the transports and the engine
// can share it.
//
// A screen or message is sent in GSM 7-bit when every character is in the
// default alphabet or its extension table (extension characters take two
// septets: ESC and the character); otherwise the whole text goes as UCS-2
// (UTF-16BE, where a character outside the BMP takes two code units). The
// functions here count what will actually be sent, so that pagination and
// segmentation never exceed a limit on the wire.
//
// All functions are pure and safe for concurrent use.
package gsm

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Esc is the escape septet that introduces an extension-table character.
const Esc = 0x1B

// basic is the default alphabet, indexed by septet. Index 0x1B is the escape.
var basic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// extension maps the extension-table characters to the septet that follows Esc.
var extension = map[rune]byte{
	'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F,
	'[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65,
}

var (
	// toSeptet maps every basic-alphabet rune to its septet; built from basic.
	toSeptet = map[rune]byte{}
	// fromExt maps an extension septet back to its rune.
	fromExt = map[byte]rune{}
	// asciiSeptet is the fast path for runes below 0x80: the septet plus one,
	// or 0 when the rune is not in the basic alphabet (e.g. '`', '{').
	asciiSeptet [128]byte
	// asciiExt marks ASCII runes that are in the extension table.
	asciiExt [128]bool
)

func init() {
	for i, r := range basic {
		if i == Esc {
			continue
		}
		toSeptet[r] = byte(i)
		if r < 0x80 {
			asciiSeptet[r] = byte(i) + 1
		}
	}
	for r, b := range extension {
		fromExt[b] = r
		if r < 0x80 {
			asciiExt[r] = true
		}
	}
}

// ErrNotGSM is returned when text has a character outside GSM 03.38.
var ErrNotGSM = errors.New("gsm: character not in the GSM 03.38 alphabet")

// RuneSeptets returns how many septets r takes in GSM 7-bit: 1 for the basic
// alphabet, 2 for the extension table, 0 if r cannot be sent in GSM 7-bit.
func RuneSeptets(r rune) int {
	if r < 0x80 {
		switch {
		case asciiSeptet[r] != 0:
			return 1
		case asciiExt[r]:
			return 2
		}
		return 0
	}
	if _, ok := toSeptet[r]; ok {
		return 1
	}
	if _, ok := extension[r]; ok {
		return 2
	}
	return 0
}

// Septets returns the number of septets s takes in GSM 7-bit and true, or
// 0 and false when some character of s is outside the alphabet.
func Septets(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case asciiSeptet[c] != 0:
				n++
			case asciiExt[c]:
				n += 2
			default:
				return 0, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		k := RuneSeptets(r)
		if k == 0 {
			return 0, false
		}
		n += k
		i += size
	}
	return n, true
}

// Fits reports whether s can be sent in GSM 7-bit.
func Fits(s string) bool {
	_, ok := Septets(s)
	return ok
}

// UCS2Units returns the number of UTF-16 code units s takes in UCS-2 (a
// character outside the Basic Multilingual Plane takes two).
func UCS2Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// Length is the size of a text as it will be sent.
type Length struct {
	Units int  // septets in GSM 7-bit, or UTF-16 code units in UCS-2
	UCS2  bool // true when the text needs UCS-2
}

// Measure returns how long s is in the coding it will be sent in.
func Measure(s string) Length {
	if n, ok := Septets(s); ok {
		return Length{Units: n}
	}
	return Length{Units: UCS2Units(s), UCS2: true}
}

// Limit is a size budget in octets, as a USSD string (160 octets) or an SMS
// user data (140 octets) has.
type Limit struct {
	Octets int
}

// Fits reports whether a text of length l fits in the limit.
func (lim Limit) Fits(l Length) bool {
	return l.Units <= lim.Max(l.UCS2)
}

// Max returns the most units the limit holds: Octets*8/7 septets in GSM
// 7-bit (182 for 160 octets), Octets/2 code units in UCS-2 (80).
func (lim Limit) Max(ucs2 bool) int {
	if ucs2 {
		return lim.Octets / 2
	}
	return lim.Octets * 8 / 7
}

// Encode returns s in unpacked GSM 7-bit, one septet per byte, extension
// characters as Esc followed by their septet. It fails with ErrNotGSM when
// a character cannot be represented.
func Encode(s string) ([]byte, error) {
	return AppendEncode(make([]byte, 0, len(s)), s)
}

// AppendEncode appends the unpacked GSM 7-bit form of s to dst.
func AppendEncode(dst []byte, s string) ([]byte, error) {
	for _, r := range s {
		if r < 0x80 && asciiSeptet[r] != 0 {
			dst = append(dst, asciiSeptet[r]-1)
			continue
		}
		if b, ok := toSeptet[r]; ok {
			dst = append(dst, b)
			continue
		}
		if b, ok := extension[r]; ok {
			dst = append(dst, Esc, b)
			continue
		}
		return dst, ErrNotGSM
	}
	return dst, nil
}

// Decode converts unpacked GSM 7-bit (one septet per byte) to a string.
// Bytes with the high bit set are read as their low seven bits, an unknown
// extension is read as its basic character (as 23.038 says a receiver
// should), and a trailing lone Esc is dropped, so Decode never fails.
func Decode(b []byte) string {
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i] & 0x7F
		if c == Esc {
			if i+1 >= len(b) {
				break
			}
			i++
			n := b[i] & 0x7F
			if r, ok := fromExt[n]; ok {
				out = append(out, r)
			} else if n != Esc {
				out = append(out, basic[n])
			} else {
				out = append(out, ' ')
			}
			continue
		}
		out = append(out, basic[c])
	}
	return string(out)
}

// EncodeUCS2 returns s as UTF-16BE.
func EncodeUCS2(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		b[2*i] = byte(u >> 8)
		b[2*i+1] = byte(u)
	}
	return b
}

// DecodeUCS2 converts UTF-16BE to a string. An odd trailing byte is
// dropped and unpaired surrogates become U+FFFD, so it never fails.
func DecodeUCS2(b []byte) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(units))
}
