package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/apikeys"
	"github.com/ussdgw/ussdgw/flows"
	mtq "github.com/ussdgw/ussdgw/outbox"
	"github.com/ussdgw/ussdgw/studio"
)

// studioSettings are the workbench's settings (docs/studio.md).
type studioSettings struct {
	// Studio is "off" (the default) or "on": the service owners'
	// workbench at /studio/ on the gateway's listener.
	Studio string
}

func (s *studioSettings) studioOptions() []option {
	return []option{
		{name: "studio", usage: "the service owners' workbench at /studio/ (phone simulator, flow diagrams with analytics): off or on; its login takes an API key with the studio or admin scope", str: &s.Studio},
	}
}

// studioPart is the workbench when it is on.
type studioPart struct {
	inbox  *studio.Inbox
	server *studio.Server
}

// studioOn reads -studio.
func (s *settings) studioOn() (bool, error) {
	switch s.Studio {
	case "", "off":
		return false, nil
	case "on":
		return true, nil
	}
	return false, fmt.Errorf("-studio %q: use on or off", s.Studio)
}

// studioSMS puts the workbench's inbox in front of the SMS route of the
// session managers when the workbench is on: the flows' SMS to simulated
// numbers land in it, the others go on to route (nil: none, as before).
func (a *app) studioSMS(s *settings, route flows.Messenger, now func() time.Time) (flows.Messenger, error) {
	on, err := s.studioOn()
	if err != nil || !on {
		return route, err
	}
	a.studio = &studioPart{inbox: studio.NewInbox(route, now)}
	return a.studio.inbox, nil
}

// guardSimulated is the outbox's sender: queued SMS to simulated numbers
// (a simulated number subscribed to alerts, say) never reach the SMSC,
// whether or not the workbench is on now; they go to its inbox when it is.
func (a *app) guardSimulated(next mtq.Sender) mtq.Sender {
	var in *studio.Inbox
	if a.studio != nil {
		in = a.studio.inbox
	}
	guard := mtq.SenderFunc(studio.Guard(in, next.Deliver))
	ids, ok := next.(mtq.IDSender)
	if !ok {
		return guard
	}
	return idSender{guard, func(ctx context.Context, msisdn, text, ref string) ([]string, error) {
		if studio.Simulated(msisdn) {
			return nil, guard(ctx, msisdn, text, ref)
		}
		return ids.DeliverID(ctx, msisdn, text, ref)
	}}
}

// idSender is an mtq.IDSender made of a Sender and a DeliverID function.
type idSender struct {
	mtq.SenderFunc
	id func(ctx context.Context, msisdn, text, ref string) ([]string, error)
}

func (s idSender) DeliverID(ctx context.Context, msisdn, text, ref string) ([]string, error) {
	return s.id(ctx, msisdn, text, ref)
}

// mountStudio serves the workbench under /studio/ in front of next, when
// it is on. Its logins are checked against the API keys (studio or admin
// scope) in the push side's Redis. Without -redis-url that Redis is
// embedded, out of reach of "ussdgw apikey create": a key valid until the
// gateway stops is then made and logged once.
func (a *app) mountStudio(ctx context.Context, s *settings, log *slog.Logger, now func() time.Time, next http.Handler) (http.Handler, error) {
	if a.studio == nil {
		return next, nil
	}
	keys := apikeys.New(a.push.client, s.RedisPrefix, now)
	if s.RedisURL == "" {
		_, plain, err := keys.Create(ctx, "studio (until restart)", []apikeys.Scope{apikeys.Studio})
		if err != nil {
			return nil, fmt.Errorf("making the studio's login key: %w", err)
		}
		log.Warn("studio on without -redis-url: log in at /studio/ with this key, valid until the gateway stops", "key", plain)
	}
	var counts studio.Analytics
	source := "off (-analytics-retention 0): diagrams without counts"
	if a.analytics != nil { // a nil *analytics.Store in the interface would not be nil
		counts, source = a.analytics, "the gateway's analytics"
	}
	a.studio.server = studio.New(studio.Config{
		Manager: a.manager, Inbox: a.studio.inbox, Analytics: counts, Now: now, Log: log,
		Login: func(ctx context.Context, key string) (string, error) {
			k, err := keys.Check(ctx, key, apikeys.Studio)
			if err != nil {
				return "", err
			}
			return k.Name + " (" + k.ID + ")", nil
		},
	})
	log.Info("studio on", "path", studio.Prefix, "analytics", source)
	st := a.studio.server
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/studio" || strings.HasPrefix(r.URL.Path, studio.Prefix) {
			st.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}
