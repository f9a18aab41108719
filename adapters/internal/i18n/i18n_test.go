package i18n

import (
	"encoding/json"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		v    float64
		lang string
		want string
	}{
		{0, "en", "0"},
		{3200, "en", "3,200"},
		{3200, "fr", "3 200"},
		{1234567, "sw", "1,234,567"},
		{999.5, "en", "999.5"},
		{12.345, "en", "12.35"},
		{12.05, "fr", "12,05"},
		{-4500, "en", "-4,500"},
		{99.999, "en", "100"},
	}
	for _, tt := range tests {
		if got := Number(tt.v, tt.lang); got != tt.want {
			t.Errorf("Number(%v, %s) = %q, want %q", tt.v, tt.lang, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for v, want := range map[float64]string{0.04: "+4%", -0.123: "-12%", 0.001: "0%", -0.004: "0%"} {
		if got := Percent(v); got != want {
			t.Errorf("Percent(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPick(t *testing.T) {
	langs := []string{"en", "fr", "sw"}
	for in, want := range map[string]string{"": "en", "fr": "fr", "SW": "sw", "sw-KE": "sw", "am": "en", "fr_CA": "fr"} {
		if got := Pick(in, langs); got != want {
			t.Errorf("Pick(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	var doc struct {
		A Text `yaml:"a" json:"a"`
		B Text `yaml:"b" json:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: Maize\nb: {en: Beans, fr: Haricots}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.A.In("fr", "en") != "Maize" || doc.B.In("fr", "en") != "Haricots" || doc.B.In("sw", "en") != "Beans" {
		t.Errorf("decoded %v", doc)
	}
	if err := json.Unmarshal([]byte(`{"a":"Rice","b":{"en":"Beans","sw":"Maharagwe"}}`), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.A.In("sw", "en") != "Rice" || doc.B.In("sw", "en") != "Maharagwe" {
		t.Errorf("decoded %v", doc)
	}
	langs := []string{"en", "fr"}
	checks := map[string]struct {
		t    Text
		want string
	}{
		"plain":      {Text{"": "x"}, ""},
		"complete":   {Text{"en": "x", "fr": "y"}, ""},
		"missing":    {Text{"en": "x"}, "missing text in fr"},
		"undeclared": {Text{"en": "x", "fr": "y", "de": "z"}, `language "de" is not declared in langs`},
		"empty":      {Text{}, "required"},
		"blank":      {Text{"": " "}, "required"},
	}
	for name, c := range checks {
		got := ""
		if err := c.t.Check(langs); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: Check = %q, want %q", name, got, c.want)
		}
	}
	if CheckLangs([]string{"en", "EN"}) == nil || CheckLangs([]string{"en", "en"}) == nil || CheckLangs(nil) == nil {
		t.Error("CheckLangs accepted a bad list")
	}
}
