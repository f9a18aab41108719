package flows

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Label keys: the built-in words the engine itself puts on screens. A
// service may override any of them per language under `labels:`.
const (
	lBack           = "back"
	lHome           = "home"
	lMore           = "more"
	lLanguage       = "language"
	lInvalidChoice  = "invalid_choice"
	lInvalidInput   = "invalid_input"
	lUnavailable    = "unavailable"
	lResume         = "resume"
	lResumeContinue = "resume_continue"
	lResumeRestart  = "resume_restart"
	lExpired        = "expired"
	lLate           = "late"
	lName           = "name"
	lLater          = "later"
	lUpdated        = "updated"
)

var labelKeys = []string{lBack, lHome, lMore, lLanguage, lInvalidChoice, lInvalidInput, lUnavailable,
	lResume, lResumeContinue, lResumeRestart, lExpired, lLate, lName, lLater, lUpdated}

// builtinLabels are the engine's words in the languages it ships with. For
// another language a service gives them all under `labels:`.
var builtinLabels = map[string]map[string]string{
	"en": {
		lBack: "Back", lHome: "Main menu", lMore: "More", lLanguage: "Choose your language",
		lInvalidChoice: "Invalid choice. Try again.", lInvalidInput: "Invalid entry. Try again.",
		lUnavailable: "Sorry, the service is not available right now. Please try again later.",
		lResume:      "You have an unfinished session.", lResumeContinue: "Continue where you left off",
		lResumeRestart: "Start again", lExpired: "Your session has expired. Please dial again.",
		lLate:    "This is taking longer than usual. We will send you the answer by SMS.",
		lLater:   "Too many requests. Please try again later.",
		lUpdated: "This service was updated while you were using it. Please dial again.",
	},
	"fr": {
		lBack: "Retour", lHome: "Menu principal", lMore: "Suite", lLanguage: "Choisissez votre langue",
		lInvalidChoice: "Choix invalide. Réessayez.", lInvalidInput: "Saisie invalide. Réessayez.",
		lUnavailable: "Désolé, le service n'est pas disponible pour le moment. Réessayez plus tard.",
		lResume:      "Vous avez une session inachevée.", lResumeContinue: "Reprendre où vous en étiez",
		lResumeRestart: "Recommencer", lExpired: "Votre session a expiré. Veuillez recomposer le code.",
		lLate:    "Cela prend plus de temps que prévu. Nous vous enverrons la réponse par SMS.",
		lLater:   "Trop de demandes. Veuillez réessayer plus tard.",
		lUpdated: "Ce service a été mis à jour pendant votre session. Veuillez recomposer le code.",
	},
	"sw": {
		lBack: "Rudi", lHome: "Menyu kuu", lMore: "Zaidi", lLanguage: "Chagua lugha",
		lInvalidChoice: "Chaguo si sahihi. Jaribu tena.", lInvalidInput: "Ingizo si sahihi. Jaribu tena.",
		lUnavailable: "Samahani, huduma haipatikani kwa sasa. Tafadhali jaribu tena baadaye.",
		lResume:      "Una kikao ambacho hakijakamilika.", lResumeContinue: "Endelea ulipoishia",
		lResumeRestart: "Anza upya", lExpired: "Muda wa kikao umeisha. Tafadhali piga tena.",
		lLate:    "Inachukua muda zaidi ya kawaida. Tutakutumia jibu kwa SMS.",
		lLater:   "Maombi mengi mno. Tafadhali jaribu tena baadaye.",
		lUpdated: "Huduma hii imesasishwa ulipokuwa ukiitumia. Tafadhali piga tena.",
	},
	"am": {
		lBack: "ተመለስ", lHome: "ዋና ምናሌ", lMore: "ተጨማሪ", lLanguage: "ቋንቋ ይምረጡ",
		lInvalidChoice: "የተሳሳተ ምርጫ። እንደገና ይሞክሩ።", lInvalidInput: "የተሳሳተ ግቤት። እንደገና ይሞክሩ።",
		lUnavailable: "ይቅርታ፣ አገልግሎቱ አሁን አይገኝም። እባክዎ ቆይተው ይሞክሩ።",
		lResume:      "ያልተጠናቀቀ ክፍለ ጊዜ አለዎት።", lResumeContinue: "ካቆሙበት ይቀጥሉ",
		lResumeRestart: "እንደገና ይጀምሩ", lExpired: "ክፍለ ጊዜዎ አብቅቷል። እባክዎ እንደገና ይደውሉ።",
		lLate:    "ከወትሮው በላይ እየዘገየ ነው። መልሱን በኤስኤምኤስ እንልክልዎታለን።",
		lLater:   "በጣም ብዙ ጥያቄዎች። እባክዎ ቆይተው እንደገና ይሞክሩ።",
		lUpdated: "አገልግሎቱ እየተጠቀሙበት እያለ ተዘምኗል። እባክዎ እንደገና ይደውሉ።",
	},
	"ar": {
		lBack: "رجوع", lHome: "القائمة الرئيسية", lMore: "المزيد", lLanguage: "اختر لغتك",
		lInvalidChoice: "اختيار غير صحيح. حاول مرة أخرى.", lInvalidInput: "إدخال غير صحيح. حاول مرة أخرى.",
		lUnavailable: "عذراً، الخدمة غير متاحة حالياً. يرجى المحاولة لاحقاً.",
		lResume:      "لديك جلسة غير مكتملة.", lResumeContinue: "المتابعة من حيث توقفت",
		lResumeRestart: "البدء من جديد", lExpired: "انتهت صلاحية الجلسة. يرجى الاتصال مرة أخرى.",
		lLate:    "يستغرق الأمر وقتاً أطول من المعتاد. سنرسل لك الإجابة برسالة قصيرة.",
		lLater:   "طلبات كثيرة جداً. يرجى المحاولة مرة أخرى لاحقاً.",
		lUpdated: "تم تحديث هذه الخدمة أثناء استخدامك لها. يرجى الاتصال مرة أخرى.",
	},
	"pt": {
		lBack: "Voltar", lHome: "Menu principal", lMore: "Mais", lLanguage: "Escolha o idioma",
		lInvalidChoice: "Opção inválida. Tente novamente.", lInvalidInput: "Entrada inválida. Tente novamente.",
		lUnavailable: "Desculpe, o serviço não está disponível agora. Tente mais tarde.",
		lResume:      "Tem uma sessão por terminar.", lResumeContinue: "Continuar onde parou",
		lResumeRestart: "Recomeçar", lExpired: "A sua sessão expirou. Marque o código novamente.",
		lLate:    "Está a demorar mais do que o normal. Enviaremos a resposta por SMS.",
		lLater:   "Demasiados pedidos. Tente novamente mais tarde.",
		lUpdated: "Este serviço foi atualizado enquanto o usava. Marque o código novamente.",
	},
}

// autonym returns a language's name in its own words ("Kiswahili",
// "Français", "አማርኛ"), or "" when x/text does not know it.
func autonym(code string) string {
	tag, err := language.Parse(code)
	if err != nil {
		return ""
	}
	name := display.Self.Name(tag)
	if name == "" {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}

// labels holds the engine's words for one language.
type labels map[string]string
