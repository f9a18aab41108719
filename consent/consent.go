// Package consent is the registry of what each phone number agreed to
// receive: subscriptions to topics (price alerts, reminders), opt-outs (SMS
// STOP) and opt-ins (START), and an audit trail of every change, in Redis.
// It is a store flows call: it must not import flows, ussd or a transport.
//
// It is a leaf package: it imports only the standard library, go-redis and
// msisdn (the phone-number type, itself stdlib only, so that numbers are
// masked the one way), nothing else of the gateway, so that the flows, the SMS router, the outbox and
// the API can all use it without import cycles.
//
// Keys (all under the configured prefix; {m} is the MSISDN as a Redis
// Cluster hash tag, so that the keys of one number live in one slot and are
// changed together in one MULTI):
//
//	n:{m}:subs    hash  service\x1ftopic -> encoded Subscription
//	n:{m}:stop    hash  service ("*" = all bulk messages) -> unix time
//	n:{m}:audit   list  JSON events, newest last, capped, expiring after Retention
//	t:<topic>     hash  msisdn -> encoded Subscription (the fan-out index)
//	s:<service>   set   msisdns with at least one subscription of the service
//	n:{m}:lock    string  held while one change of the number's subscriptions runs
//
// The topic and service indexes live in other slots than the number's keys,
// so they are written after the number's own record, under a per-number
// lock: a failure in between leaves the user's list right and the index
// short, never the reverse (a user must not receive what their list does
// not show), and a retried Subscribe or Unsubscribe repairs it.
package consent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/msisdn"
)

// Subscription is one thing a user agreed to receive.
type Subscription struct {
	Service string            // flow id, e.g. "market"
	Topic   string            // e.g. "prices:maize:eldoret", "health:reminders"
	Label   string            // what the user sees in their list, e.g. "Maize at Eldoret"
	Lang    string            // language to send in
	Channel string            // "ussd", "sms", "api"
	Params  map[string]string // e.g. {"threshold": "5", "digest": "yes"}
	At      time.Time
}

// Event is one entry of a number's audit trail.
type Event struct {
	At      time.Time
	Action  string // "subscribe", "unsubscribe", "stop", "start"
	Service string // "" for a stop or start of all bulk messages
	Topic   string
	Channel string
	Detail  string // what was agreed to, e.g. `label="Maize at Eldoret" lang=en threshold=5`
}

// Options tune a Registry.
type Options struct {
	// Retention is how long the audit trail of a number is kept after its
	// last change (default 400 days). Subscriptions and active stops are
	// kept while they are in force: forgetting a STOP would break it.
	Retention time.Duration
	Now       func() time.Time // default time.Now
}

// AuditCap is the number of audit events kept per number (the oldest go).
const AuditCap = 500

// scanBatch is the COUNT hint of the HSCAN/SSCAN behind the fan-out scans.
const scanBatch = 1000

// Registry is the consent registry over one Redis.
type Registry struct {
	c      redis.UniversalClient
	prefix string
	ret    time.Duration
	now    func() time.Time
}

// New returns a registry whose keys all start with prefix (e.g. "ussdgw:").
func New(c redis.UniversalClient, prefix string, o Options) *Registry {
	if o.Retention <= 0 {
		o.Retention = 400 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Registry{c: c, prefix: prefix, ret: o.Retention, now: o.Now}
}

// ErrInvalid is wrapped by the errors about bad arguments.
var ErrInvalid = errors.New("consent: invalid argument")

func (r *Registry) numKey(m, what string) string { return r.prefix + "n:{" + m + "}:" + what }
func (r *Registry) topicKey(topic string) string { return r.prefix + "t:" + topic }
func (r *Registry) svcKey(service string) string { return r.prefix + "s:" + service }

func subField(service, topic string) string { return service + "\x1f" + topic }

// allServices is the stop hash's field for "all bulk messages".
const allServices = "*"

func checkMSISDN(m string) error {
	if m == "" {
		return fmt.Errorf("%w: empty msisdn", ErrInvalid)
	}
	for _, c := range m {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: msisdn must be digits only (international, no +)", ErrInvalid)
		}
	}
	return nil
}

