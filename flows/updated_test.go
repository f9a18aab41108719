package flows

import "testing"

// TestUpdatedLabel: the words for a session whose flow version is gone
// after a reload (docs/reload.md) are built in for the shipped languages,
// overridable per service, and fall back to the "expired" words for a
// language the engine does not ship, so no service written before needs
// a change.
func TestUpdatedLabel(t *testing.T) {
	const src = `id: t
title: T
codes: ["*1#"]
languages: [en, fr, so]
labels:
  en: {updated: "New menu! Dial again."}
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
		"en": "New menu! Dial again.",
		"fr": "Ce service a été mis à jour pendant votre session. Veuillez recomposer le code.",
		"so": "Dhammaaday",
	} {
		if got := f.Label(LabelUpdated, lang); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	for lang := range builtinLabels {
		if builtinLabels[lang][lUpdated] == "" {
			t.Errorf("no built-in updated label in %s", lang)
		}
	}
}
