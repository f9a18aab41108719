package reminders

import (
	"strconv"
	"strings"
)

// fallback is the reminder text when the service declares no "reminder"
// message (or none in the user's language). STOP <keyword> is the
// service's way out (the consent package's SMS keywords).
var fallback = map[string]string{
	"en": "Reminder: {{item}} {{when}} ({{date}}). Take your clinic card with you. To stop these SMS, send STOP HEALTH.",
	"fr": "Rappel : {{item}} {{when}} ({{date}}). Apportez votre carnet de santé. Pour ne plus recevoir ces SMS, envoyez STOP SANTE.",
	"sw": "Kumbusho: {{item}} {{when}} ({{date}}). Beba kadi yako ya kliniki. Kusitisha SMS hizi, tuma STOP AFYA.",
}

// when says how far the date is, as a phrase: "today", "tomorrow", "in 3
// days".
func when(lang string, days int) string {
	n := strconv.Itoa(days)
	switch lang {
	case "fr":
		switch days {
		case 0:
			return "aujourd'hui"
		case 1:
			return "demain"
		}
		return "dans " + n + " jours"
	case "sw":
		switch days {
		case 0:
			return "leo"
		case 1:
			return "kesho"
		}
		return "baada ya siku " + n
	}
	switch days {
	case 0:
		return "today"
	case 1:
		return "tomorrow"
	}
	return "in " + n + " days"
}

// text renders a reminder with the service's message if it has one, else
// the built-in text in lang (English when lang has none).
func (s *Scheduler) text(lang string, it item, schedule string, days int) string {
	vars := map[string]string{
		"item":     it.name,
		"date":     it.date,
		"days":     strconv.Itoa(days),
		"when":     when(lang, days),
		"schedule": schedule,
	}
	if s.c.Text != nil {
		if t, ok := s.c.Text(lang, vars); ok && t != "" {
			return t
		}
	}
	tpl, ok := fallback[lang]
	if !ok {
		tpl = fallback["en"]
		vars["when"] = when("en", days)
	}
	return render(tpl, vars)
}

// render replaces {{name}} with vars[name].
func render(tpl string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(tpl)
}
