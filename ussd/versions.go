package ussd

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/ussdgw/ussdgw/flows"
)

// A session records the version of its flow when it began
// (Session.Version, the hash of the flow's file), and every later step of
// it runs on that version, so that a reload never changes a menu under a
// user's feet. The manager serves new sessions from the set now loaded
// and keeps each version a reload replaced for as long as a session may
// still refer to it: until it has not been used for the life of a stored
// session (SessionTimeout + ResumeWindow), counted from the reload and
// from each step that used it. See docs/reload.md.

// versions holds the flow versions replaced by reloads.
type versions struct {
	mu   sync.Mutex
	kept map[string]*keptFlow // by service + "@" + version
}

type keptFlow struct {
	f        *flows.Flow
	replaced time.Time
	used     time.Time // the last step that ran on it
}

// KeptVersion describes a flow version kept for sessions that began on it.
type KeptVersion struct {
	Service  string    `json:"service"`
	Version  string    `json:"version"`
	File     string    `json:"file"`
	Replaced time.Time `json:"replaced"`
	LastUsed time.Time `json:"last_used"`
}

func versionKey(service, version string) string { return service + "@" + version }

// retire keeps the flows of old that next does not serve in the same
// version, and forgets the kept versions unused for ttl or served again.
func (v *versions) retire(old, next *flows.Set, now time.Time, ttl time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.kept == nil {
		v.kept = map[string]*keptFlow{}
	}
	if old != nil {
		for _, f := range old.Flows() {
			if nf, ok := next.Flow(f.ID); ok && nf.Version == f.Version {
				continue
			}
			k := versionKey(f.ID, f.Version)
			if _, ok := v.kept[k]; !ok {
				v.kept[k] = &keptFlow{f: f, replaced: now, used: now}
			}
		}
	}
	for k, kf := range v.kept {
		nf, served := next.Flow(kf.f.ID)
		if (served && nf.Version == kf.f.Version) || now.Sub(kf.used) > ttl {
			delete(v.kept, k)
		}
	}
}

// lookup returns the kept version of a service, marking it used.
func (v *versions) lookup(service, version string, now time.Time) (*flows.Flow, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	kf, ok := v.kept[versionKey(service, version)]
	if !ok {
		return nil, false
	}
	if now.After(kf.used) {
		kf.used = now
	}
	return kf.f, true
}

func (v *versions) list() []KeptVersion {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]KeptVersion, 0, len(v.kept))
	for _, kf := range v.kept {
		out = append(out, KeptVersion{Service: kf.f.ID, Version: kf.f.Version, File: kf.f.File, Replaced: kf.replaced, LastUsed: kf.used})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Replaced.Before(out[j].Replaced)
	})
	return out
}

// KeptVersions lists the flow versions a reload replaced that are kept for
// the sessions that began on them.
func (m *Manager) KeptVersions() []KeptVersion { return m.versions.list() }

// flowFor returns the flow a session of service runs on: the one in set
// when it is of version (or version is unknown, ""), else the version kept
// since a reload. When neither has it, Config.Refresh may load the flows
// again (this instance may not have noticed a change another instance
// already serves) and the new set is looked in once more.
func (m *Manager) flowFor(ctx context.Context, set *flows.Set, service, version string) (*flows.Flow, bool) {
	if f, ok := m.versionIn(set, service, version); ok {
		return f, true
	}
	if m.cfg.Refresh == nil {
		return nil, false
	}
	if next := m.cfg.Refresh(ctx); next != nil && next != set {
		return m.versionIn(next, service, version)
	}
	return nil, false
}

func (m *Manager) versionIn(set *flows.Set, service, version string) (*flows.Flow, bool) {
	f, ok := set.Flow(service)
	if ok && (version == "" || f.Version == version) {
		return f, true
	}
	return m.versions.lookup(service, version, m.cfg.Now())
}

// updated is the answer to a step of a session whose flow version is no
// longer loaded (the gateway restarted since, or this instance never had
// it): the user is told the service changed and to dial again, rather
// than being put back at its start without a word.
func (m *Manager) updated(set *flows.Set, cur *Session) Response {
	if f, ok := set.Flow(cur.Service); ok {
		return Response{Text: f.Label(flows.LabelUpdated, cur.Lang), End: true, Service: f.ID, Lang: cur.Lang}
	}
	return Response{Text: m.label(flows.LabelUpdated, cur.Lang, "This service was updated while you were using it. Please dial again."),
		End: true, Service: cur.Service, Lang: cur.Lang}
}
