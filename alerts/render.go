package alerts

import (
	"strings"

	"github.com/ussdgw/ussdgw/flows"
)

// fallback texts of the messages a service may leave out of its
// messages: section (price_alert, digest).
var fallback = map[string]map[string]string{
	"price_alert": {
		"en": "Price alert: {{crop}} at {{market}} is {{currency}} {{price}} ({{change}}) on {{date}}. Send STOP to end alerts.",
		"fr": "Alerte prix : {{crop}} à {{market}} est à {{currency}} {{price}} ({{change}}) le {{date}}. ARRET pour arrêter.",
		"sw": "Taarifa ya bei: {{crop}} {{market}} ni {{currency}} {{price}} ({{change}}) tarehe {{date}}. Tuma ACHA kusitisha.",
	},
	"digest": {
		"en": "Prices on {{date}}: {{crop}} at {{market}} {{currency}} {{price}} ({{change}}).",
		"fr": "Prix du {{date}} : {{crop}} à {{market}} {{currency}} {{price}} ({{change}}).",
		"sw": "Bei za {{date}}: {{crop}} {{market}} {{currency}} {{price}} ({{change}}).",
	},
}

// render returns the service's message name in lang (its default language
// when it has no text in lang), or a built-in text. false: the service is
// not loaded.
func render(set *flows.Set, service, name, lang string, vars map[string]string) (string, bool) {
	if set == nil {
		return "", false
	}
	f, ok := set.Flow(service)
	if !ok {
		return "", false
	}
	if s, ok := f.Message(name, lang, vars); ok {
		return s, true
	}
	if !f.HasLanguage(lang) {
		lang = f.DefaultLang
	}
	texts := fallback[name]
	t, ok := texts[lang]
	if !ok {
		t = texts["en"]
	}
	return expand(t, vars), true
}

func expand(t string, vars map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(t, "{{")
		if i < 0 {
			b.WriteString(t)
			return strings.Join(strings.Fields(b.String()), " ")
		}
		j := strings.Index(t[i:], "}}")
		if j < 0 {
			b.WriteString(t)
			return b.String()
		}
		b.WriteString(t[:i])
		b.WriteString(vars[strings.TrimSpace(t[i+2:i+j])])
		t = t[i+j+2:]
	}
}
