package benchflow

import (
	"slices"
	"strings"
	"testing"
)

// TestExpect pins what the load tests check against, read from the flow:
// a change of bench.yaml shows here, and the generators follow it.
func TestExpect(t *testing.T) {
	got, err := Expect([]string{"1", "2", "3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Welcome", "Choose a crop", "Beans: choose a market", "Beans at Kisumu: KES 4,500 per 90kg bag (20 Nov). Dial *777# again for more."}
	if !slices.Equal(got, want) {
		t.Errorf("Expect = %q, want %q", got, want)
	}
	text, end := Menu(Code, []string{"1", "2", "3"})
	if !end || !strings.HasPrefix(text, "Beans at Kisumu") {
		t.Errorf("last screen %q end=%v, want the END screen", text, end)
	}
	if text, end := Menu(Code, nil); end || !strings.Contains(text, "1. Check prices") {
		t.Errorf("first screen %q end=%v", text, end)
	}
}
