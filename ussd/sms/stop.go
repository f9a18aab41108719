package sms

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/msisdn"
)

// Consent is the part of the consent registry that STOP and START change.
type Consent interface {
	// OptOut stops bulk messages of service ("" = of every service).
	OptOut(ctx context.Context, msisdn, service, channel string) error
	// OptIn lets them flow again ("" = every STOP of the number).
	OptIn(ctx context.Context, msisdn, service, channel string) error
}

// stopWords and startWords are the gateway-wide words, each with the
// language it most likely comes in (the answer's language when the user
// has none on record). Services add their own (sms.stop_words,
// sms.start_words).
var (
	stopWords = map[string]string{
		"STOP": "en", "STOPALL": "en", "UNSUBSCRIBE": "en", "CANCEL": "en",
		"ARRET": "fr", "ARRÊT": "fr",
		"ACHA": "sw", "SITISHA": "sw",
		"PARE": "pt",
	}
	startWords = map[string]string{
		"START":    "en",
		"ANZA":     "sw",
		"DEMARRER": "fr", "DÉMARRER": "fr", "COMMENCER": "fr",
	}
)

// stopAllWords stop everything even when a keyword follows.
var stopAllWords = map[string]bool{"STOPALL": true}

// StopWords lists the gateway-wide STOP words, sorted.
func StopWords() []string { return keys(stopWords) }

// StartWords lists the gateway-wide START words, sorted.
func StartWords() []string { return keys(startWords) }

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stopTexts are the answers to STOP and START, per language: %[1]s is the
// service's title, %[2]s its keyword.
var stopTexts = map[string]struct{ stopAll, stopOne, startAll, startOne string }{
	"en": {
		"You will receive no more alerts or reminders. Send START to receive them again.",
		"You will receive no more messages from %[1]s. Send START %[2]s to receive them again.",
		"Your alerts and reminders will come again. Send STOP to end them.",
		"Messages from %[1]s will come again. Send STOP %[2]s to end them.",
	},
	"fr": {
		"Vous ne recevrez plus d'alertes ni de rappels. Envoyez DEMARRER pour les recevoir à nouveau.",
		"Vous ne recevrez plus de messages de %[1]s. Envoyez DEMARRER %[2]s pour les recevoir à nouveau.",
		"Vos alertes et rappels reprennent. Envoyez ARRET pour les arrêter.",
		"Les messages de %[1]s reprennent. Envoyez ARRET %[2]s pour les arrêter.",
	},
	"sw": {
		"Hutapokea tena taarifa wala vikumbusho. Tuma ANZA kuvipokea tena.",
		"Hutapokea tena ujumbe wa %[1]s. Tuma ANZA %[2]s kuupokea tena.",
		"Taarifa na vikumbusho vyako vitakuja tena. Tuma ACHA kuvisimamisha.",
		"Ujumbe wa %[1]s utakuja tena. Tuma ACHA %[2]s kuusimamisha.",
	},
	"am": {
		"ከእንግዲህ ማሳወቂያዎችና ማስታወሻዎች አይደርስዎትም። እንደገና ለመቀበል START ይላኩ።",
		"ከ%[1]s ከእንግዲህ መልእክት አይደርስዎትም። እንደገና ለመቀበል START %[2]s ይላኩ።",
		"ማሳወቂያዎችና ማስታወሻዎች እንደገና ይደርስዎታል። ለማቆም STOP ይላኩ።",
		"ከ%[1]s መልእክቶች እንደገና ይደርስዎታል። ለማቆም STOP %[2]s ይላኩ።",
	},
	"ar": {
		"لن تصلك التنبيهات أو التذكيرات بعد الآن. أرسل START لاستلامها من جديد.",
		"لن تصلك رسائل %[1]s بعد الآن. أرسل START %[2]s لاستلامها من جديد.",
		"ستصلك التنبيهات والتذكيرات من جديد. أرسل STOP لإيقافها.",
		"ستصلك رسائل %[1]s من جديد. أرسل STOP %[2]s لإيقافها.",
	},
	"pt": {
		"Não receberá mais alertas nem lembretes. Envie START para voltar a recebê-los.",
		"Não receberá mais mensagens de %[1]s. Envie START %[2]s para voltar a recebê-las.",
		"Os seus alertas e lembretes voltam a chegar. Envie PARE para os parar.",
		"As mensagens de %[1]s voltam a chegar. Envie PARE %[2]s para as parar.",
	},
}

// stopStart handles a STOP or START message: the first word is a stop or
// start word (the gateway's or a service's); a service keyword after it
// narrows it to that service. Anything after that is ignored: "STOP
// please" stops everything, since when in doubt a STOP must stop more, not
// less. handled is false for any other message.
func (r *Router) stopStart(ctx context.Context, msisdn msisdn.MSISDN, set *flows.Set, words []string) (handled bool, err error) {
	if len(words) == 0 {
		return false, nil
	}
	first := strings.ToUpper(words[0])
	stop, wordLang, ok := classify(set, first)
	if !ok {
		return false, nil
	}
	var f *flows.Flow
	var kw string // the keyword as the user wrote it, repeated in the answer
	if len(words) > 1 && !stopAllWords[first] {
		f, _ = set.Keyword(words[1])
		kw = strings.ToUpper(words[1])
	}
	service := ""
	if f != nil {
		service = f.ID
	}
	if stop {
		err = r.Consent.OptOut(ctx, string(msisdn), service, "sms")
	} else {
		err = r.Consent.OptIn(ctx, string(msisdn), service, "sms")
	}
	if err != nil {
		return true, fmt.Errorf("recording SMS %s: %w", first, err)
	}
	lang, err := r.Manager.Language(ctx, msisdn)
	if err != nil {
		return true, err
	}
	if _, ok := stopTexts[lang]; !ok {
		lang = wordLang
	}
	t, ok := stopTexts[lang]
	if !ok {
		t = stopTexts["en"]
	}
	var answer string
	switch {
	case stop && f == nil:
		answer = t.stopAll
	case stop:
		answer = fmt.Sprintf(t.stopOne, f.Title(lang), kw)
	case f == nil:
		answer = t.startAll
	default:
		answer = fmt.Sprintf(t.startOne, f.Title(lang), kw)
	}
	return true, r.send(ctx, msisdn, answer)
}

// classify tells a stop word from a start word, and the language it
// suggests; a service's own word suggests the service's default language.
func classify(set *flows.Set, word string) (stop bool, lang string, ok bool) {
	if l, ok := stopWords[word]; ok {
		return true, l, true
	}
	if l, ok := startWords[word]; ok {
		return false, l, true
	}
	for _, f := range set.Flows() {
		for _, w := range f.StopWords {
			if w == word {
				return true, f.DefaultLang, true
			}
		}
		for _, w := range f.StartWords {
			if w == word {
				return false, f.DefaultLang, true
			}
		}
	}
	return false, "", false
}
