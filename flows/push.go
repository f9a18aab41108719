package flows

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // a flow's timezone: must load on a host without zoneinfo too
)

// push holds a service's settings for the messages it sends on its own
// (price alerts, reminders, digests): its time zone, its anti-spam limits
// and its named message texts.
type push struct {
	loc       *time.Location
	quiet     bool
	quietFrom int // minutes after local midnight
	quietTo   int
	dailyCap  int
	digest    bool
	digestAt  int // minutes after local midnight
	messages  map[string]text
}

var (
	clockRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	// wordRE is a STOP or START word: unlike keywords, any script, since
	// a user stops in their own language (አቁም, توقف).
	wordRE = regexp.MustCompile(`^[\p{L}\p{M}\p{N}]{1,20}$`)
)

// clock parses "HH:MM" into minutes after midnight.
func clock(s string) (int, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return h*60 + mi, true
}

// pushSettings decodes timezone:, alerts: and messages:.
func (c *compiler) pushSettings(s fields) {
	d, f := c.d, c.f
	f.push.loc = time.UTC
	if s.has("timezone") {
		name := s.str("timezone")
		loc, err := time.LoadLocation(name)
		if err != nil || name == "" || name == "Local" {
			d.errorf(s.val("timezone"), "timezone", "bad-value", "%q is not a time zone like Africa/Nairobi or UTC", name)
		} else {
			f.push.loc = loc
		}
	}
	if s.has("alerts") {
		a, ok := d.mapping(s.val("alerts"), "alerts", []string{"quiet_hours", "daily_cap", "digest_at"})
		if ok {
			if a.has("quiet_hours") {
				q := a.str("quiet_hours")
				from, to, ok := parseQuiet(q)
				if !ok {
					d.errorf(a.val("quiet_hours"), "alerts.quiet_hours", "bad-value", "%q is not a time range like 21:00-07:00 (24-hour clock, start and end different)", q)
				} else {
					f.push.quiet, f.push.quietFrom, f.push.quietTo = true, from, to
				}
			}
			if n, ok := a.integer("daily_cap"); ok {
				if n < 0 || n > 100 {
					d.errorf(a.val("daily_cap"), "alerts.daily_cap", "bad-value", "%d is out of range (0 to 100; 0 is no cap)", n)
				} else {
					f.push.dailyCap = n
				}
			}
			if a.has("digest_at") {
				v := a.str("digest_at")
				if m, ok := clock(v); ok {
					f.push.digest, f.push.digestAt = true, m
				} else {
					d.errorf(a.val("digest_at"), "alerts.digest_at", "bad-value", "%q is not a time like 07:00 (24-hour clock)", v)
				}
			}
		}
	}
	if s.has("messages") {
		ms, ok := d.mapping(s.val("messages"), "messages", nil)
		if ok {
			f.push.messages = map[string]text{}
			c.freeVars = true
			for _, name := range ms.order {
				if !nodeRE.MatchString(name) {
					d.errorf(ms.keyNode(name), join("messages", name), "bad-value", "%q is not a valid message name (lower-case letters, digits and _, starting with a letter)", name)
					continue
				}
				if t := c.text(ms.val(name), join("messages", name), false); t != nil {
					f.push.messages[name] = t
				}
			}
			c.freeVars = false
		}
	}
}

func parseQuiet(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	from, ok1 := clock(a)
	to, ok2 := clock(b)
	return from, to, ok1 && ok2 && from != to
}

// smsWords decodes sms.stop_words and sms.start_words.
func (c *compiler) smsWords(sm fields) {
	d, f := c.d, c.f
	seen := map[string]string{}
	for _, key := range []string{"stop_words", "start_words"} {
		path := join("sms", key)
		for i, w := range sm.strList(key) {
			at := item(sm.val(key), i)
			up := strings.ToUpper(w)
			switch {
			case !wordRE.MatchString(up):
				d.errorf(at, index(path, i), "bad-value", "%q is not a word (1 to 20 letters or digits, no spaces)", w)
				continue
			case contains(f.Keywords, up):
				d.errorf(at, index(path, i), "duplicate", "%s is also a keyword of this service", up)
				continue
			case seen[up] != "":
				d.errorf(at, index(path, i), "duplicate", "%s is already in %s", up, seen[up])
				continue
			}
			seen[up] = path
			if f.wordAt == nil {
				f.wordAt = map[string]pos{}
			}
			f.wordAt[up] = posOf(at)
			if key == "stop_words" {
				f.StopWords = append(f.StopWords, up)
			} else {
				f.StartWords = append(f.StartWords, up)
			}
		}
	}
}

// Location returns the service's time zone (timezone:, UTC by default).
func (f *Flow) Location() *time.Location {
	if f.push.loc == nil {
		return time.UTC
	}
	return f.push.loc
}

// Quiet reports whether t falls in the service's quiet hours (in its time
// zone), and if so until when: bulk messages wait until then.
func (f *Flow) Quiet(t time.Time) (until time.Time, quiet bool) {
	p := &f.push
	if !p.quiet {
		return time.Time{}, false
	}
	lt := t.In(f.Location())
	m := lt.Hour()*60 + lt.Minute()
	in := m >= p.quietFrom && m < p.quietTo
	if p.quietFrom > p.quietTo { // over midnight, e.g. 21:00-07:00
		in = m >= p.quietFrom || m < p.quietTo
	}
	if !in {
		return time.Time{}, false
	}
	y, mo, d := lt.Date()
	until = time.Date(y, mo, d, p.quietTo/60, p.quietTo%60, 0, 0, lt.Location())
	if !until.After(lt) {
		until = time.Date(y, mo, d+1, p.quietTo/60, p.quietTo%60, 0, 0, lt.Location())
	}
	return until, true
}

// DailyCap is the most bulk messages of the service a number gets in a
// day (alerts.daily_cap); 0 means no cap.
func (f *Flow) DailyCap() int { return f.push.dailyCap }

// DigestAt is the local time of the service's daily digest (alerts.digest_at).
func (f *Flow) DigestAt() (hour, min int, ok bool) {
	if !f.push.digest {
		return 0, 0, false
	}
	return f.push.digestAt / 60, f.push.digestAt % 60, true
}

// Message renders the service's message name (messages:) in lang (or the
// default language) with vars, ready to send. ok is false when the service
// has no such message.
func (f *Flow) Message(name, lang string, vars map[string]string) (string, bool) {
	t, ok := f.push.messages[name]
	if !ok {
		return "", false
	}
	st := &State{Lang: f.Languages[f.lang(lang)], Vars: vars}
	if st.Vars == nil {
		st.Vars = map[string]string{}
	}
	env := &Env{Now: time.Now().In(f.Location())}
	return f.out(t.get(f.lang(lang)).String(f.scope(env, st))), true
}

// MessageNames lists the service's messages.
func (f *Flow) MessageNames() []string {
	out := make([]string, 0, len(f.push.messages))
	for n := range f.push.messages {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
