package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ussdgw/ussdgw/flows"
)

// Audience is who a broadcast goes to: exactly one of a topic's
// subscribers (of the broadcast's service), the service's users (numbers
// with a subscription of it), or a list of numbers.
type Audience struct {
	Topic        string   `json:"topic,omitempty"`
	ServiceUsers bool     `json:"service_users,omitempty"`
	Numbers      []string `json:"numbers,omitempty"`
}

// Window bounds when a broadcast's messages may go: not before Start, and
// those still unsent at End fail as "expired". Times are RFC 3339.
type Window struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// BroadcastRequest is the body of POST /api/v1/broadcasts.
type BroadcastRequest struct {
	ID       string            `json:"id,omitempty"` // idempotency: the same id starts one broadcast
	Service  string            `json:"service"`
	Audience Audience          `json:"audience"`
	Text     map[string]string `json:"text"` // language → text
	Window   *Window           `json:"window,omitempty"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Broadcast states.
const (
	stateStarting   = "starting"        // the fan-out is running
	stateFailed     = "failed_to_start" // the fan-out failed; what it queued is cancelled
	stateStarted    = "started"         // every message is queued
	stateRunning    = "running"         // shown while messages are still queued
	stateDone       = "done"            // shown when none is left queued
	stateCancelling = "cancelling"      // cancelled, some messages not yet reached
	stateCancel     = "cancelled"
)

// fanOutInFlight is how many batches of a broadcast are enqueued at once.
const fanOutInFlight = 4

// staleAfter is how long a "starting" broadcast may go without news from
// its fan-out before it counts as failed (its instance died or lost
// Redis mid-way): the next request for it cancels what was queued.
const staleAfter = time.Minute

func (s *Server) recordKey(id string) string { return s.cfg.Prefix + "api:broadcast:" + id }

// readBroadcast reads a JSON request, or an upload of numbers (text/csv,
// text/plain) with the other fields as query parameters: service, id,
// text_<lang>, start, end.
func (s *Server) readBroadcast(c echo.Context) (BroadcastRequest, numberList, []Problem, error) {
	var req BroadcastRequest
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch ct {
	case "application/json", "":
		dec := json.NewDecoder(c.Request().Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return req, numberList{}, nil, apiErr(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", s.cfg.MaxBody)
			}
			return req, numberList{}, nil, apiErr(http.StatusBadRequest, "broadcast: the body is not the expected JSON: %v", err)
		}
		if req.Audience.Numbers == nil {
			return req, numberList{}, nil, nil
		}
		if len(req.Audience.Numbers) == 0 {
			return req, numberList{}, []Problem{{Field: "audience.numbers", Error: "empty list"}}, nil
		}
		l, ps := numbersFromJSON(req.Audience.Numbers, s.cfg.Country)
		return req, l, ps, nil
	case "text/csv", "text/plain":
		q := c.QueryParams()
		req.ID, req.Service = q.Get("id"), q.Get("service")
		for k, v := range q {
			if lang, ok := strings.CutPrefix(k, "text_"); ok && len(v) > 0 {
				if req.Text == nil {
					req.Text = map[string]string{}
				}
				req.Text[lang] = v[0]
			}
		}
		if q.Get("start") != "" || q.Get("end") != "" {
			req.Window = &Window{Start: q.Get("start"), End: q.Get("end")}
		}
		l, ps, err := numbersFromText(c.Request().Body, s.cfg.Country)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return req, l, nil, apiErr(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", s.cfg.MaxBody)
			}
			return req, l, nil, apiErr(http.StatusBadRequest, "broadcast: reading the numbers: %v", err)
		}
		if len(l.numbers) == 0 && len(ps) == 0 {
			ps = append(ps, Problem{Field: "audience", Error: "empty: the upload has no numbers"})
		}
		req.Audience.Numbers = l.numbers // non-nil: the audience is numbers
		if req.Audience.Numbers == nil {
			req.Audience.Numbers = []string{}
		}
		return req, l, ps, nil
	}
	return req, numberList{}, nil, apiErr(http.StatusUnsupportedMediaType, "broadcast: send application/json, or the numbers as text/csv or text/plain")
}

// validate checks everything but the numbers (read before): the service,
// the texts, the audience and the window.
func (s *Server) validate(req *BroadcastRequest) (*flows.Flow, time.Time, time.Time, []Problem) {
	var ps []Problem
	var start, end time.Time
	if req.ID != "" && !idRE.MatchString(req.ID) {
		ps = append(ps, Problem{Field: "id", Value: req.ID, Error: "use 1 to 64 letters, digits, - or _"})
	}
	var f *flows.Flow
	set := s.cfg.Flows()
	if req.Service == "" {
		ps = append(ps, Problem{Field: "service", Error: "missing"})
	} else if ff, ok := set.Flow(req.Service); !ok {
		var ids []string
		for _, x := range set.Flows() {
			ids = append(ids, x.ID)
		}
		ps = append(ps, Problem{Field: "service", Value: req.Service, Error: fmt.Sprintf("unknown service (known: %s)", strings.Join(ids, ", "))})
	} else {
		f = ff
		ps = append(ps, checkTexts(f, req.Text)...)
	}
	a := req.Audience
	n := 0
	if a.Topic != "" {
		n++
	}
	if a.ServiceUsers {
		n++
	}
	if a.Numbers != nil {
		n++
	}
	switch {
	case n == 0:
		ps = append(ps, Problem{Field: "audience", Error: `empty: give one of {"topic": "..."}, {"service_users": true} or {"numbers": [...]}`})
	case n > 1:
		ps = append(ps, Problem{Field: "audience", Error: "give only one of topic, service_users and numbers"})
	}
	if w := req.Window; w != nil {
		now := s.cfg.Now()
		var err error
		if w.Start != "" {
			if start, err = time.Parse(time.RFC3339, w.Start); err != nil {
				ps = append(ps, Problem{Field: "window.start", Value: w.Start, Error: "not a time like 2026-11-30T08:00:00+03:00"})
			}
		}
		if w.End != "" {
			if end, err = time.Parse(time.RFC3339, w.End); err != nil {
				ps = append(ps, Problem{Field: "window.end", Value: w.End, Error: "not a time like 2026-11-30T18:00:00+03:00"})
			} else if !end.After(now) {
				ps = append(ps, Problem{Field: "window.end", Value: w.End, Error: "already past"})
			} else if !start.IsZero() && !end.After(start) {
				ps = append(ps, Problem{Field: "window.end", Value: w.End, Error: "not after the start"})
			}
		}
	}
	return f, start, end, ps
}

// BroadcastStarted is the answer of POST /api/v1/broadcasts.
type BroadcastStarted struct {
	ID              string         `json:"id"`
	State           string         `json:"state"`
	Service         string         `json:"service"`
	Recipients      int            `json:"recipients"`
	Queued          int            `json:"queued"`
	Duplicates      int            `json:"duplicates"`                 // already queued by an earlier try
	RepeatedNumbers int            `json:"repeated_numbers,omitempty"` // numbers given twice, sent once
	Languages       map[string]int `json:"languages"`
	Progress        string         `json:"progress"`
}

func (s *Server) createBroadcast(c echo.Context) error {
	ctx, cancel := contextFor(c, s.cfg.FanOutTimeout)
	defer cancel()
	req, list, numProblems, err := s.readBroadcast(c)
	if err != nil {
		return err
	}
	f, start, end, ps := s.validate(&req)
	ps = append(ps, numProblems...)
	if len(ps) > 0 {
		return invalid("invalid broadcast", ps)
	}
	if req.ID == "" {
		req.ID = "b_" + randomID()
	}
	c.Set(auditTarget, "broadcast "+req.ID)
	c.Set(auditDetail, describe(req, list))

	k := key(c)
	now := s.cfg.Now().UTC()
	rk := s.recordKey(req.ID)
	fields := map[string]any{
		"id": req.ID, "service": f.ID, "audience": describe(req, list), "by": k.ID, "by_name": k.Name,
		"created": now.Format(time.RFC3339), "heartbeat": now.Format(time.RFC3339Nano),
	}
	if !start.IsZero() {
		fields["window_start"] = start.UTC().Format(time.RFC3339)
	}
	if !end.IsZero() {
		fields["window_end"] = end.UTC().Format(time.RFC3339)
	}
	won, err := s.cfg.Redis.HSetNX(ctx, rk, "state", stateStarting).Result()
	if err != nil {
		return s.unavailable(c, "starting the broadcast", err)
	}
	if !won {
		return s.existing(c, req.ID)
	}
	pipe := s.cfg.Redis.TxPipeline()
	pipe.HSet(ctx, rk, fields)
	pipe.Expire(ctx, rk, s.cfg.RecordRetention)
	if _, err := pipe.Exec(ctx); err != nil {
		s.failed(rk, req.ID, err)
		return s.unavailable(c, "starting the broadcast", err)
	}

	out := BroadcastStarted{ID: req.ID, Service: f.ID, RepeatedNumbers: list.dups, Languages: map[string]int{}, Progress: Prefix + "/broadcasts/" + req.ID}
	// Up to fanOutInFlight batches are enqueued at a time, so that reading
	// the audience and the outbox's enqueue overlap.
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		failure error
	)
	sem := make(chan struct{}, fanOutInFlight)
	failedYet := func() error {
		mu.Lock()
		defer mu.Unlock()
		return failure
	}
	send := func(batch []recipient) error {
		if err := failedYet(); err != nil {
			return err
		}
		msgs := make([]Message, len(batch))
		for i, r := range batch {
			lang := r.lang
			if _, ok := req.Text[lang]; !ok {
				lang = f.DefaultLang
			}
			out.Languages[lang]++
			msgs[i] = Message{ID: req.ID + ":" + r.msisdn, MSISDN: r.msisdn, Text: req.Text[lang], Service: f.ID,
				Kind: "broadcast", Priority: Bulk, Group: req.ID, NotBefore: start, NotAfter: end}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, dups, err := s.cfg.Outbox.Enqueue(ctx, msgs...)
			if err == nil {
				// Counters by increments: batches finish in any order.
				pipe := s.cfg.Redis.Pipeline()
				pipe.HIncrBy(ctx, rk, "recipients", int64(len(msgs)))
				pipe.HIncrBy(ctx, rk, "queued", int64(len(msgs)-dups))
				pipe.HSet(ctx, rk, "heartbeat", s.cfg.Now().UTC().Format(time.RFC3339Nano))
				_, err = pipe.Exec(ctx)
			} else {
				err = fmt.Errorf("queueing: %w", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failure == nil {
					failure = err
				}
				return
			}
			out.Recipients += len(msgs)
			out.Queued += len(msgs) - dups
			out.Duplicates += dups
		}()
		return nil
	}
	err = s.recipients(ctx, f, req, list, send)
	wg.Wait()
	if err == nil {
		err = failedYet()
	}
	if err != nil {
		s.failed(rk, req.ID, err)
		return s.unavailable(c, "broadcast "+req.ID+" did not start (what it queued is cancelled)", err)
	}
	if out.Recipients == 0 {
		// Nothing was queued: forget the id, so that it may be used again.
		if err := s.cfg.Redis.Del(ctx, rk).Err(); err != nil {
			s.log.Warn("dropping an empty broadcast", "id", req.ID, "err", err)
		}
		what := "service " + f.ID + " has no users with a subscription"
		if req.Audience.Topic != "" {
			what = fmt.Sprintf("topic %q has no subscribers of service %s", req.Audience.Topic, f.ID)
		}
		return invalid("invalid broadcast", []Problem{{Field: "audience", Error: "empty: " + what}})
	}
	if err := s.cfg.Redis.HSet(ctx, rk, "state", stateStarted, "duplicates", out.Duplicates).Err(); err != nil {
		// Everything is queued; only the record lags. Answer 201 all the
		// same: a retry would find the messages queued (duplicates).
		s.log.Error("recording a started broadcast", "id", req.ID, "err", err)
	}
	out.State = stateStarted
	s.log.Info("broadcast started", "id", req.ID, "service", f.ID, "key", k.ID, "recipients", out.Recipients, "queued", out.Queued, "dups", out.Duplicates)
	c.Response().Header().Set(echo.HeaderLocation, out.Progress)
	return c.JSON(http.StatusCreated, out)
}

// failed cancels what a broadcast queued before its fan-out failed and
// records it as failed. When Redis is down that cannot be done now: it is
// retried in the background every quarter second (the messages queued so
// far must not go out when Redis comes back), for as long as a fan-out
// may take; past that, the record has gone stale and the next request
// for the broadcast repairs it (load).
func (s *Server) failed(rk, id string, cause error) {
	s.log.Error("broadcast failed to start", "id", id, "err", cause)
	if s.tryFail(rk, id) == nil {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		deadline := time.After(s.cfg.FanOutTimeout)
		for {
			select {
			case <-s.stop:
				return
			case <-deadline:
				s.log.Error("gave up cancelling a failed broadcast; the next request for it will", "id", id)
				return
			case <-t.C:
			}
			if s.tryFail(rk, id) == nil {
				s.log.Info("cancelled what a failed broadcast had queued", "id", id)
				return
			}
		}
	}()
}

func (s *Server) tryFail(rk, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Outbox.Cancel(ctx, id); err != nil {
		return err
	}
	if err := s.cfg.Redis.HSet(ctx, rk, "state", stateFailed, "error", "the store (Redis) failed during the fan-out").Err(); err != nil {
		s.log.Error("recording a failed broadcast", "id", id, "err", err)
	}
	return nil
}

func describe(req BroadcastRequest, l numberList) string {
	switch {
	case req.Audience.Topic != "":
		return "topic " + req.Audience.Topic
	case req.Audience.ServiceUsers:
		return "service users"
	}
	return strconv.Itoa(len(l.numbers)) + " numbers"
}

type recipient struct{ msisdn, lang string }

// recipients calls send with the broadcast's recipients, by batches.
func (s *Server) recipients(ctx context.Context, f *flows.Flow, req BroadcastRequest, l numberList, send func([]recipient) error) error {
	batch := make([]recipient, 0, s.cfg.Batch)
	// Languages of numbers come from their subscriptions of the service;
	// with one text there is nothing to choose.
	lookup := len(req.Text) > 1
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if lookup && req.Audience.Topic == "" {
			if err := s.languages(ctx, f.ID, batch); err != nil {
				return err
			}
		}
		err := send(batch)
		batch = batch[:0]
		return err
	}
	add := func(r recipient) error {
		batch = append(batch, r)
		if len(batch) >= s.cfg.Batch {
			return flush()
		}
		return nil
	}
	var err error
	switch {
	case req.Audience.Topic != "":
		err = s.cfg.Consent.Subscribers(ctx, req.Audience.Topic, func(msisdn string, sub Subscription) error {
			if sub.Service != f.ID {
				return nil
			}
			return add(recipient{msisdn, sub.Lang})
		})
	case req.Audience.ServiceUsers:
		err = s.cfg.Consent.ServiceUsers(ctx, f.ID, func(msisdn string) error { return add(recipient{msisdn: msisdn}) })
	default:
		for _, n := range l.numbers {
			if err = add(recipient{msisdn: n}); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	return flush()
}

// languages fills in each recipient's language from its subscriptions of
// service (8 lookups at a time); none: the service's default, later.
func (s *Server) languages(ctx context.Context, service string, batch []recipient) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				subs, err := s.cfg.Consent.Subscriptions(ctx, batch[i].msisdn)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				for _, sub := range subs {
					if sub.Service == service && sub.Lang != "" {
						batch[i].lang = sub.Lang
						break
					}
				}
			}
		}()
	}
	for i := range batch {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("reading languages: %w", first)
	}
	return nil
}

// record is a broadcast's record.
type record map[string]string

// load reads a broadcast's record; a "starting" one whose fan-out went
// silent is repaired first (what it queued is cancelled, it is failed).
func (s *Server) load(ctx context.Context, id string) (record, bool, error) {
	rk := s.recordKey(id)
	m, err := s.cfg.Redis.HGetAll(ctx, rk).Result()
	if err != nil {
		return nil, false, err
	}
	if len(m) == 0 {
		return nil, false, nil
	}
	if m["state"] == stateStarting {
		hb, _ := time.Parse(time.RFC3339Nano, m["heartbeat"])
		if s.cfg.Now().Sub(hb) > staleAfter {
			if err := s.cfg.Outbox.Cancel(ctx, id); err != nil {
				return nil, false, fmt.Errorf("cancelling a stale broadcast: %w", err)
			}
			m["state"], m["error"] = stateFailed, "its fan-out stopped (the instance or Redis failed)"
			if err := s.cfg.Redis.HSet(ctx, rk, "state", m["state"], "error", m["error"]).Err(); err != nil {
				return nil, false, err
			}
		}
	}
	return record(m), true, nil
}

// Progress is the answer of GET /api/v1/broadcasts/{id}: the record and
// the outbox's counts of its messages.
type Progress struct {
	ID          string `json:"id"`
	Service     string `json:"service"`
	Audience    string `json:"audience"`
	State       string `json:"state"`
	Created     string `json:"created"`
	By          string `json:"by"`
	WindowStart string `json:"window_start,omitempty"`
	WindowEnd   string `json:"window_end,omitempty"`
	Error       string `json:"error,omitempty"`
	Recipients  int64  `json:"recipients"`
	Total       int64  `json:"total"`
	Queued      int64  `json:"queued"`
	Sent        int64  `json:"sent"`
	Delivered   int64  `json:"delivered"`
	Failed      int64  `json:"failed"`
	Suppressed  int64  `json:"suppressed"`
	Cancelled   int64  `json:"cancelled"`
}

func (s *Server) progress(ctx context.Context, rec record) (Progress, error) {
	p := Progress{ID: rec["id"], Service: rec["service"], Audience: rec["audience"], State: rec["state"],
		Created: rec["created"], By: rec["by"], WindowStart: rec["window_start"], WindowEnd: rec["window_end"], Error: rec["error"]}
	p.Recipients, _ = strconv.ParseInt(rec["recipients"], 10, 64)
	g, err := s.cfg.Outbox.Group(ctx, p.ID)
	if err != nil {
		return p, err
	}
	p.Total, p.Queued, p.Sent, p.Delivered = g.Total, g.Queued, g.Sent, g.Delivered
	p.Failed, p.Suppressed, p.Cancelled = g.Failed, g.Suppressed, g.Cancelled
	if p.State == stateStarted || p.State == stateCancel {
		// A cancelled group's messages turn "cancelled" as the workers
		// reach them: until then it is cancelling.
		switch {
		case g.Stopped && g.Queued > 0:
			p.State = stateCancelling
		case g.Stopped:
			p.State = stateCancel
		case g.Queued > 0:
			p.State = stateRunning
		default:
			p.State = stateDone
		}
	}
	return p, nil
}

// existing answers a create whose id is taken: the broadcast it started
// (200), or 409 while it is starting or when it failed.
func (s *Server) existing(c echo.Context, id string) error {
	ctx := c.Request().Context()
	rec, ok, err := s.load(ctx, id)
	if err != nil {
		return s.unavailable(c, "reading the broadcast", err)
	}
	if !ok { // deleted between the claim and now (an empty audience)
		return apiErr(http.StatusConflict, "broadcast %s is being started by another request; try again", id)
	}
	switch rec["state"] {
	case stateStarting:
		return apiErr(http.StatusConflict, "broadcast %s is being started by another request; follow it at %s/broadcasts/%s", id, Prefix, id)
	case stateFailed:
		return apiErr(http.StatusConflict, "broadcast %s failed to start and was cancelled; start it again with a new id", id)
	}
	p, err := s.progress(ctx, rec)
	if err != nil {
		return s.unavailable(c, "reading the broadcast", err)
	}
	c.Response().Header().Set(echo.HeaderLocation, Prefix+"/broadcasts/"+id)
	return c.JSON(http.StatusOK, p)
}

func (s *Server) getBroadcast(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	rec, ok, err := s.load(ctx, id)
	if err != nil {
		return s.unavailable(c, "reading the broadcast", err)
	}
	if !ok {
		return apiErr(http.StatusNotFound, "no broadcast %q", id)
	}
	p, err := s.progress(ctx, rec)
	if err != nil {
		return s.unavailable(c, "reading the broadcast's progress", err)
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) cancelBroadcast(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	c.Set(auditTarget, "broadcast "+id)
	rec, ok, err := s.load(ctx, id)
	if err != nil {
		return s.unavailable(c, "reading the broadcast", err)
	}
	if !ok {
		return apiErr(http.StatusNotFound, "no broadcast %q", id)
	}
	if rec["state"] == stateFailed {
		return apiErr(http.StatusConflict, "broadcast %s did not start: nothing to cancel", id)
	}
	// Cancel even while starting: the messages queued so far stop, and
	// those the fan-out adds after are cancelled at send time (the outbox
	// checks the group).
	if err := s.cfg.Outbox.Cancel(ctx, id); err != nil {
		return s.unavailable(c, "cancelling the broadcast", err)
	}
	k := key(c)
	if err := s.cfg.Redis.HSet(ctx, s.recordKey(id), "cancelled_at", s.cfg.Now().UTC().Format(time.RFC3339), "cancelled_by", k.ID).Err(); err != nil {
		return s.unavailable(c, "recording the cancel", err)
	}
	p, err := s.progress(ctx, rec)
	if err != nil {
		return s.unavailable(c, "reading the broadcast's progress", err)
	}
	return c.JSON(http.StatusOK, p)
}
