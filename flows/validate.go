package flows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// inputRule is the validation of an input node. The zero value accepts any
// non-empty text.
type inputRule struct {
	kind      string // text, number, integer, date
	pattern   *regexp.Regexp
	min, max  *float64
	minLen    int
	maxLen    int
	oneOf     []string
	notFuture bool // dates: not after today
}

var dateLayouts = []string{"2/1/2006", "2-1-2006", "2.1.2006", "02012006", "2006-01-02"}

// check validates in and returns the value to save: numbers as typed
// (with a decimal comma made a point), dates as YYYY-MM-DD, one_of answers
// as written in the flow.
func (r *inputRule) check(in string, now time.Time) (string, bool) {
	if in == "" {
		return "", false
	}
	n := utf8.RuneCountInString(in)
	if (r.minLen > 0 && n < r.minLen) || (r.maxLen > 0 && n > r.maxLen) {
		return "", false
	}
	if r.pattern != nil && !r.pattern.MatchString(in) {
		return "", false
	}
	out := in
	switch r.kind {
	case "number":
		s := strings.Replace(in, ",", ".", 1)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !r.inRange(v) {
			return "", false
		}
		out = s
	case "integer":
		v, err := strconv.Atoi(in)
		if err != nil || !r.inRange(float64(v)) {
			return "", false
		}
	case "date":
		var t time.Time
		var err error
		for _, l := range dateLayouts {
			if t, err = time.Parse(l, in); err == nil {
				break
			}
		}
		if err != nil {
			return "", false
		}
		if r.notFuture && t.After(now) {
			return "", false
		}
		out = t.Format("2006-01-02")
	}
	if len(r.oneOf) > 0 {
		for _, o := range r.oneOf {
			if strings.EqualFold(o, in) {
				return o, true
			}
		}
		return "", false
	}
	return out, true
}

func (r *inputRule) inRange(v float64) bool {
	return (r.min == nil || v >= *r.min) && (r.max == nil || v <= *r.max)
}

var inputKinds = []string{"text", "number", "integer", "date"}

// decodeRule reads a validate: mapping.
func (d *decoder) decodeRule(f fields) *inputRule {
	r := &inputRule{kind: "text"}
	if !f.has("validate") {
		return r
	}
	v, ok := d.mapping(f.val("validate"), join(f.path, "validate"),
		[]string{"type", "pattern", "min", "max", "min_length", "max_length", "one_of", "not_future"})
	if !ok {
		return r
	}
	if k := v.str("type"); k != "" {
		if !contains(inputKinds, k) {
			d.errorf(v.val("type"), join(v.path, "type"), "bad-value", "unknown type %q (use text, number, integer or date)", k)
		} else {
			r.kind = k
		}
	}
	if p := v.str("pattern"); p != "" {
		_, err := regexp.Compile(p)
		re, _ := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			d.errorf(v.val("pattern"), join(v.path, "pattern"), "bad-value", "invalid regular expression: %v", unwrapRE(err))
		} else {
			r.pattern = re
		}
	}
	if x, ok := v.number("min"); ok {
		r.min = &x
	}
	if x, ok := v.number("max"); ok {
		r.max = &x
	}
	if (r.min != nil || r.max != nil) && r.kind == "text" {
		r.kind = "number"
	}
	if (r.min != nil || r.max != nil) && r.kind != "number" && r.kind != "integer" {
		d.errorf(v.node, v.path, "bad-value", "min and max apply to number and integer inputs, not %s", r.kind)
	}
	if r.min != nil && r.max != nil && *r.min > *r.max {
		d.errorf(v.val("min"), join(v.path, "min"), "bad-value", "min %v is greater than max %v", *r.min, *r.max)
	}
	r.minLen, _ = v.integer("min_length")
	r.maxLen, _ = v.integer("max_length")
	if r.maxLen > 0 && r.minLen > r.maxLen {
		d.errorf(v.val("min_length"), join(v.path, "min_length"), "bad-value", "min_length %d is greater than max_length %d", r.minLen, r.maxLen)
	}
	r.oneOf = v.strList("one_of")
	r.notFuture = v.boolean("not_future", false)
	if r.notFuture && r.kind != "date" {
		d.errorf(v.val("not_future"), join(v.path, "not_future"), "bad-value", "not_future applies to date inputs only")
	}
	return r
}

// unwrapRE shortens regexp errors to their reason.
func unwrapRE(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error parsing regexp: ")
	return fmt.Sprint(s)
}
