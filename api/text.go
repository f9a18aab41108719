package api

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gsm"
)

// A broadcast text may take at most three SMS: 3×153 septets in GSM 7-bit
// (extension characters such as € [ ] { } take two), 3×67 UTF-16 units in
// UCS-2, the user data of concatenated parts minus their 6-octet header.
const (
	maxParts   = 3
	maxSeptets = maxParts * 153 // 459
	maxUCS2    = maxParts * 67  // 201
)

// checkText checks one language's text for length.
func checkText(t string) error {
	if strings.TrimSpace(t) == "" {
		return fmt.Errorf("empty")
	}
	// A JSON body cannot carry invalid UTF-8 (the decoder replaces it),
	// but the text_<lang> query parameters of an upload can: refuse it
	// rather than guess at what the phone should show.
	if !utf8.ValidString(t) {
		return fmt.Errorf("not valid UTF-8")
	}
	l := gsm.Measure(t)
	if !l.UCS2 {
		if l.Units > maxSeptets {
			return fmt.Errorf("too long: %d GSM 7-bit characters (extension characters such as € [ ] { } ~ ^ | \\ count twice); at most %d fit in %d SMS", l.Units, maxSeptets, maxParts)
		}
		return nil
	}
	if l.Units > maxUCS2 {
		var first rune
		for _, r := range t {
			if gsm.RuneSeptets(r) == 0 {
				first = r
				break
			}
		}
		return fmt.Errorf("too long: %d UCS-2 characters (the text needs UCS-2 because of %q, not in the GSM alphabet); at most %d fit in %d SMS", l.Units, first, maxUCS2, maxParts)
	}
	return nil
}

// checkTexts checks a broadcast's texts against the service: a language
// it declares, the default language present (the text of recipients whose
// language has none), each text short enough.
func checkTexts(f *flows.Flow, texts map[string]string) []Problem {
	if len(texts) == 0 {
		return []Problem{{Field: "text", Error: fmt.Sprintf("missing: give the text per language, at least in the service's default language (%s)", f.DefaultLang)}}
	}
	var ps []Problem
	langs := make([]string, 0, len(texts))
	for l := range texts {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		field := "text." + l
		if !f.HasLanguage(l) {
			ps = append(ps, Problem{Field: field, Error: fmt.Sprintf("service %s has no language %q (it has %s)", f.ID, l, strings.Join(f.Languages, ", "))})
			continue
		}
		if err := checkText(texts[l]); err != nil {
			ps = append(ps, Problem{Field: field, Error: err.Error()})
		}
	}
	if _, ok := texts[f.DefaultLang]; !ok {
		ps = append(ps, Problem{Field: "text." + f.DefaultLang, Error: fmt.Sprintf("missing: %s is the service's default language, sent to recipients whose language has no text", f.DefaultLang)})
	}
	return ps
}
