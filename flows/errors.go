package flows

import (
	"github.com/ussdgw/ussdgw/problem"
)

// Error is one problem in a flow file, positioned at the YAML node it is
// about, with the rule it breaks: file:line:col: path: message (rule).
// It is the gateway's one problem type (package problem); docs/lint.md
// lists the rules.
type Error = problem.Problem

// Errors returns every *Error inside err (as joined by Load), in file,
// line and column order.
func Errors(err error) []*Error { return problem.All(err) }

// joinErrors sorts errs by position and joins them, or returns nil.
func joinErrors(errs []*Error) error { return problem.Join(errs) }
