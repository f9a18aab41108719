package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/gsm"
	"github.com/ussdgw/ussdgw/problem"
)

// Options tune loading.
type Options struct {
	// Adapters are the names of the adapters the gateway has; an action
	// that calls another name is an error. Nil skips the check.
	Adapters []string
	// Ops are the operations each adapter declares it offers (see
	// adapters.Describer), by adapter name: an action's op: and params:
	// are checked against them. An adapter without an entry is not
	// checked.
	Ops map[string][]adapters.OpSpec
	// Limit is the screen size a flow is checked and paginated against,
	// unless the flow sets its own. Zero means 160 octets: 182 GSM 7-bit
	// characters or 80 UCS-2.
	Limit gsm.Limit
}

// DefaultLimit is a USSD screen: 160 octets (3GPP TS 29.002).
var DefaultLimit = gsm.Limit{Octets: 160}

var (
	serviceKeys = []string{"id", "title", "description", "codes", "keywords", "languages", "default_language",
		"start", "labels", "navigation", "screen", "sms", "nodes", "timezone", "alerts", "messages"}
	nodeKeys = map[nodeKind][]string{
		kindMenu:          {"type", "text", "options", "items", "nav"},
		kindInput:         {"type", "text", "save", "validate", "error", "sensitive", "next", "nav"},
		kindAction:        {"type", "call", "op", "params", "save", "timeout", "next", "on_empty", "on_invalid", "on_error", "on_timeout", "late_sms"},
		kindSMS:           {"type", "text", "next", "on_error"},
		kindRouter:        {"type", "routes", "default"},
		kindEnd:           {"type", "text"},
		kindSubscribe:     {"type", "topic", "label", "params", "next", "on_error"},
		kindUnsubscribe:   {"type", "topic", "all", "next", "on_empty", "on_error"},
		kindSubscriptions: {"type", "save", "next", "on_empty", "on_error"},
	}
	idRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	nodeRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	codeRE    = regexp.MustCompile(`^\*[0-9]+(\*[0-9]+)*#$`)
	keywordRE = regexp.MustCompile(`^[A-Z0-9]{1,20}$`)
	builtins  = []string{"msisdn", "lang", "service", "today"}
)

// compiler holds what decoding one file needs across nodes.
type compiler struct {
	d        *decoder
	f        *Flow
	opts     Options
	pending  []pendingTarget
	uses     []varUse
	defs     map[string]bool // variables set by set:, input save: or built in
	results  map[string]bool // names actions save results under (price → price.*)
	nodeKeys []*yaml.Node    // position of each node's key, by index
	itemFrom string          // while decoding items: the list they read
	freeVars bool            // while decoding messages: variables are not the flow's
}

type pendingTarget struct {
	dst  *target
	name string
	at   *yaml.Node
	path string
}

type varUse struct {
	name     string
	at       *yaml.Node
	path     string
	inItem   bool
	itemFrom string // the list an item.* use reads from
	listOf   bool   // the from: of items itself
}

// Parse compiles one flow file. The error lists every problem found, each
// as file:line:col: path: message.
func Parse(file string, data []byte, opts Options) (*Flow, error) {
	d := &decoder{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.errs = append(d.errs, problem.FromYAML(file, data, err))
		return nil, joinErrors(d.errs)
	}
	if len(doc.Content) == 0 {
		d.errs = append(d.errs, &Error{File: file, Line: 1, Col: 1, Rule: "empty-file", Msg: "the file is empty"})
		return nil, joinErrors(d.errs)
	}
	sum := sha256.Sum256(data)
	f := &Flow{File: file, Version: hex.EncodeToString(sum[:4]), byName: map[string]int{},
		langIndex: map[string]int{}, sensitive: map[string]bool{}}
	c := &compiler{d: d, f: f, opts: opts, defs: map[string]bool{}, results: map[string]bool{}}
	for _, b := range builtins {
		c.defs[b] = true
	}
	c.service(doc.Content[0])
	c.checkVars()
	if len(d.errs) == 0 {
		c.check()
		c.resultFields()
	}
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}
	m, err := newMachine(f)
	if err != nil {
		return nil, fmt.Errorf("%s: building the state machine: %w", file, err)
	}
	f.machine = m
	return f, nil
}