// mask hides all but the last three digits, for error texts that may be logged.
func mask(m string) string { return msisdn.Mask(m) }

// encode is the compact form stored in the hashes: a URL query, which
// keeps any text safe and stays short ("s=market&l=Maize...&g=en&...").
// The topic is not in it: it is the key (or field) that found it.
func encode(s Subscription) string {
	v := url.Values{}
	v.Set("s", s.Service)
	v.Set("l", s.Label)
	if s.Lang != "" {
		v.Set("g", s.Lang)
	}
	if s.Channel != "" {
		v.Set("c", s.Channel)
	}
	if !s.At.IsZero() {
		v.Set("t", strconv.FormatInt(s.At.Unix(), 10))
	}
	for k, p := range s.Params {
		v.Set("p."+k, p)
	}
	return v.Encode()
}

func decode(topic, enc string) (Subscription, error) {
	s := Subscription{Topic: topic}
	// A hand-rolled url.ParseQuery: a fan-out decodes every subscriber of
	// a topic, and this costs a third of the allocations.
	for rest := enc; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		k, v, _ := strings.Cut(kv, "=")
		var err error
		if k, err = unescape(k); err == nil {
			v, err = unescape(v)
		}
		if err != nil {
			return Subscription{}, fmt.Errorf("consent: decode subscription of %q: %w", topic, err)
		}
		switch k {
		case "s":
			s.Service = v
		case "l":
			s.Label = v
		case "g":
			s.Lang = v
		case "c":
			s.Channel = v
		case "t":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				s.At = time.Unix(n, 0).UTC()
			}
		default:
			if p, ok := strings.CutPrefix(k, "p."); ok {
				if s.Params == nil {
					s.Params = make(map[string]string, 2)
				}
				s.Params[p] = v
			}
		}
	}
	return s, nil
}

// unescape is url.QueryUnescape without its allocation when there is
// nothing to unescape (the common case: codes, numbers, plain labels).
func unescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// detail says what was agreed to, for the audit trail.
func detail(s Subscription) string {
	var b strings.Builder
	fmt.Fprintf(&b, "label=%q", s.Label)
	if s.Lang != "" {
		fmt.Fprintf(&b, " lang=%s", s.Lang)
	}
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, s.Params[k])
	}
	return b.String()
}

// audit queues the append of e to the number's trail on p.
func (r *Registry) audit(ctx context.Context, p redis.Pipeliner, m string, e Event) {
	b, _ := json.Marshal(e) // an Event always marshals
	k := r.numKey(m, "audit")
	p.RPush(ctx, k, b)
	p.LTrim(ctx, k, -AuditCap, -1)
	p.Expire(ctx, k, r.ret)
}

// Subscribe records that msisdn agreed to receive s.Topic of s.Service
// (replacing an earlier subscription to the same topic, e.g. with another
// threshold). As the user's own act for that service it also lifts a STOP
// of that one service; a STOP of all bulk messages stays until START.
func (r *Registry) Subscribe(ctx context.Context, msisdn string, s Subscription) error {
	if err := checkMSISDN(msisdn); err != nil {
		return err
	}
	if s.Service == "" || s.Topic == "" {
		return fmt.Errorf("%w: subscription needs a service and a topic", ErrInvalid)
	}
	if strings.ContainsRune(s.Service, '\x1f') {
		return fmt.Errorf("%w: service %q", ErrInvalid, s.Service)
	}
	if s.At.IsZero() {
		s.At = r.now()
	}
	s.At = s.At.UTC().Truncate(time.Second)
	enc := encode(s)
	unlock, err := r.lock(ctx, msisdn)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.numKey(msisdn, "subs"), subField(s.Service, s.Topic), enc)
		p.HDel(ctx, r.numKey(msisdn, "stop"), s.Service)
		r.audit(ctx, p, msisdn, Event{At: s.At, Action: "subscribe", Service: s.Service, Topic: s.Topic, Channel: s.Channel, Detail: detail(s)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("consent: subscribe %s to %s/%s: %w", mask(msisdn), s.Service, s.Topic, err)
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.topicKey(s.Topic), msisdn, enc)
		p.SAdd(ctx, r.svcKey(s.Service), msisdn)
		return nil
	})
	if err != nil {
		return fmt.Errorf("consent: index subscription of %s to %s/%s: %w", mask(msisdn), s.Service, s.Topic, err)
	}
	return nil
}

