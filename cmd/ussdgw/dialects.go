package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/gateway/dialect"
)

// The config file's http: section lists the aggregators' callbacks, each
// a base path and the dialect spoken there (docs/aggregators.md):
//
//	http:
//	  routes:
//	    - {path: /ussd/africastalking, dialect: africastalking}
//	    - {path: /ussd/hubtel, dialect: hubtel, secret: "...", allow: "52.50.116.54"}
//
// Without it the gateway serves Africa's Talking at /ussd/africastalking.
// A route's secret and allow replace callback_secret and callback_allow
// for that route; callback_trusted_proxies applies to all.

// routeKeys are the keys of one route, in the order the docs give them.
var routeKeys = []string{"path", "dialect", "secret", "allow"}

// httpRoutes decodes the http: section into the gateway's routes, each
// with its guard built from def (the callback_* settings); nil when the
// section is absent (the gateway's default route).
func (s *settings) httpRoutes(def gateway.Guard) ([]gateway.Route, error) {
	n := s.http
	if n == nil {
		return nil, nil
	}
	var problems []string
	bad := func(at *yaml.Node, path, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d:%d: %s: %s", s.file, at.Line, at.Column, path, fmt.Sprintf(format, args...)))
	}
	if n.Kind != yaml.MappingNode {
		bad(n, "http", "expected a mapping with routes:")
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	var list *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "routes" {
			bad(k, "http."+k.Value, "unknown setting (http: has routes:)")
			continue
		}
		list = v
	}
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		at := n
		if list != nil {
			at = list
		}
		bad(at, "http.routes", "expected a list of routes like - {path: /ussd/hubtel, dialect: hubtel}")
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	var routes []gateway.Route
	seen := map[string]bool{}
	for i, item := range list.Content {
		at := fmt.Sprintf("http.routes[%d]", i)
		if item.Kind != yaml.MappingNode {
			bad(item, at, "expected a mapping with path and dialect")
			continue
		}
		vals, nodes := map[string]string{}, map[string]*yaml.Node{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			if !contains(routeKeys, k.Value) {
				bad(k, at+"."+k.Value, "unknown setting (a route has %s)", strings.Join(routeKeys, ", "))
				continue
			}
			if v.Kind != yaml.ScalarNode {
				bad(v, at+"."+k.Value, "expected a value")
				continue
			}
			vals[k.Value], nodes[k.Value] = v.Value, v
		}
		rt := gateway.Route{Path: vals["path"], Guard: def}
		switch p := rt.Path; {
		case p == "":
			bad(item, at+".path", "missing (the callback's path, e.g. /ussd/%s)", orDefault(vals["dialect"], "hubtel"))
		case !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, ":*?# \t"):
			bad(nodes["path"], at+".path", "%q is not a path like /ussd/hubtel (no trailing slash, no : * ? #)", p)
		case p == "/healthz" || p == "/readyz" || strings.HasPrefix(p+"/", "/api/"):
			bad(nodes["path"], at+".path", "%s is the gateway's own", p)
		case seen[p]:
			bad(nodes["path"], at+".path", "%s is already a route", p)
		}
		seen[rt.Path] = true
		name := vals["dialect"]
		d, ok := dialect.Lookup(name)
		switch {
		case name == "":
			bad(item, at+".dialect", "missing (one of %s)", strings.Join(dialect.Names(), ", "))
		case !ok:
			bad(nodes["dialect"], at+".dialect", "unknown dialect %q (one of %s)", name, strings.Join(dialect.Names(), ", "))
		}
		rt.Dialect = d
		if v, ok := vals["secret"]; ok {
			if err := checkSecret(v); err != nil {
				bad(nodes["secret"], at+".secret", "%v", err)
			}
			rt.Guard.Secret = v
		}
		if v, ok := vals["allow"]; ok {
			allow, err := gateway.ParsePrefixes(v)
			if err != nil {
				bad(nodes["allow"], at+".allow", "%v", err)
			}
			rt.Guard.Allow = allow
		}
		if rt.Guard.Open() && !loopback(s.Listen) {
			bad(item, at, "listening on %s, which is not a loopback address, this route would let anyone act as any phone number: "+
				"give it a secret or an allow-list (or set callback_secret / callback_allow for all routes)", s.Listen)
		}
		routes = append(routes, rt)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return routes, nil
}

// logCallbacks says at start which aggregators are served where and how
// each is guarded (never the secret): the routes of the http: section, or
// the default route's guard.
func logCallbacks(log *slog.Logger, guards map[string]gateway.Guard, routes []gateway.Route) {
	if routes == nil {
		logGuards(log, guards)
		return
	}
	for _, rt := range routes {
		log.Info("ussd route", "path", rt.Path, "dialect", rt.Dialect.Name(), "secret", rt.Guard.Secret != "",
			"allow", len(rt.Guard.Allow), "trusted_proxies", len(rt.Guard.TrustedProxies))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
