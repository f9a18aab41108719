package dialecttest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/gateway/dialect"
)

// broken wraps a dialect with one flaw, to see the kit catch it.
type broken struct {
	dialect.Dialect
	flaw string
}

func (b broken) Parse(r *http.Request, rt dialect.Route) (dialect.Step, error) {
	st, err := b.Dialect.Parse(r, rt)
	switch b.flaw {
	case "no-seq":
		st.Seq = 0 // claims retries are safe but drops the message number
	case "no-dialled":
		st.Dialled = ""
	case "ignores-end":
		if st.Kind == dialect.Ended {
			st.Cut = false
		}
	}
	return st, err
}

func (b broken) Write(w http.ResponseWriter, st dialect.Step, a dialect.Answer) error {
	switch b.flaw {
	case "never-ends":
		a.End = false
	case "status-500":
		if st.Kind == dialect.Message && a.End {
			return b.Dialect.Refuse(w, http.StatusInternalServerError, "oops")
		}
	}
	return b.Dialect.Write(w, st, a)
}

func (b broken) Refuse(w http.ResponseWriter, status int, msg string) error {
	if b.flaw == "refuses-200" {
		status = http.StatusOK
	}
	return b.Dialect.Refuse(w, status, msg)
}

// TestKitPassesGeneric: the generic dialect, written from its docs,
// passes every check.
func TestKitPassesGeneric(t *testing.T) {
	if f := failures(GenericKit()); len(f) > 0 {
		t.Fatalf("the generic dialect fails the kit: %v", f)
	}
}

// TestKitCatchesFlaws: each flaw makes the check that is about it fail.
func TestKitCatchesFlaws(t *testing.T) {
	for _, tc := range []struct{ flaw, check string }{
		{"no-seq", "Retry"},
		{"no-dialled", "HappyPath"},
		{"ignores-end", "EndByUser"},
		{"never-ends", "HappyPath"},
		{"never-ends", "EndByService"},
		{"status-500", "HappyPath"},
		{"refuses-200", "Missing"},
		{"refuses-200", "WrongJSON"},
		{"refuses-200", "Guard"},
		{"refuses-200", "OversizedBody"},
	} {
		k := GenericKit()
		k.Dialect = broken{Dialect: k.Dialect, flaw: tc.flaw}
		f := failures(k)
		if len(f[tc.check]) == 0 {
			t.Errorf("flaw %s: check %s passed (failed: %v)", tc.flaw, tc.check, keys(f))
		}
	}
}

func keys(m map[string][]string) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}