func (c *compiler) service(root *yaml.Node) {
	d, f := c.d, c.f
	s, ok := d.mapping(root, "", serviceKeys)
	if !ok {
		return
	}
	s.require("id", "languages", "nodes")
	if f.ID = s.str("id"); f.ID != "" && !idRE.MatchString(f.ID) {
		d.errorf(s.val("id"), "id", "bad-value", "%q is not a valid id (lower-case letters, digits, - and _, starting with a letter)", f.ID)
	}
	c.languages(s)
	if len(f.Languages) == 0 {
		return // texts cannot be checked without languages
	}
	if s.has("title") {
		f.title = c.text(s.val("title"), "title", false)
	} else {
		f.title = c.plain(f.ID)
	}
	if s.has("id") {
		f.idAt = posOf(s.val("id"))
	}
	for i, code := range s.strList("codes") {
		if !codeRE.MatchString(code) {
			d.errorf(item(s.val("codes"), i), index("codes", i), "bad-value", "%q is not a USSD code like *384# or *384*1#", code)
			continue
		}
		if contains(f.Codes, code) {
			d.errorf(item(s.val("codes"), i), index("codes", i), "duplicate", "code %s is listed twice", code)
			continue
		}
		f.Codes = append(f.Codes, code)
		f.codeAt = append(f.codeAt, posOf(item(s.val("codes"), i)))
	}
	for i, kw := range s.strList("keywords") {
		up := strings.ToUpper(kw)
		if !keywordRE.MatchString(up) {
			d.errorf(item(s.val("keywords"), i), index("keywords", i), "bad-value", "%q is not a keyword (1 to 20 letters or digits)", kw)
			continue
		}
		if contains(f.Keywords, up) {
			d.errorf(item(s.val("keywords"), i), index("keywords", i), "duplicate", "keyword %s is listed twice", up)
			continue
		}
		f.Keywords = append(f.Keywords, up)
		f.kwAt = append(f.kwAt, posOf(item(s.val("keywords"), i)))
	}
	c.labels(s)
	c.navigation(s)
	f.limit = c.opts.Limit
	if f.limit.Octets == 0 {
		f.limit = DefaultLimit
	}
	f.smart = true
	if s.has("screen") {
		sc, ok := d.mapping(s.val("screen"), "screen", []string{"max_octets", "smart_encoding"})
		if ok {
			f.smart = sc.boolean("smart_encoding", true)
			if n, ok := sc.integer("max_octets"); ok {
				if n < 40 || n > 1000 {
					d.errorf(sc.val("max_octets"), "screen.max_octets", "bad-value", "%d is out of range (40 to 1000)", n)
				} else {
					f.limit = gsm.Limit{Octets: n}
				}
			}
		}
	}
	if s.has("sms") {
		sm, ok := d.mapping(s.val("sms"), "sms", []string{"dialogue", "help", "stop_words", "start_words"})
		if ok {
			f.SMSDialogue = sm.boolean("dialogue", false)
			if sm.has("help") {
				f.smsHelp = c.text(sm.val("help"), "sms.help", false)
			}
			c.smsWords(sm)
		}
		if f.SMSDialogue && len(f.Keywords) == 0 {
			d.errorf(s.val("sms"), "sms.dialogue", "missing-field", "an SMS dialogue needs keywords to start it")
		}
	}
	if s.has("description") {
		c.text(s.val("description"), "description", false)
	}
	c.pushSettings(s)
	c.nodes(s)
	if len(f.nodes) == 0 {
		return
	}
	if s.has("start") {
		name := s.str("start")
		if i, ok := f.byName[name]; ok {
			f.start = i
		} else {
			d.errorf(s.val("start"), "start", "unknown-node", "unknown node %q", name)
		}
	}
}

