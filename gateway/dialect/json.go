package dialect

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

var (
	intType  = reflect.TypeOf(0)
	boolType = reflect.TypeOf(false)
)

// flexInt reads a JSON number or a string holding one: aggregators are
// not consistent about quoting numbers.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number " + s, Type: intType}
	}
	*n = flexInt(v)
	return nil
}

// flexBool reads a JSON boolean or a string "true"/"false" (any case).
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(string(bytes.Trim(b, `"`)))
	switch s {
	case "true", "1":
		*f = true
	case "false", "0", "", "null":
		*f = false
	default:
		return &json.UnmarshalTypeError{Value: s, Type: boolType}
	}
	return nil
}

// firstLine is the first line of a screen, bounded: a title for the
// channels that show one (Hubtel's Label).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60])
	}
	return s
}
