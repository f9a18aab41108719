// Package sms routes mobile-originated SMS to services: a message that
// starts with a service's keyword opens it (as a reply-driven menu when the
// service has an SMS dialogue, else with the service's help text), a reply
// continues the dialogue in progress, HELP lists the keywords, and anything
// else gets that list too. STOP and START words (stop.go) come before all
// of that. Replies go out through a flows.Messenger. Like package ussd it
// must not import a transport (gateway, smpp, api), which call it.
//
// It knows no transport: the SMPP side hands it each reassembled MO.
package sms

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/ussd"
)

// SessionID is the dialogue id of every SMS session: SMS has no dialogue
// of its own, so a user has one SMS session (per the manager's channel).
const SessionID = "sms"

// helpWords are the words that ask for help, in the languages the gateway
// ships labels for.
var helpWords = map[string]bool{"HELP": true, "AIDE": true, "MSAADA": true, "AJUDA": true, "?": true, "INFO": true}

// intro opens the HELP answer, per language.
var intro = map[string]string{
	"en": "Send a keyword:",
	"fr": "Envoyez un mot-clé :",
	"sw": "Tuma neno:",
	"am": "ቁልፍ ቃል ይላኩ፦",
	"ar": "أرسل كلمة:",
	"pt": "Envie uma palavra:",
}

// Router answers MO SMS. It is safe for concurrent use.
type Router struct {
	// Manager runs SMS dialogues: a ussd.Manager with Channel "sms" and an
	// SMS-sized Limit.
	Manager *ussd.Manager
	// Reply sends the answers.
	Reply flows.Messenger
	// Consent records STOP and START (a *consent.Registry); nil: the
	// gateway sends no bulk messages, and STOP and START words are routed
	// like any other text.
	Consent Consent
}

// Handle answers one MO message from msisdn. An error means the message
// was not handled (the store or the reply route failed) and the transport
// should refuse it so that the SMSC delivers it again.
func (r *Router) Handle(ctx context.Context, msisdn ussd.MSISDN, text string) error {
	// A number on the deny-list gets no answer at all: an SMS costs.
	if denied, err := r.Manager.Denied(ctx, msisdn); err != nil {
		return fmt.Errorf("checking the deny-list: %w", err)
	} else if denied {
		return nil
	}
	words := strings.Fields(text)
	var first string
	if len(words) > 0 {
		first = strings.ToUpper(words[0])
	}
	set := r.Manager.Flows()
	if r.Consent != nil {
		if handled, err := r.stopStart(ctx, msisdn, set, words); handled {
			return err
		}
	}
	switch f, isKeyword := set.Keyword(first); {
	case helpWords[first] || first == "":
		return r.help(ctx, msisdn, set)
	case isKeyword && f.SMSDialogue:
		resp, err := r.Manager.Handle(ctx, ussd.Request{SessionID: SessionID, MSISDN: msisdn, New: true,
			Service: f.ID, Shortcut: words[1:]})
		if err != nil {
			return fmt.Errorf("starting %s over SMS: %w", f.ID, err)
		}
		return r.send(ctx, msisdn, resp.Text)
	case isKeyword:
		lang, err := r.Manager.Language(ctx, msisdn)
		if err != nil {
			return err
		}
		return r.send(ctx, msisdn, f.SMSHelp(lang))
	}
	// A reply to the dialogue in progress, if there is one.
	resp, err := r.Manager.Handle(ctx, ussd.Request{SessionID: SessionID, MSISDN: msisdn, Input: strings.TrimSpace(text)})
	if err != nil {
		return fmt.Errorf("continuing an SMS dialogue: %w", err)
	}
	if resp.Service == "" {
		return r.help(ctx, msisdn, set)
	}
	return r.send(ctx, msisdn, resp.Text)
}

// help lists every service's first keyword and title in the user's
// language.
func (r *Router) help(ctx context.Context, msisdn ussd.MSISDN, set *flows.Set) error {
	lang, err := r.Manager.Language(ctx, msisdn)
	if err != nil {
		return err
	}
	return r.send(ctx, msisdn, Help(set, lang))
}

// Help is the answer to HELP: an introduction and one line per service
// with an SMS keyword, in lang where the service has it.
func Help(set *flows.Set, lang string) string {
	in, ok := intro[lang]
	if !ok {
		in = intro["en"]
	}
	var lines []string
	for _, f := range set.Flows() {
		if len(f.Keywords) == 0 {
			continue
		}
		line := f.Keywords[0] + " - " + f.Title(lang)
		if len(f.Codes) > 0 {
			line += " (" + f.Codes[0] + ")"
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return in + "\n" + strings.Join(lines, "\n")
}

func (r *Router) send(ctx context.Context, msisdn ussd.MSISDN, text string) error {
	if err := r.Reply.Send(ctx, string(msisdn), text); err != nil {
		return fmt.Errorf("replying by SMS: %w", err)
	}
	return nil
}