func (c *compiler) languages(s fields) {
	d, f := c.d, c.f
	for i, l := range s.strList("languages") {
		tag, err := language.Parse(l)
		if err != nil || tag.String() != l {
			d.errorf(item(s.val("languages"), i), index("languages", i), "bad-value", "%q is not a language code like en, fr or sw", l)
			continue
		}
		if _, dup := f.langIndex[l]; dup {
			d.errorf(item(s.val("languages"), i), index("languages", i), "duplicate", "language %s is listed twice", l)
			continue
		}
		f.langIndex[l] = len(f.Languages)
		f.Languages = append(f.Languages, l)
	}
	if s.has("languages") && len(f.Languages) == 0 && len(d.errs) == 0 {
		d.errorf(s.val("languages"), "languages", "missing-field", "at least one language is needed")
	}
	f.DefaultLang = s.str("default_language")
	if f.DefaultLang == "" && len(f.Languages) > 0 {
		f.DefaultLang = f.Languages[0]
	} else if f.DefaultLang != "" && !contains(f.Languages, f.DefaultLang) {
		d.errorf(s.val("default_language"), "default_language", "unknown-language", "%q is not one of the languages (%s)", f.DefaultLang, strings.Join(f.Languages, ", "))
		if len(f.Languages) > 0 {
			f.DefaultLang = f.Languages[0]
		}
	}
}

func (c *compiler) labels(s fields) {
	d, f := c.d, c.f
	overrides := map[string]fields{}
	if s.has("labels") {
		ls, ok := d.mapping(s.val("labels"), "labels", f.Languages)
		if ok {
			for _, l := range ls.order {
				if m, ok := d.mapping(ls.val(l), join("labels", l), labelKeys); ok {
					overrides[l] = m
				}
			}
		}
	}
	for _, l := range f.Languages {
		lab := labels{}
		for k, v := range builtinLabels[l] {
			lab[k] = v
		}
		lab[lName] = autonym(l)
		var missing []string
		o, hasO := overrides[l]
		for _, k := range labelKeys {
			if hasO && o.has(k) {
				lab[k] = o.str(k)
			}
			if lab[k] == "" && k != lLater && k != lUpdated {
				missing = append(missing, k)
			}
		}
		if lab[lLater] == "" { // added after services were written: optional
			lab[lLater] = lab[lUnavailable]
		}
		if lab[lUpdated] == "" { // added after services were written: optional
			lab[lUpdated] = lab[lExpired]
		}
		if len(missing) > 0 {
			at, path := s.keyNode("languages"), "languages"
			if hasO {
				at, path = o.node, join("labels", l)
			}
			d.errorf(at, path, "missing-text", "language %s has no built-in labels: give labels.%s.%s", l, l, strings.Join(missing, ", "))
		}
		f.labels = append(f.labels, lab)
	}
}

func (c *compiler) navigation(s fields) {
	f := c.f
	f.nav = navigation{back: true, home: true, backKey: "0", homeKey: "00", more: "98"}
	if !s.has("navigation") {
		return
	}
	n, ok := c.d.mapping(s.val("navigation"), "navigation", []string{"back", "home", "back_key", "home_key", "more_key"})
	if !ok {
		return
	}
	f.nav.back = n.boolean("back", true)
	f.nav.home = n.boolean("home", true)
	for key, dst := range map[string]*string{"back_key": &f.nav.backKey, "home_key": &f.nav.homeKey, "more_key": &f.nav.more} {
		if v := n.str(key); v != "" {
			if !regexp.MustCompile(`^[0-9*#]{1,3}$`).MatchString(v) {
				c.d.errorf(n.val(key), join("navigation", key), "bad-value", "%q is not a key a phone can send (1 to 3 digits, * or #)", v)
				continue
			}
			*dst = v
		}
	}
	keys := []string{f.nav.backKey, f.nav.homeKey, f.nav.more}
	sort.Strings(keys)
	if keys[0] == keys[1] || keys[1] == keys[2] {
		c.d.errorf(n.node, "navigation", "bad-value", "back_key, home_key and more_key must differ")
	}
}

