// Package i18n holds the localized text of the built-in adapters' data
// files and the formatting of numbers for a phone screen. It imports
// nothing of ours.
//
// A data file declares its languages (langs: [en, fr, sw], the first being
// the default); every localized text is then either a plain string (the
// same in every language) or a mapping from language to text, which must
// cover every declared language. Adapters pick a language from the "lang"
// param of a call, falling back to the default.
package i18n

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Text is a text in one or more languages. A Text decoded from a plain
// string has it under "" and reads the same in every language.
type Text map[string]string

// UnmarshalYAML accepts a string or a mapping from language to string.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*t = Text{"": n.Value}
		return nil
	case yaml.MappingNode:
		m := map[string]string{}
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("want a text or a mapping from language to text")
		}
		*t = m
		return nil
	}
	return fmt.Errorf("want a text or a mapping from language to text")
}

// UnmarshalJSON accepts a string or an object from language to string.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Text{"": s}
		return nil
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("want a text or an object from language to text")
	}
	*t = m
	return nil
}

// In returns the text in lang, falling back to def, then to the plain form.
func (t Text) In(lang, def string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	if s, ok := t[def]; ok {
		return s
	}
	return t[""]
}

// Check reports what is wrong with t given the declared languages:
// empty, missing a language, or naming an undeclared one.
func (t Text) Check(langs []string) error {
	if len(t) == 0 {
		return fmt.Errorf("required")
	}
	if s, ok := t[""]; ok {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("required")
		}
		return nil
	}
	var missing []string
	for _, l := range langs {
		if strings.TrimSpace(t[l]) == "" {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing text in %s", strings.Join(missing, ", "))
	}
	for l := range t {
		if !slices.Contains(langs, l) {
			return fmt.Errorf("language %q is not declared in langs", l)
		}
	}
	return nil
}

var langRE = regexp.MustCompile(`^[a-z]{2,3}$`)

// CheckLangs reports what is wrong with a data file's langs list.
func CheckLangs(langs []string) error {
	if len(langs) == 0 {
		return fmt.Errorf("required: the languages of the file, default first")
	}
	for i, l := range langs {
		if !langRE.MatchString(l) {
			return fmt.Errorf("%q is not a language code (like en, fr, sw)", l)
		}
		if slices.Contains(langs[:i], l) {
			return fmt.Errorf("%q is listed twice", l)
		}
	}
	return nil
}

// Pick returns the language to answer in: lang lower-cased and cut to its
// primary subtag ("sw-KE" → "sw") when it is one of langs, else langs[0].
func Pick(lang string, langs []string) string {
	if lang != "" {
		if i := strings.IndexAny(lang, "-_"); i > 0 {
			lang = lang[:i]
		}
		for _, l := range langs {
			if strings.EqualFold(l, lang) {
				return l
			}
		}
	}
	if len(langs) == 0 {
		return ""
	}
	return langs[0]
}

// Number formats v for a screen in lang: thousands grouped ("3,200"; in
// French with a plain space, "3 200", since a narrow no-break space is not
// in the GSM alphabet), and at most two decimals, dropped when zero.
func Number(v float64, lang string) string {
	sep, dot := ",", "."
	if lang == "fr" {
		sep, dot = " ", ","
	}
	neg := v < 0
	v = math.Abs(v)
	whole := math.Floor(v)
	cents := int64(math.Round((v - whole) * 100))
	if cents == 100 {
		whole++
		cents = 0
	}
	digits := strconv.FormatFloat(whole, 'f', 0, 64)
	var b strings.Builder
	if neg && (whole > 0 || cents > 0) {
		b.WriteByte('-')
	}
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if cents > 0 {
		b.WriteString(dot)
		if cents%10 == 0 {
			b.WriteString(strconv.FormatInt(cents/10, 10))
		} else {
			fmt.Fprintf(&b, "%02d", cents)
		}
	}
	return b.String()
}

// Percent formats a relative change as "+4%", "-12%" or "0%".
func Percent(change float64) string {
	p := math.Round(change * 100)
	switch {
	case p > 0:
		return "+" + strconv.Itoa(int(p)) + "%"
	case p < 0:
		return strconv.Itoa(int(p)) + "%"
	}
	return "0%"
}
