package gsm

import "strings"

// lookalikes are GSM 03.38 stand-ins for common characters outside it:
// Latin letters with accents the alphabet lacks, typographic quotes and
// dashes, and special spaces. One such character would otherwise make a
// whole screen UCS-2 and halve what fits on it.
var lookalikes = map[rune]string{
	'á': "a", 'â': "a", 'ã': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'ç': "c", 'ć': "c", 'č': "c",
	'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'ı': "i",
	'ó': "o", 'ô': "o", 'õ': "o", 'ō': "o", 'ő': "o", 'œ': "oe",
	'ú': "u", 'û': "u", 'ū': "u", 'ů': "u", 'ű': "u",
	'ý': "y", 'ÿ': "y", 'ś': "s", 'š': "s", 'ź': "z", 'ż': "z", 'ž': "z", 'ń': "n", 'ł': "l", 'ř': "r", 'đ': "d",
	'À': "A", 'Á': "A", 'Â': "A", 'Ã': "A", 'Ā': "A",
	'È': "E", 'Ê': "E", 'Ë': "E", 'Ì': "I", 'Í': "I", 'Î': "I", 'Ï': "I",
	'Ò': "O", 'Ó': "O", 'Ô': "O", 'Õ': "O", 'Œ': "OE", 'Ù': "U", 'Ú': "U", 'Û': "U", 'Ý': "Y",
	'Ś': "S", 'Š': "S", 'Ž': "Z", 'Č': "C", 'Ł': "L",
	'‘': "'", '’': "'", '‚': "'", '‛': "'", 'ʼ': "'", '`': "'", '´': "'",
	'“': "\"", '”': "\"", '„': "\"", '«': "\"", '»': "\"",
	'–': "-", '—': "-", '‐': "-", '‑': "-", '−': "-", '•': "-", '·': ".",
	'…':      "...",
	'\u00A0': " ", '\u2007': " ", '\u2009': " ", '\u202F': " ", '\u200B': "",
}

// Transliterate replaces characters outside GSM 03.38 by their GSM
// look-alikes (ê → e, ’ → ', NBSP → space). It returns s unchanged, and
// false, when s has a character with no look-alike (Amharic, Arabic,
// emoji): that text needs UCS-2 anyway and is better sent as written.
func Transliterate(s string) (string, bool) {
	if Fits(s) {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if RuneSeptets(r) > 0 {
			b.WriteRune(r)
			continue
		}
		alt, ok := lookalikes[r]
		if !ok {
			return s, false
		}
		b.WriteString(alt)
	}
	return b.String(), true
}