func (c *compiler) nodes(s fields) {
	d, f := c.d, c.f
	ns, ok := d.mapping(s.val("nodes"), "nodes", nil)
	if !ok {
		return
	}
	if len(ns.order) == 0 {
		d.errorf(ns.node, "nodes", "missing-field", "at least one node is needed")
		return
	}
	for _, name := range ns.order {
		if !nodeRE.MatchString(name) {
			d.errorf(ns.keyNode(name), join("nodes", name), "bad-value", "%q is not a valid node name (lower-case letters, digits and _, starting with a letter)", name)
		}
		f.byName[name] = len(f.nodes)
		f.nodes = append(f.nodes, &node{name: name})
		c.nodeKeys = append(c.nodeKeys, ns.keyNode(name))
	}
	for i, name := range ns.order {
		c.node(f.nodes[i], ns.val(name), join("nodes", name))
	}
	for _, p := range c.pending {
		if t, ok := builtinTargets[p.name]; ok {
			*p.dst = t
			continue
		}
		i, ok := f.byName[p.name]
		if !ok {
			msg := fmt.Sprintf("unknown node %q", p.name)
			if sg := suggest(p.name, ns.order); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			d.errorf(p.at, p.path, "unknown-node", "%s", msg)
			continue
		}
		*p.dst = target(i)
	}
}

// node decodes one node; its kind decides which keys are allowed.
func (c *compiler) node(n *node, y *yaml.Node, path string) {
	d := c.d
	// A first look for the type, which decides the allowed keys; problems
	// are reported by the second, full decoding.
	probe, ok := (&decoder{file: d.file}).mapping(y, path, nil)
	if !ok {
		d.mapping(y, path, nil)
		return
	}
	kindName := probe.str("type")
	kind, known := kindNames[kindName]
	if !probe.has("type") {
		d.errorf(probe.node, join(path, "type"), "missing-field", "required field is missing (%s)", kindList)
		return
	}
	if !known {
		d.errorf(probe.val("type"), join(path, "type"), "bad-value", "unknown node type %q (%s)", kindName, kindList)
		return
	}
	n.kind = kind
	f, _ := d.mapping(y, path, nodeKeys[kind])
	n.nav, n.navKeys = true, true
	if f.has("nav") {
		switch v := f.str("nav"); v {
		case "true", "yes", "on":
		case "false", "no", "off":
			n.nav, n.navKeys = false, false
		case "keys":
			n.nav = false
		default:
			d.errorf(f.val("nav"), join(path, "nav"), "wrong-type", "expected true, false or keys, got %q", v)
		}
	}
	switch kind {
	case kindMenu:
		c.menu(n, f)
	case kindInput:
		f.require("text", "save", "next")
		n.text = c.text(f.val("text"), join(path, "text"), false)
		n.save = c.varName(f, "save")
		c.defs[n.save] = true
		n.rule = d.decodeRule(f)
		if f.has("error") {
			n.errText = c.text(f.val("error"), join(path, "error"), false)
		}
		n.sensitive = f.boolean("sensitive", false)
		if n.sensitive {
			c.f.sensitive[n.save] = true
		}
		c.target(f, "next", &n.next)
	case kindAction:
		c.action(n, f)
	case kindRouter:
		f.require("routes", "default")
		list := d.seq(f.val("routes"), join(path, "routes"))
		n.routes = make([]route, len(list))
		for i, r := range list {
			rf, ok := d.mapping(r, index(join(path, "routes"), i), []string{"when", "next"})
			if !ok {
				continue
			}
			rf.require("when", "next")
			n.routes[i].when = c.cond(rf, "when", false)
			c.target(rf, "next", &n.routes[i].next)
		}
		if f.has("routes") && len(n.routes) == 0 && len(d.errs) == 0 {
			d.errorf(f.val("routes"), join(path, "routes"), "missing-field", "a router needs at least one route")
		}
		c.target(f, "default", &n.def)
	case kindEnd:
		f.require("text")
		n.text = c.text(f.val("text"), join(path, "text"), false)
	case kindSMS:
		f.require("text", "next")
		n.text = c.text(f.val("text"), join(path, "text"), false)
		c.target(f, "next", &n.next)
		n.onError = toUnavailable
		c.target(f, "on_error", &n.onError)
	case kindSubscribe, kindUnsubscribe, kindSubscriptions:
		c.consentNode(n, f)
	}
}

