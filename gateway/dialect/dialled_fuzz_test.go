package dialect_test

import (
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway/dialect"
)

// FuzzDialled: the string rebuilt from Africa's Talking's serviceCode and
// text is the code, or the code with the text as a shortcut; and a code
// that opens a service still does with any text after it (a shortcut
// never loses the service).
func FuzzDialled(f *testing.F) {
	for _, s := range [][2]string{{"*384#", ""}, {"*384#", "1*2"}, {"*384#", "1#"}, {"*384", "2"}, {"*384#", "**"},
		{"*384#", "abc"}, {"", "1"}, {"*500#", "1*" + strings.Repeat("9", 200)}, {"*384*1#", "*"}, {"#", "1"}} {
		f.Add(s[0], s[1])
	}
	set, err := flows.Load("../../flows-examples", flows.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code, text string) {
		code = strings.TrimSpace(code) // as the handler reads it
		d := dialect.Dialled(code, text)
		shortcut := strings.TrimSuffix(code, "#") + "*" + text + "#"
		switch {
		case code == "":
			if d != "" {
				t.Fatalf("no code, dialled %q", d)
			}
		case d != code && d != shortcut:
			t.Fatalf("%q + %q -> %q", code, text, d)
		case d == shortcut && d != code && strings.Trim(text, "0123456789*") != "":
			t.Fatalf("%q + %q: text that is not a shortcut made %q", code, text, d)
		}
		if _, _, ok := set.Route(code); ok {
			if _, _, ok := set.Route(d); !ok {
				t.Fatalf("%q opens a service, %q (with text %q) does not", code, d, text)
			}
		}
	})
}
