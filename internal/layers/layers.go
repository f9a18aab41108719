// Package layers states the module's import rules as data, and its test
// fails when a package breaks them: a lower layer must not import a higher
// one, and the codecs import nothing of ours. It imports nothing of ours
// and nothing imports it.
//
// From the bottom up: the codecs (text coding, phone numbers, the
// key-value seam, config problems), shared test and runtime helpers, the
// adapters and the stores flows call, the flow engine, the USSD session
// layer, the transports and the services beside them (HTTP, SMPP, API,
// alerts, reminders, metrics), and at the top the commands that wire them.
package layers

import "strings"

// Layer is one floor of the house. A package may import packages of its
// own layer and of the layers below it.
type Layer struct {
	Name string
	// Leaf: the packages of this layer import no package of the module.
	Leaf bool
	// Packages are import paths relative to the module; each covers its
	// subpackages unless a longer entry places them elsewhere.
	Packages []string
}

// Module is the module path.
const Module = "github.com/ussdgw/ussdgw"

// Layers lists the layers from the bottom up. A new package needs a place
// here (the test says so); pick the lowest layer its imports allow.
var Layers = []Layer{
	{Name: "codec", Leaf: true, Packages: []string{"gsm", "msisdn", "kv", "problem"}},
	{Name: "base", Packages: []string{"internal", "lifecycle"}},
	{Name: "adapters", Packages: []string{"adapters", "consent", "limits", "outbox", "apikeys"}},
	{Name: "flows", Packages: []string{"flows"}},
	{Name: "ussd", Packages: []string{"ussd", "reload"}},
	{Name: "transports", Packages: []string{"gateway", "smpp", "api", "alerts", "reminders", "metrics", "studio", "analytics"}},
	{Name: "commands", Packages: []string{"cmd", "deploy"}},
}

// Of returns the index in Layers of the package at path (relative to the
// module) and whether it has a place at all.
func Of(path string) (int, bool) {
	best, at := -1, 0
	for i, l := range Layers {
		for _, p := range l.Packages {
			if (path == p || strings.HasPrefix(path, p+"/")) && len(p) > best {
				best, at = len(p), i
			}
		}
	}
	return at, best >= 0
}