func (c *compiler) menu(n *node, f fields) {
	d := c.d
	f.require("text")
	n.text = c.text(f.val("text"), join(f.path, "text"), false)
	if !f.has("options") && !f.has("items") {
		d.errorf(f.node, join(f.path, "options"), "missing-field", "a menu needs options or items")
	}
	list := d.seq(f.val("options"), join(f.path, "options"))
	n.options = make([]option, len(list))
	for i, o := range list {
		op := index(join(f.path, "options"), i)
		of, ok := d.mapping(o, op, []string{"label", "next", "set", "when"})
		if !ok {
			continue
		}
		of.require("label", "next")
		opt := &n.options[i]
		opt.label = c.text(of.val("label"), join(op, "label"), false)
		opt.set = c.assigns(of, false)
		opt.when = c.cond(of, "when", false)
		c.target(of, "next", &opt.next)
	}
	if f.has("items") {
		ip := join(f.path, "items")
		itf, ok := d.mapping(f.val("items"), ip, []string{"from", "label", "next", "set", "max"})
		if !ok {
			return
		}
		itf.require("from", "label", "next")
		it := &items{from: itf.str("from"), max: 20}
		if it.from != "" {
			c.uses = append(c.uses, varUse{name: it.from, at: itf.val("from"), path: join(ip, "from"), listOf: true})
		}
		c.itemFrom = it.from
		it.label = c.text(itf.val("label"), join(ip, "label"), true)
		it.set = c.assigns(itf, true)
		c.itemFrom = ""
		if m, ok := itf.integer("max"); ok {
			if m < 1 || m > 50 {
				d.errorf(itf.val("max"), join(ip, "max"), "bad-value", "%d is out of range (1 to 50)", m)
			} else {
				it.max = m
			}
		}
		c.target(itf, "next", &it.next)
		n.items = it
	}
}

func (c *compiler) action(n *node, f fields) {
	d := c.d
	f.require("call", "next")
	n.call = f.str("call")
	if n.call != "" && c.opts.Adapters != nil && !contains(c.opts.Adapters, n.call) {
		msg := fmt.Sprintf("unknown adapter %q%s", n.call, problem.DidYouMean(n.call, c.opts.Adapters))
		if len(c.opts.Adapters) > 0 {
			msg += fmt.Sprintf(" (the gateway has %s)", strings.Join(c.opts.Adapters, ", "))
		} else {
			msg += " (the gateway has no adapters configured)"
		}
		d.errorf(f.val("call"), join(f.path, "call"), "unknown-adapter", "%s", msg)
	}
	n.op = f.str("op")
	var pm fields
	if f.has("params") {
		var ok bool
		pm, ok = d.mapping(f.val("params"), join(f.path, "params"), nil)
		if ok {
			for _, k := range pm.order {
				t := c.template(pm.val(k), join(pm.path, k), false)
				if t != nil {
					n.params = append(n.params, param{name: k, value: t})
				}
			}
		}
	}
	c.checkOp(n, f, pm)
	if f.has("save") {
		n.saveAs = c.varName(f, "save")
		c.results[n.saveAs] = true
	}
	n.timeout = f.duration("timeout")
	if f.has("late_sms") {
		n.lateSMS = c.text(f.val("late_sms"), join(f.path, "late_sms"), false)
	}
	c.target(f, "next", &n.next)
	// Defaults: on_empty is next; on_timeout is the built-in "we will send
	// the answer by SMS" screen when there is a late_sms, else on_error.
	n.onEmpty, n.onError, n.onTimeout, n.onInvalid = -100, toUnavailable, -100, -100
	c.target(f, "on_empty", &n.onEmpty)
	c.target(f, "on_error", &n.onError)
	c.target(f, "on_timeout", &n.onTimeout)
	c.target(f, "on_invalid", &n.onInvalid)
}

