package flows

import "testing"

// TestFallbackLabels: labels added after services were written are built
// in for the shipped languages, overridable per service, and fall back to
// older words for a language the engine does not ship, so no service
// written before needs a change: "later" (too many requests) falls back
// to "unavailable", "updated" (the session's flow version is gone after a
// reload, docs/reload.md) to "expired".
func TestFallbackLabels(t *testing.T) {
	for _, c := range []struct {
		label, override string
		want            map[string]string
	}{
		{LabelLater, "Slow down, please.", map[string]string{
			"en": "Slow down, please.",
			"fr": "Trop de demandes. Veuillez réessayer plus tard.",
			"so": "Adeegga lama heli karo.",
		}},
		{LabelUpdated, "New menu! Dial again.", map[string]string{
			"en": "New menu! Dial again.",
			"fr": "Ce service a été mis à jour pendant votre session. Veuillez recomposer le code.",
			"so": "Dhammaaday",
		}},
	} {
		src := `id: t
title: T
codes: ["*1#"]
languages: [en, fr, so]
labels:
  en: {` + c.label + `: "` + c.override + `"}
  so: {back: Dib, home: Bilow, more: Wax kale, language: Luqad, invalid_choice: Khalad, invalid_input: Khalad,
       unavailable: "Adeegga lama heli karo.", resume: "Sii wad?", resume_continue: Sii wad, resume_restart: Bilow,
       expired: Dhammaaday, late: SMS}
nodes:
  main: {type: end, text: Hi}
`
		set, err := Compile(map[string][]byte{"t.yaml": []byte(src)}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		f, _ := set.Flow("t")
		for lang, want := range c.want {
			if got := f.Label(c.label, lang); got != want {
				t.Errorf("%s in %s: %q, want %q", c.label, lang, got, want)
			}
		}
		for lang := range builtinLabels {
			if builtinLabels[lang][c.label] == "" {
				t.Errorf("no built-in %s label in %s", c.label, lang)
			}
		}
	}
}
