// Package builtin lists the adapter kinds that ship with the gateway, for
// cmd/ to build its adapters.Kinds from. It registers nothing: Kinds
// returns a fresh value each time, to use as is or to extend. It imports
// the adapter packages only; it must not import flows, ussd or a transport.
package builtin

import (
	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/health"
	"github.com/ussdgw/ussdgw/adapters/httpjson"
	"github.com/ussdgw/ussdgw/adapters/jobs"
	"github.com/ussdgw/ussdgw/adapters/prices"
	"github.com/ussdgw/ussdgw/adapters/quiz"
)

// Kinds returns the built-in kinds: prices, health, quiz, jobs and http.
func Kinds() adapters.Kinds {
	return adapters.Kinds{
		"prices": prices.Kind(),
		"health": health.Kind(),
		"quiz":   quiz.Kind(),
		"jobs":   jobs.Kind(),
		"http":   httpjson.Kind(),
	}
}