// checkOp checks an action's op and params against what its adapter
// declares, when it declares anything: a misspelled op or param would
// otherwise show only at run time, as an error screen or an empty answer.
func (c *compiler) checkOp(n *node, f fields, params fields) {
	specs, ok := c.opts.Ops[n.call]
	if !ok || n.call == "" {
		return
	}
	var names []string
	var spec *adapters.OpSpec
	for i := range specs {
		if specs[i].Name != "" {
			names = append(names, specs[i].Name)
		}
		if specs[i].Name == n.op {
			spec = &specs[i]
		}
	}
	sort.Strings(names)
	offers := fmt.Sprintf("adapter %s offers %s", n.call, strings.Join(names, ", "))
	if spec == nil {
		var p *Error
		if n.op == "" {
			p = problem.Errorf(c.d.file, f.node, join(f.path, "op"), "missing-field", "adapter %s needs an op", n.call)
		} else {
			p = problem.Errorf(c.d.file, f.val("op"), join(f.path, "op"), "unknown-op", "adapter %s has no op %q%s",
				n.call, n.op, problem.DidYouMean(n.op, names))
		}
		p.Hint = offers
		c.d.errs = append(c.d.errs, p)
		return
	}
	takes := append(append([]string(nil), spec.Required...), spec.Optional...)
	sort.Strings(takes)
	takesHint := fmt.Sprintf("op %s of %s takes no params", n.op, n.call)
	if len(takes) > 0 {
		takesHint = fmt.Sprintf("op %s of %s takes %s", n.op, n.call, strings.Join(takes, ", "))
	}
	for _, k := range params.order {
		if !contains(takes, k) {
			p := problem.Errorf(c.d.file, params.keyNode(k), join(params.path, k), "unknown-param", "op %s of adapter %s has no param %q%s",
				n.op, n.call, k, problem.DidYouMean(k, takes))
			p.Hint = takesHint
			c.d.errs = append(c.d.errs, p)
		}
	}
	for _, r := range spec.Required {
		if params.has(r) {
			continue
		}
		at, path := f.node, join(f.path, "params")
		if params.node != nil {
			at = params.node
		}
		p := problem.Errorf(c.d.file, at, join(path, r), "missing-param", "op %s of adapter %s needs param %s", n.op, n.call, r)
		p.Hint = takesHint
		c.d.errs = append(c.d.errs, p)
	}
}

// resolveDefaults fills the action branches that default to others:
// on_empty to next, on_timeout to on_error.
func (n *node) resolveDefaults() {
	if n.onEmpty == -100 {
		n.onEmpty = n.next
	}
	if n.onTimeout == -100 {
		n.onTimeout = n.onError
		if n.lateSMS != nil {
			n.onTimeout = toLate
		}
	}
	if n.onInvalid == -100 {
		n.onInvalid = n.onError
	}
}

func (c *compiler) varName(f fields, key string) string {
	name := f.str(key)
	if name != "" && (!nodeRE.MatchString(name) || contains(builtins, name) || name == "item") {
		c.d.errorf(f.val(key), join(f.path, key), "bad-value", "%q cannot be a variable name (lower-case letters, digits and _; not msisdn, lang, service, today or item)", name)
		return ""
	}
	return name
}