// Unsubscribe removes msisdn's subscription to topic of service; topic ""
// removes all the number's subscriptions of the service. It reports
// whether there was anything to remove.
func (r *Registry) Unsubscribe(ctx context.Context, msisdn, service, topic, channel string) (bool, error) {
	if err := checkMSISDN(msisdn); err != nil {
		return false, err
	}
	if service == "" {
		return false, fmt.Errorf("%w: unsubscribe needs a service", ErrInvalid)
	}
	unlock, err := r.lock(ctx, msisdn)
	if err != nil {
		return false, err
	}
	defer unlock()
	subs, err := r.c.HGetAll(ctx, r.numKey(msisdn, "subs")).Result()
	if err != nil {
		return false, fmt.Errorf("consent: unsubscribe %s from %s: %w", mask(msisdn), service, err)
	}
	var topics []string
	left := 0 // the service's subscriptions that stay
	for f := range subs {
		svc, t, _ := strings.Cut(f, "\x1f")
		if svc != service {
			continue
		}
		if topic == "" || t == topic {
			topics = append(topics, t)
		} else {
			left++
		}
	}
	if len(topics) == 0 {
		// Nothing in the record; an index entry may remain from a change
		// that failed half-way: a retried Unsubscribe clears it.
		if topic != "" {
			if err := r.unindex(ctx, msisdn, service, topic); err != nil {
				return false, err
			}
		}
		if left == 0 {
			if err := r.c.SRem(ctx, r.svcKey(service), msisdn).Err(); err != nil {
				return false, fmt.Errorf("consent: unindex %s from %s: %w", mask(msisdn), service, err)
			}
		}
		return false, nil
	}
	sort.Strings(topics)
	at := r.now().UTC().Truncate(time.Second)
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range topics {
			p.HDel(ctx, r.numKey(msisdn, "subs"), subField(service, t))
			r.audit(ctx, p, msisdn, Event{At: at, Action: "unsubscribe", Service: service, Topic: t, Channel: channel})
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("consent: unsubscribe %s from %s: %w", mask(msisdn), service, err)
	}
	for _, t := range topics {
		if err := r.unindex(ctx, msisdn, service, t); err != nil {
			return true, err
		}
	}
	if left == 0 {
		if err := r.c.SRem(ctx, r.svcKey(service), msisdn).Err(); err != nil {
			return true, fmt.Errorf("consent: unindex %s from %s: %w", mask(msisdn), service, err)
		}
	}
	return true, nil
}

// unindex removes msisdn from topic's index if its entry there is of
// service (topics are global: another service's entry is not ours to drop).
func (r *Registry) unindex(ctx context.Context, msisdn, service, topic string) error {
	k := r.topicKey(topic)
	enc, err := r.c.HGet(ctx, k, msisdn).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consent: unindex %s from %s: %w", mask(msisdn), topic, err)
	}
	if s, err := decode(topic, enc); err == nil && s.Service != service {
		return nil
	}
	if err := r.c.HDel(ctx, k, msisdn).Err(); err != nil {
		return fmt.Errorf("consent: unindex %s from %s: %w", mask(msisdn), topic, err)
	}
	return nil
}

