package flows

import "testing"

// TestLaterLabel: the "too many requests" words are built in for the
// shipped languages, overridable per service, and fall back to the
// "unavailable" words for a language the engine does not ship.
func TestLaterLabel(t *testing.T) {
	const src = `id: t
title: T
codes: ["*1#"]
languages: [en, fr, so]
labels:
  en: {later: "Slow down, please."}
  so: {back: Dib, home: Bilow, more: Wax kale, language: Luqad, invalid_choice: Khalad, invalid_input: Khalad,
       unavailable: "Adeegga lama heli karo.", resume: "Sii wad?", resume_continue: Sii wad, resume_restart: Bilow,
       expired: Dhammaaday, late: SMS}
nodes:
  main: {type: end, text: Hi}
`
	set, err := Compile(map[string][]byte{"t.yaml": []byte(src)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := set.Flow("t")
	for lang, want := range map[string]string{
		"en": "Slow down, please.",
		"fr": "Trop de demandes. Veuillez réessayer plus tard.",
		"so": "Adeegga lama heli karo.",
	} {
		if got := f.Label(LabelLater, lang); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	for lang := range builtinLabels {
		if builtinLabels[lang][lLater] == "" {
			t.Errorf("no built-in later label in %s", lang)
		}
	}
}
