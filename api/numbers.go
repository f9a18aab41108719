package api

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// normalize reads a phone number as people write it (+254 712 345 678,
// 0712345678, 254712345678) and returns it as international digits
// without "+" (254712345678), the form MSISDNs take in the gateway. A
// number without a country code is read in the default country. It must
// be a valid number by libphonenumber's metadata (length and prefixes
// of the country's plan), not just digits.
func normalize(raw, country string) (string, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", fmt.Errorf("empty")
	}
	if strings.IndexFunc(v, unicode.IsLetter) >= 0 {
		return "", fmt.Errorf("not a phone number")
	}
	n, err := phonenumbers.Parse(v, country)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		// International digits without "+" (as MSISDNs are written)
		// read as a national number are too long: try them as
		// international.
		if digits := onlyDigits(v); !strings.HasPrefix(v, "+") && !strings.HasPrefix(digits, "0") && len(digits) > 8 {
			if n2, err2 := phonenumbers.Parse("+"+digits, country); err2 == nil && phonenumbers.IsValidNumber(n2) {
				return strings.TrimPrefix(phonenumbers.Format(n2, phonenumbers.E164), "+"), nil
			}
		}
		if err != nil {
			return "", fmt.Errorf("not a phone number")
		}
		return "", fmt.Errorf("not a valid phone number (read in %s when it has no country code)", country)
	}
	return strings.TrimPrefix(phonenumbers.Format(n, phonenumbers.E164), "+"), nil
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// numberList is the validated numbers of a broadcast: each once, in the
// order given.
type numberList struct {
	numbers []string
	dups    int // numbers given more than once (sent once)
}

func (l *numberList) add(seen map[string]bool, n string) {
	if seen[n] {
		l.dups++
		return
	}
	seen[n] = true
	l.numbers = append(l.numbers, n)
}

// normalizeAll normalizes raw numbers on every core: libphonenumber's
// checks are regular expressions, the bulk of an upload's cost (about 17
// µs a number).
func normalizeAll(raw []string, country string) ([]string, []error) {
	out := make([]string, len(raw))
	errs := make([]error, len(raw))
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(raw) + workers - 1) / workers
	if len(raw) < 2000 {
		workers, chunk = 1, len(raw)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(raw))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i], errs[i] = normalize(raw[i], country)
			}
		}()
	}
	wg.Wait()
	return out, errs
}

// numbersFromJSON validates the numbers of a JSON request; problems name
// the index (audience.numbers[3]).
func numbersFromJSON(raw []string, country string) (numberList, []Problem) {
	var l numberList
	var ps []Problem
	seen := make(map[string]bool, len(raw))
	nums, errs := normalizeAll(raw, country)
	for i, n := range nums {
		if errs[i] != nil {
			ps = append(ps, Problem{Field: fmt.Sprintf("audience.numbers[%d]", i), Value: raw[i], Error: errs[i].Error()})
			continue
		}
		l.add(seen, n)
	}
	return l, ps
}

// numbersFromText reads an upload: one number per line, as plain text or
// CSV (the first column is the number; a first line without digits is a
// header). Blank lines and lines starting with # are skipped. Problems
// name the line (1-based).
func numbersFromText(r io.Reader, country string) (numberList, []Problem, error) {
	var raw []string
	var lines []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a BOM from spreadsheet exports
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if i := strings.IndexAny(text, ",;\t"); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(strings.Trim(strings.TrimSpace(text), `"'`))
		if len(raw) == 0 && !strings.ContainsAny(text, "0123456789") {
			continue // a header line such as "phone"
		}
		raw = append(raw, text)
		lines = append(lines, line)
	}
	var l numberList
	if err := sc.Err(); err != nil {
		return l, nil, err
	}
	var ps []Problem
	seen := make(map[string]bool, len(raw))
	nums, errs := normalizeAll(raw, country)
	for i, n := range nums {
		if errs[i] != nil {
			ps = append(ps, Problem{Line: lines[i], Value: raw[i], Error: errs[i].Error()})
			continue
		}
		l.add(seen, n)
	}
	return l, ps, nil
}
