package flows

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one problem in a flow file, positioned at the YAML node it is
// about: file:line:col: path: message.
type Error struct {
	File string
	Line int
	Col  int
	Path string // where in the document, e.g. nodes.main.options[2].next
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Path, e.Msg)
}

// Errors returns every *Error inside err (as joined by Load), in file,
// line and column order.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		var e *Error
		switch x := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		default:
			if errors.As(err, &e) {
				out = append(out, e)
			}
		}
	}
	walk(err)
	sortErrors(out)
	return out
}

func sortErrors(errs []*Error) {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// joinErrors sorts errs by position and joins them, or returns nil.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	sortErrors(errs)
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
