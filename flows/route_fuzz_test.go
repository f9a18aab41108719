package flows

import (
	"slices"
	"strings"
	"testing"
)

// routeSet has nested codes, so that the longest match matters.
func routeSet(t testing.TB) *Set {
	t.Helper()
	src := func(id, codes string) []byte {
		return []byte("id: " + id + "\ntitle: " + id + "\ncodes: " + codes + "\nlanguages: [en]\nnodes:\n  main:\n    type: end\n    text: Hi\n")
	}
	set, err := Compile(map[string][]byte{
		"a.yaml": src("a", `["*384#"]`),
		"b.yaml": src("b", `["*384*1#", "*500#"]`),
		"c.yaml": src("c", `["*384*1*9#"]`),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// FuzzRoute feeds dialled strings (USSD strings from the network or an
// aggregator) to Set.Route: it never panics; a match is a declared code
// of the flow that prefixes the string, no longer code matches, the
// shortcut inputs are non-empty digits-or-text without '*', and the
// string rebuilt from the code and the inputs routes the same way.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"*384#", "*384*1#", "*384*1*2#", "*384*1*9*3#", " *500# ", "*384**#", "*384*1", "*", "#", "",
		"*384#*1#", "**384#", "*384*١#", "*500*" + strings.Repeat("1*", 100) + "#", "*384*\x00#"} {
		f.Add(s)
	}
	set := routeSet(f)
	f.Fuzz(func(t *testing.T, dialled string) {
		fl, rest, ok := set.Route(dialled)
		if !ok {
			if fl != nil || rest != nil {
				t.Fatalf("%q: no route but %v %v", dialled, fl, rest)
			}
			return
		}
		d := strings.TrimSuffix(strings.TrimSpace(dialled), "#")
		var code string
		for _, c := range fl.Codes {
			p := strings.TrimSuffix(c, "#")
			if (d == p || strings.HasPrefix(d, p+"*")) && len(p) > len(code) {
				code = p
			}
		}
		if code == "" {
			t.Fatalf("%q routed to %s whose codes %v do not prefix it", dialled, fl.ID, fl.Codes)
		}
		for _, other := range set.Flows() {
			for _, c := range other.Codes {
				p := strings.TrimSuffix(c, "#")
				if len(p) > len(code) && (d == p || strings.HasPrefix(d, p+"*")) {
					t.Fatalf("%q routed to %s (%s#) but %s# of %s is longer", dialled, fl.ID, code, p, other.ID)
				}
			}
		}
		for _, r := range rest {
			if r == "" || strings.Contains(r, "*") {
				t.Fatalf("%q: shortcut inputs %q", dialled, rest)
			}
		}
		back := code
		for _, r := range rest {
			back += "*" + r
		}
		back += "#"
		fl2, rest2, ok2 := set.Route(back)
		if !ok2 || fl2 != fl || !slices.Equal(rest, rest2) {
			t.Fatalf("%q -> %s %q; rebuilt %q -> %v %q", dialled, fl.ID, rest, back, fl2, rest2)
		}
	})
}