// Lock timings: how long a number's lock lives if its holder dies, and
// how long another change of the same number waits for it.
const (
	lockTTL  = 5 * time.Second
	lockWait = 3 * time.Second
)

// lock serialises the changes of one number's subscriptions. The number's
// record and the topic and service indexes live in different Redis Cluster
// slots, so one MULTI cannot change them together; without the lock, a
// Subscribe and an Unsubscribe of the same number and topic running at
// once (two channels, a retried request) could interleave and leave the
// index saying what the record no longer does. Changes of one number are
// human-paced: waiting is rare and short.
func (r *Registry) lock(ctx context.Context, msisdn string) (unlock func(), err error) {
	b := make([]byte, 8)
	rand.Read(b)
	token, key := hex.EncodeToString(b), r.numKey(msisdn, "lock")
	deadline := time.Now().Add(lockWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := r.c.SetNX(ctx, key, token, lockTTL).Result()
		if err != nil {
			return nil, fmt.Errorf("consent: lock %s: %w", mask(msisdn), err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("consent: lock %s: another change of this number takes too long", mask(msisdn))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("consent: lock %s: %w", mask(msisdn), ctx.Err())
		case <-time.After(wait):
		}
	}
	return func() {
		// Not the caller's context: it may be done, and the lock must go.
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		unlockScript.Run(uctx, r.c, []string{key}, token)
	}, nil
}

// unlockScript deletes the lock only if it is still the caller's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Subscriptions returns msisdn's subscriptions sorted by Service, Topic.
func (r *Registry) Subscriptions(ctx context.Context, msisdn string) ([]Subscription, error) {
	if err := checkMSISDN(msisdn); err != nil {
		return nil, err
	}
	subs, err := r.c.HGetAll(ctx, r.numKey(msisdn, "subs")).Result()
	if err != nil {
		return nil, fmt.Errorf("consent: subscriptions of %s: %w", mask(msisdn), err)
	}
	out := make([]Subscription, 0, len(subs))
	for f, enc := range subs {
		_, topic, _ := strings.Cut(f, "\x1f")
		s, err := decode(topic, enc)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Topic < out[j].Topic
	})
	return out, nil
}

// OptOut is an SMS STOP: bulk messages of service (all services when
// service is "") are no longer allowed to msisdn. Subscriptions stay, so
// that START brings them back.
func (r *Registry) OptOut(ctx context.Context, msisdn, service, channel string) error {
	if err := checkMSISDN(msisdn); err != nil {
		return err
	}
	field := service
	if field == "" {
		field = allServices
	}
	at := r.now().UTC().Truncate(time.Second)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.numKey(msisdn, "stop"), field, at.Unix())
		r.audit(ctx, p, msisdn, Event{At: at, Action: "stop", Service: service, Channel: channel})
		return nil
	})
	if err != nil {
		return fmt.Errorf("consent: stop %s for %q: %w", mask(msisdn), service, err)
	}
	return nil
}

// OptIn is an SMS START. For a service it lifts that service's STOP; with
// service "" it lifts every STOP of the number, the global one and each
// service's, since a plain START means "let my messages flow again".
func (r *Registry) OptIn(ctx context.Context, msisdn, service, channel string) error {
	if err := checkMSISDN(msisdn); err != nil {
		return err
	}
	at := r.now().UTC().Truncate(time.Second)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if service == "" {
			p.Del(ctx, r.numKey(msisdn, "stop"))
		} else {
			p.HDel(ctx, r.numKey(msisdn, "stop"), service)
		}
		r.audit(ctx, p, msisdn, Event{At: at, Action: "start", Service: service, Channel: channel})
		return nil
	})
	if err != nil {
		return fmt.Errorf("consent: start %s for %q: %w", mask(msisdn), service, err)
	}
	return nil
}

