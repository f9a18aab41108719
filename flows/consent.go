package flows

import (
	"context"
	"strings"

	"github.com/ussdgw/ussdgw/consent"
)

// The consent nodes: subscribe, unsubscribe and subscriptions. They run
// without a screen, like actions, and talk to env.Consent only. Who
// subscribes (the MSISDN), to which service (the flow's id), in which
// language and over which channel come from the session, never from the
// flow's params, so that no flow can subscribe someone else or on behalf
// of another service.

// kindList names the node types, for the loader's messages.
const kindList = "menu, input, action, router, sms, subscribe, unsubscribe, subscriptions or end"

func (c *compiler) consentNode(n *node, f fields) {
	d := c.d
	switch n.kind {
	case kindSubscribe:
		f.require("topic", "label", "next")
		if f.has("topic") {
			n.topic = c.template(f.val("topic"), join(f.path, "topic"), false)
		}
		n.label = c.text(f.val("label"), join(f.path, "label"), false)
		if f.has("params") {
			pm, ok := d.mapping(f.val("params"), join(f.path, "params"), nil)
			if ok {
				for _, k := range pm.order {
					if !nodeRE.MatchString(k) {
						d.errorf(pm.keyNode(k), join(pm.path, k), "bad-value", "%q is not a parameter name (lower-case letters, digits and _)", k)
						continue
					}
					if t := c.template(pm.val(k), join(pm.path, k), false); t != nil {
						n.params = append(n.params, param{name: k, value: t})
					}
				}
			}
		}
		n.onError = toUnavailable
	case kindUnsubscribe:
		f.require("next")
		n.all = f.boolean("all", false)
		switch {
		case f.has("topic") && n.all:
			d.errorf(f.val("all"), join(f.path, "all"), "bad-value", "give a topic or all: true, not both")
		case f.has("topic"):
			n.topic = c.template(f.val("topic"), join(f.path, "topic"), false)
		case !n.all:
			d.errorf(f.node, join(f.path, "topic"), "missing-field", "an unsubscribe needs a topic, or all: true for every topic of the service")
		}
		n.onEmpty, n.onError, n.onTimeout, n.onInvalid = -100, toUnavailable, -100, -100
		c.target(f, "on_empty", &n.onEmpty)
	case kindSubscriptions:
		f.require("save", "next")
		if f.has("save") {
			n.saveAs = c.varName(f, "save")
			c.results[n.saveAs] = true
		}
		n.onEmpty, n.onError, n.onTimeout, n.onInvalid = -100, toUnavailable, -100, -100
		c.target(f, "on_empty", &n.onEmpty)
	}
	c.target(f, "next", &n.next)
	c.target(f, "on_error", &n.onError)
}

// noConsent is the error branch of a consent node on a gateway without a
// consent registry.
func (f *Flow) noConsent(env *Env, n *node) (string, target) {
	f.logger(env).Warn("consent node without a consent registry", "service", f.ID, "node", n.name)
	return "error", n.onError
}

// subscribe records the user's subscription to the node's topic.
func (f *Flow) subscribe(ctx context.Context, env *Env, st *State, n *node) (string, target) {
	if env.Consent == nil {
		return f.noConsent(env, n)
	}
	sc := f.scope(env, st)
	li := f.lang(st.Lang)
	s := consent.Subscription{
		Service: f.ID,
		Topic:   strings.TrimSpace(n.topic.String(sc)),
		Label:   n.label.get(li).String(sc),
		Lang:    f.Languages[li],
		Channel: env.Channel,
		At:      env.Now,
	}
	if s.Topic == "" {
		f.logger(env).Error("subscribe: the topic is empty", "service", f.ID, "node", n.name)
		return "error", n.onError
	}
	if len(n.params) > 0 {
		s.Params = make(map[string]string, len(n.params))
		for _, p := range n.params {
			s.Params[p.name] = p.value.String(sc)
		}
	}
	if err := env.Consent.Subscribe(ctx, env.MSISDN, s); err != nil {
		f.logger(env).Error("subscribing", "service", f.ID, "node", n.name, "err", err)
		return "error", n.onError
	}
	return "ok", n.next
}

// unsubscribe removes the user's subscription to the node's topic, or all
// of the service's; empty when there was none.
func (f *Flow) unsubscribe(ctx context.Context, env *Env, st *State, n *node) (string, target) {
	if env.Consent == nil {
		return f.noConsent(env, n)
	}
	topic := ""
	if !n.all {
		if topic = strings.TrimSpace(n.topic.String(f.scope(env, st))); topic == "" {
			return "empty", n.onEmpty // "" would mean all: never by accident
		}
	}
	ok, err := env.Consent.Unsubscribe(ctx, env.MSISDN, f.ID, topic, env.Channel)
	if err != nil {
		f.logger(env).Error("unsubscribing", "service", f.ID, "node", n.name, "err", err)
		return "error", n.onError
	}
	if !ok {
		return "empty", n.onEmpty
	}
	return "ok", n.next
}

// subscriptions saves the user's subscriptions of this service as a list
// (name.1.id = topic, name.1.name = label, name.1.params.*, name.count) for
// a menu's items.
func (f *Flow) subscriptions(ctx context.Context, env *Env, st *State, n *node) (string, target) {
	if env.Consent == nil {
		return f.noConsent(env, n)
	}
	all, err := env.Consent.Subscriptions(ctx, env.MSISDN)
	if err != nil {
		f.logger(env).Error("reading subscriptions", "service", f.ID, "node", n.name, "err", err)
		return "error", n.onError
	}
	clearVars(st.Vars, n.saveAs)
	var list []any
	for _, s := range all {
		if s.Service != f.ID {
			continue
		}
		params := make(map[string]string, len(s.Params))
		for k, v := range s.Params {
			params[k] = v
		}
		item := map[string]any{"id": s.Topic, "name": s.Label, "lang": s.Lang, "channel": s.Channel, "params": params}
		if !s.At.IsZero() {
			item["since"] = s.At.In(f.Location()).Format("2006-01-02")
		}
		list = append(list, item)
	}
	if len(list) == 0 {
		return "empty", n.onEmpty
	}
	flatten(st.Vars, n.saveAs, list, f.keep[n.saveAs])
	return "ok", n.next
}