func (c *compiler) assigns(f fields, inItem bool) []assign {
	if !f.has("set") {
		return nil
	}
	m, ok := c.d.mapping(f.val("set"), join(f.path, "set"), nil)
	if !ok {
		return nil
	}
	var out []assign
	for _, k := range m.order {
		if !nodeRE.MatchString(k) || contains(builtins, k) || k == "item" {
			c.d.errorf(m.keyNode(k), join(m.path, k), "bad-value", "%q cannot be a variable name (lower-case letters, digits and _; not msisdn, lang, service, today or item)", k)
			continue
		}
		t := c.template(m.val(k), join(m.path, k), inItem)
		if t != nil {
			out = append(out, assign{name: k, value: t})
			c.defs[k] = true
		}
	}
	return out
}

func (c *compiler) cond(f fields, key string, inItem bool) *cond {
	src := f.str(key)
	if src == "" {
		return nil
	}
	cd, err := parseCond(src)
	if err != nil {
		c.d.errorf(f.val(key), join(f.path, key), "bad-condition", "invalid condition: %v", err)
		return nil
	}
	for _, v := range cd.vars() {
		c.uses = append(c.uses, varUse{name: v, at: f.val(key), path: join(f.path, key), inItem: inItem})
	}
	return cd
}

// target records a reference to a node, resolved once all nodes are known.
func (c *compiler) target(f fields, key string, dst *target) {
	if !f.has(key) {
		return
	}
	name := f.str(key)
	if name == "" {
		c.d.errorf(f.val(key), join(f.path, key), "missing-field", "a node name is needed")
		return
	}
	c.pending = append(c.pending, pendingTarget{dst: dst, name: name, at: f.val(key), path: join(f.path, key)})
}

func (c *compiler) template(n *yaml.Node, path string, inItem bool) *template {
	src := c.d.scalar(n, path)
	t, err := parseTemplate(src)
	if err != nil {
		c.d.errorf(n, path, "bad-template", "%v", err)
		return nil
	}
	if c.freeVars {
		return t // a message's variables come from its sender
	}
	for _, v := range t.vars() {
		c.uses = append(c.uses, varUse{name: v, at: n, path: path, inItem: inItem, itemFrom: c.itemFrom})
	}
	return t
}

// plain is a text with the same static words in every language.
func (c *compiler) plain(s string) text {
	t := &template{src: s, segs: []segment{{lit: s}}}
	out := make(text, len(c.f.Languages))
	for i := range out {
		out[i] = t
	}
	return out
}

// text decodes a localized text: a plain string serves every language; a
// mapping gives one string per declared language, all of them required.
func (c *compiler) text(n *yaml.Node, path string, inItem bool) text {
	if n == nil {
		return nil
	}
	langs := c.f.Languages
	out := make(text, len(langs))
	r := resolve(n)
	if r.Kind == yaml.ScalarNode {
		t := c.template(r, path, inItem)
		if t == nil {
			return nil
		}
		for i := range out {
			out[i] = t
		}
		return out
	}
	m, ok := c.d.mapping(r, path, nil)
	if !ok {
		return nil
	}
	for _, l := range m.order {
		if _, ok := c.f.langIndex[l]; !ok {
			c.d.errorf(m.keyNode(l), join(path, l), "unknown-language", "%q is not one of the languages (%s)", l, strings.Join(langs, ", "))
		}
	}
	var missing []string
	for i, l := range langs {
		if !m.has(l) {
			missing = append(missing, l)
			continue
		}
		out[i] = c.template(m.val(l), join(path, l), inItem)
	}
	if len(missing) > 0 {
		c.d.errorf(m.node, path, "missing-text", "missing text for %s", strings.Join(missing, ", "))
	}
	for _, t := range out {
		if t == nil {
			return nil
		}
	}
	return out
}

// item returns the i-th element of a list node, or the node itself when it
// is a single scalar standing for a list of one.
func item(n *yaml.Node, i int) *yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

func posOf(n *yaml.Node) pos { return pos{n.Line, n.Column} }