// Allowed reports whether bulk messages of service may be sent to msisdn:
// false when the number sent STOP for that service or for all.
func (r *Registry) Allowed(ctx context.Context, msisdn, service string) (bool, error) {
	if err := checkMSISDN(msisdn); err != nil {
		return false, err
	}
	fields := []string{allServices}
	if service != "" {
		fields = append(fields, service)
	}
	vals, err := r.c.HMGet(ctx, r.numKey(msisdn, "stop"), fields...).Result()
	if err != nil {
		return false, fmt.Errorf("consent: allowed %s for %q: %w", mask(msisdn), service, err)
	}
	for _, v := range vals {
		if v != nil {
			return false, nil
		}
	}
	return true, nil
}

// AllowedBatch is Allowed for many messages in one round trip: msisdns[i]
// and services[i] are one question, answered in the same place of the
// result. An invalid number fails the whole batch, before Redis is asked;
// the caller may then ask Allowed one by one.
func (r *Registry) AllowedBatch(ctx context.Context, msisdns, services []string) ([]bool, error) {
	if len(msisdns) != len(services) {
		return nil, fmt.Errorf("consent: allowed batch: %d numbers, %d services", len(msisdns), len(services))
	}
	for _, m := range msisdns {
		if err := checkMSISDN(m); err != nil {
			return nil, err
		}
	}
	cmds := make([]*redis.SliceCmd, len(msisdns))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msisdns {
			fields := []string{allServices}
			if services[i] != "" {
				fields = append(fields, services[i])
			}
			cmds[i] = p.HMGet(ctx, r.numKey(m, "stop"), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consent: allowed batch of %d: %w", len(msisdns), err)
	}
	out := make([]bool, len(msisdns))
	for i, c := range cmds {
		out[i] = true
		for _, v := range c.Val() {
			if v != nil {
				out[i] = false
			}
		}
	}
	return out, nil
}

// Subscribers calls fn for each subscriber of topic, reading the index in
// HSCAN batches so that a topic of 100,000 numbers is never all in memory.
// A number that subscribes or leaves during the scan may or may not be
// seen; each number present throughout is seen (and, as long as the index
// is not shrinking meanwhile, once: senders key messages by number to be
// safe). An error from fn stops the scan and is returned.
func (r *Registry) Subscribers(ctx context.Context, topic string, fn func(msisdn string, s Subscription) error) error {
	k := r.topicKey(topic)
	var cursor uint64
	for {
		kv, next, err := r.c.HScan(ctx, k, cursor, "", scanBatch).Result()
		if err != nil {
			return fmt.Errorf("consent: scan subscribers of %s: %w", topic, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s, err := decode(topic, kv[i+1])
			if err != nil {
				return err
			}
			if err := fn(kv[i], s); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ServiceUsers calls fn for each number with at least one subscription of
// service, in SSCAN batches.
func (r *Registry) ServiceUsers(ctx context.Context, service string, fn func(msisdn string) error) error {
	k := r.svcKey(service)
	var cursor uint64
	for {
		ms, next, err := r.c.SScan(ctx, k, cursor, "", scanBatch).Result()
		if err != nil {
			return fmt.Errorf("consent: scan users of %s: %w", service, err)
		}
		for _, m := range ms {
			if err := fn(m); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Audit returns msisdn's audit trail, oldest first.
func (r *Registry) Audit(ctx context.Context, msisdn string) ([]Event, error) {
	if err := checkMSISDN(msisdn); err != nil {
		return nil, err
	}
	raw, err := r.c.LRange(ctx, r.numKey(msisdn, "audit"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("consent: audit of %s: %w", mask(msisdn), err)
	}
	out := make([]Event, 0, len(raw))
	for _, b := range raw {
		var e Event
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			return nil, fmt.Errorf("consent: audit of %s: decode: %w", mask(msisdn), err)
		}
		out = append(out, e)
	}
	return out, nil
}
