package flows

import (
	"time"

	"github.com/ussdgw/ussdgw/gsm"
)

// Flow is one compiled service: its identity and routing (codes,
// keywords), its languages and its node graph. A Flow is immutable once
// loaded and safe for concurrent use; per-user progress lives in State.
type Flow struct {
	ID          string
	File        string
	Version     string   // short hash of the file's bytes
	Codes       []string // USSD codes that open it, e.g. *384# and *384*1#
	Keywords    []string // SMS keywords, upper case
	Languages   []string // the first is not special; DefaultLang is
	DefaultLang string
	// SMSDialogue is set when the service runs over SMS too: its keyword
	// starts a reply-driven session of the same menus.
	SMSDialogue bool
	smsHelp     text
	// StopWords and StartWords are the service's own words for SMS STOP
	// and START (sms.stop_words, sms.start_words), upper case, on top of
	// the gateway's.
	StopWords, StartWords []string

	push push // timezone:, alerts:, messages:

	title     text
	nodes     []*node
	byName    map[string]int
	start     int
	labels    []labels // per language, index as Languages
	nav       navigation
	limit     gsm.Limit
	smart     bool // replace characters outside GSM by look-alikes when that avoids UCS-2
	sensitive map[string]bool
	machine   *machine
	langIndex map[string]int
	// homeScreen marks the screens the start leads to through actions and
	// routers only: the main menu, where 00 and a bare 0 have no place.
	homeScreen []bool
	// keep lists, per result name, the flattened fields the flow reads;
	// the others are not stored.
	keep map[string]func([]byte) bool

	// Positions kept for the checks across files.
	idAt   pos
	codeAt []pos
	kwAt   []pos
	wordAt map[string]pos // stop and start words
}

type pos struct{ line, col int }

type navigation struct {
	back, home             bool
	backKey, homeKey, more string
}

type nodeKind uint8

const (
	kindMenu nodeKind = iota + 1
	kindInput
	kindAction
	kindRouter
	kindEnd
	kindSMS
	kindSubscribe
	kindUnsubscribe
	kindSubscriptions
)

var kindNames = map[string]nodeKind{"menu": kindMenu, "input": kindInput, "action": kindAction, "router": kindRouter, "end": kindEnd, "sms": kindSMS,
	"subscribe": kindSubscribe, "unsubscribe": kindUnsubscribe, "subscriptions": kindSubscriptions}

func (k nodeKind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

// target is where a transition goes: a node index, or a built-in place.
type target int

const (
	toBack        target = -1 // @back: the previous screen
	toHome        target = -2 // @home: the start node, history cleared
	toLanguage    target = -3 // @language: the language chooser
	toUnavailable target = -4 // the built-in "service unavailable" end screen
	toLate        target = -5 // the built-in "we will send the answer by SMS" end screen
)

var builtinTargets = map[string]target{"@back": toBack, "@home": toHome, "@language": toLanguage}

type node struct {
	name string
	kind nodeKind
	text text
	// nav shows the back and main-menu lines; navKeys makes 0 and 00 work
	// (nav: keys keeps the keys and hides the lines).
	nav, navKeys bool

	// menu
	options []option
	items   *items

	// input
	save string
	rule *inputRule
	// takesBack and takesHome are set when the input accepts the back or
	// main-menu key as an answer (0 days, 00 as a number): then the key is
	// the answer, and its line is not shown.
	takesBack, takesHome bool
	errText              text
	sensitive            bool

	// input, action: where to go on success
	next target

	// action
	call, op  string
	params    []param
	secret    bool // a param uses a sensitive input: the adapter's error text is not logged
	saveAs    string
	timeout   time.Duration
	onEmpty   target
	onError   target
	onTimeout target
	onInvalid target
	lateSMS   text // action: sent with the result when it comes after a timeout

	// router
	routes []route
	def    target

	// subscribe, unsubscribe (topic "" with all: every topic of the service)
	topic *template
	label text
	all   bool
}

// transient nodes run without showing a screen.
func (n *node) transient() bool {
	switch n.kind {
	case kindAction, kindRouter, kindSMS, kindSubscribe, kindUnsubscribe, kindSubscriptions:
		return true
	}
	return false
}

type option struct {
	label text
	next  target
	set   []assign
	when  *cond
}

type items struct {
	from  string // the list variable saved by an action (jobs → jobs.1.*, jobs.count)
	label text
	next  target
	set   []assign
	max   int
	// scoped is set when the list is read by this menu only: the session
	// drops it when the user moves on, and going back re-runs the action
	// that made it, so a session carries at most the list on screen.
	scoped bool
}

type assign struct {
	name  string
	value *template
}

type param struct {
	name  string
	value *template
}

type route struct {
	when *cond
	next target
}

// Title returns the service's title in lang (or its default language).
func (f *Flow) Title(lang string) string {
	return f.title.get(f.lang(lang)).String(nil)
}

// SMSHelp returns what the service answers to HELP or to its keyword
// over SMS when it has no SMS dialogue: its sms.help text, or its title
// and USSD code.
func (f *Flow) SMSHelp(lang string) string {
	if f.smsHelp != nil {
		return f.out(f.smsHelp.get(f.lang(lang)).String(nil))
	}
	h := f.Title(lang)
	if len(f.Codes) > 0 {
		h += ": " + f.Codes[0]
	}
	return f.out(h)
}

// HasLanguage reports whether the flow declares lang.
func (f *Flow) HasLanguage(lang string) bool { _, ok := f.langIndex[lang]; return ok }

// lang returns the index of lang, or of the default language.
func (f *Flow) lang(lang string) int {
	if i, ok := f.langIndex[lang]; ok {
		return i
	}
	return f.langIndex[f.DefaultLang]
}

// Label returns one of the engine's words (back, expired, unavailable...)
// in lang, for transports that answer outside a flow.
func (f *Flow) Label(key, lang string) string {
	return f.labels[f.lang(lang)][key]
}

// NodeNames returns the names of the flow's nodes in file order (the
// language chooser, "@language", is not one).
func (f *Flow) NodeNames() []string {
	out := make([]string, len(f.nodes))
	for i, n := range f.nodes {
		out[i] = n.name
	}
	return out
}

// HasNode reports whether the flow has a node called name.
func (f *Flow) HasNode(name string) bool {
	_, ok := f.byName[name]
	return ok || name == langNode
}
