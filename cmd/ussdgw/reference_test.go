package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestConfigReference fails when the README's settings table is not what
// configReference prints; UPDATE_README=1 rewrites it.
func TestConfigReference(t *testing.T) {
	var b strings.Builder
	configReference(&b)
	want := b.String()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, refStart), strings.Index(readme, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q ... %q", refStart, refEnd)
	}
	got := readme[i+len(refStart)+1 : j]
	if got == want {
		return
	}
	if os.Getenv("UPDATE_README") != "" {
		readme = readme[:i+len(refStart)+1] + want + readme[j:]
		if err := os.WriteFile("../../README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's settings table is stale; run UPDATE_README=1 go test ./cmd/ussdgw -run TestConfigReference\ngot:\n%s\nwant:\n%s", got, want)
}

func TestShortDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{180 * time.Second, "3m"}, {4 * time.Second, "4s"}, {300 * time.Millisecond, "300ms"},
		{400 * 24 * time.Hour, "9600h"}, {90 * time.Minute, "1h30m"}, {0, "0s"},
	} {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
