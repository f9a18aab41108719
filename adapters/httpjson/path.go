package httpjson

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// A path picks a value out of a JSON document: dot-separated steps, each
// a key of an object or, on an array, an index from 0 (-1 is the last
// item); "#" as the last step is the length of an array or object. The
// empty path is the whole document. "data.items.0.price" is the price of
// the first item of data's items.
type path []string

func parsePath(s string) (path, error) {
	if s == "" || s == "." {
		return nil, nil
	}
	p := strings.Split(s, ".")
	for i, step := range p {
		if step == "" {
			return nil, fmt.Errorf("empty step in path %q", s)
		}
		if step == "#" && i != len(p)-1 {
			return nil, fmt.Errorf("# must be the last step of %q", s)
		}
	}
	return p, nil
}

// get returns the value at p in v, and whether there is one.
func (p path) get(v any) (any, bool) {
	for _, step := range p {
		switch x := v.(type) {
		case map[string]any:
			if step == "#" {
				return len(x), true
			}
			var ok bool
			if v, ok = x[step]; !ok {
				return nil, false
			}
		case []any:
			if step == "#" {
				return len(x), true
			}
			i, err := strconv.Atoi(step)
			if err != nil {
				return nil, false
			}
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// maxDepth bounds how deep a passed-through value goes.
const maxDepth = 5

// result turns a decoded JSON value into a Result: numbers become int
// when whole, float64 otherwise; object keys become lower-case
// identifiers (firstName → first_name, "unit-price" → unit_price); keys
// that cannot are dropped, and so is what lies deeper than maxDepth.
func result(v any, depth int) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 0); err == nil {
			return int(i)
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return string(x)
		}
		return f
	case map[string]any:
		if depth >= maxDepth {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			nk := key(k)
			if nk == "" {
				continue
			}
			if _, dup := out[nk]; dup && nk != k {
				continue // the key that was already an identifier wins
			}
			out[nk] = result(e, depth+1)
		}
		return out
	case []any:
		if depth >= maxDepth {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = result(e, depth+1)
		}
		return out
	}
	return v // string, bool, nil
}

// key turns a JSON key into a lower-case identifier, or "" if it cannot.
func key(k string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			prevLower = r >= 'a'
		case r >= 'A' && r <= 'Z':
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			prevLower = false
		}
	}
	s := strings.Trim(b.String(), "_")
	s = strings.TrimLeft(s, "0123456789_")
	return s
}
