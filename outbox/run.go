package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/msisdn"
)

// task is one stream entry taken for sending.
type task struct {
	stream, entry, id string
	f                 map[string]string // the status hash, nil when the record is gone
	consent           int8              // AllowBatch's answer: 1 allowed, -1 opted out, 0 not asked
	to, sv            string            // a Bulk entry's number and service, "" when it has none
	text              string            // the entry's text, "" when it has none (read from t:<id>)
	quiet             bool              // the entry's service was in quiet hours when taken
	until             time.Time         // and they end then
}

// result is what became of a task (or a receipt).
type result struct {
	stream, entry, id string
	pri               string // "h" or "b": the delayed member's letter
	to, reason        string
	due               time.Time // for queued/deferred
	attempts          int       // sends to add
	dead, receipt     bool
	ackOnly           bool     // nothing to record: the message is done or gone
	sids              []string // the SMSC's ids of a sent message's parts; a receipt by SMSC id: its id's forms
	text              string   // to keep in t:<id> (a retry, a dead letter)
	dropText          bool     // t:<id> holds the text: drop it once the message is done
}

// runner is one Run: its reader, reclaimer, mover, workers and finisher.
type runner struct {
	q      *Queue
	s      Sender
	send   context.Context // for sends: outlives Run's ctx by Grace
	high   chan task       // High messages to send: the workers take these first
	bulk   chan task       // Bulk ones
	done   chan result
	mu     sync.Mutex
	active map[string]bool // "stream entry-id" of this runner's entries not finished yet
}

// Run sends queued messages through s until ctx ends: it reads High
// before Bulk, takes over entries left pending by dead consumers, moves
// due retries and deferrals back, and records each result before it
// acknowledges the entry. When ctx ends it stops reading; sends under way
// get Options.Grace to finish and their results are recorded; entries not
// sent stay pending for another instance (or the next Run) to take over.
// It returns ctx's error, or an error when Redis refuses to set up.
func (q *Queue) Run(ctx context.Context, s Sender) error {
	for _, st := range q.k.streams() {
		err := q.c.XGroupCreateMkStream(ctx, st, consumerGroup, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("creating consumer group on %s: %w", st, err)
		}
	}
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	go func() {
		<-ctx.Done()
		if q.o.Grace > 0 {
			t := time.NewTimer(q.o.Grace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-sendCtx.Done():
			}
		}
		cancelSends()
	}()
	r := &runner{q: q, s: s, send: sendCtx, high: make(chan task, q.o.Workers), bulk: make(chan task, q.o.Workers), done: make(chan result, 4*q.o.Batch),
		active: map[string]bool{}}
	var feeders, workers sync.WaitGroup
	feeders.Go(func() { r.read(ctx, q.k.high, q.k.oldHigh) })
	for range q.o.Readers {
		feeders.Go(func() { r.read(ctx, q.k.bulk, q.k.oldBulk) })
	}
	feeders.Go(func() { r.reclaim(ctx) })
	feeders.Go(func() { r.lease(ctx) })
	feeders.Go(func() { r.move(ctx) })
	for range q.o.Workers {
		workers.Go(func() { r.worker(ctx) })
	}
	finished := make(chan struct{})
	go func() { r.finisher(); close(finished) }()
	feeders.Wait()
	workers.Wait()
	close(r.done)
	<-finished
	return ctx.Err()
}

// streams are the streams read, High first: this layout's and the one's
// before (scripts.go).
func (k keys) streams() []string { return []string{k.high, k.oldHigh, k.bulk, k.oldBulk} }

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// read takes new entries from streams (High's, or Bulk's) as they come.
// High has a reader of its own, so that a dialogue reply is read at once
// even while every Bulk reader waits for the workers to take its batch;
// the workers take High messages first.
func (r *runner) read(ctx context.Context, streams ...string) {
	q := r.q
	args := append(streams, ">", ">")
	for ctx.Err() == nil {
		got, err := r.readOnce(ctx, args, 200*time.Millisecond)
		if err != nil {
			if ctx.Err() == nil {
				q.log.Warn("reading the queue", "err", err)
				pause(ctx, time.Second)
			}
			continue
		}
		r.dispatch(ctx, got)
	}
}

func (r *runner) readOnce(ctx context.Context, streams []string, block time.Duration) ([]redis.XStream, error) {
	q := r.q
	res, err := q.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: consumerGroup, Consumer: q.o.Consumer,
		Streams: streams, Count: int64(q.o.Batch), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n := 0
	for _, s := range res {
		n += len(s.Messages)
	}
	if n == 0 {
		return nil, nil
	}
	return res, nil
}

// dispatch takes the entries (one pipeline of take scripts) and hands
// them to the workers; entries whose message is done or gone are only
// acknowledged.
func (r *runner) dispatch(ctx context.Context, streams []redis.XStream) {
	q := r.q
	var tasks []task
	for _, s := range streams {
		for _, m := range s.Messages {
			id, _ := m.Values["i"].(string)
			to, _ := m.Values["t"].(string)
			sv, _ := m.Values["s"].(string)
			x, _ := m.Values["x"].(string)
			if r.claim(s.Stream + " " + m.ID) {
				tasks = append(tasks, task{stream: s.Stream, entry: m.ID, id: id, to: to, sv: sv, text: x})
			}
		}
	}
	if len(tasks) == 0 {
		return
	}
	// Bulk entries that name their number and service: quiet hours and
	// consent first, so that the take counts the daily cap of those that
	// are to go.
	now := q.o.Now()
	var early []task
	for i := range tasks {
		t := &tasks[i]
		if t.to == "" {
			continue
		}
		if q.o.Quiet != nil {
			t.until, t.quiet = q.o.Quiet(t.sv, now)
		}
		if !t.quiet {
			early = append(early, *t)
		}
	}
	r.askConsent(ctx, early, func(t task) (string, string) { return t.to, t.sv })
	consent := make(map[string]int8, len(early))
	for _, t := range early {
		consent[t.stream+" "+t.entry] = t.consent
	}
	day := now.In(q.o.Location).Format("20060102")
	keys := make([]string, 2, 2+2*len(tasks))
	keys[0], keys[1] = q.k.stats, q.k.day+day
	args := make([]any, 6, 6+3*len(tasks))
	args[0], args[1], args[2], args[3], args[4], args[5] = ms(now), q.k.group, day, q.o.DailyCap, 48*3600, len(tasks)
	for i := range tasks {
		t := &tasks[i]
		t.consent = consent[t.stream+" "+t.entry]
		svCap := 0
		if q.o.ServiceCap != nil && t.to != "" {
			svCap = q.o.ServiceCap(t.sv)
		}
		count := t.to != "" && !t.quiet && (t.consent > 0 || q.o.Allow == nil && q.o.AllowBatch == nil) && (q.o.DailyCap > 0 || svCap > 0)
		keys = append(keys, q.k.msg+t.id, q.k.text+t.id)
		args = append(args, b2s(t.text == ""), b2s(count), svCap)
	}
	var taken []any
	cmds, err := q.evalPipelined(ctx, takeScript, []scriptCall{{keys, args}})
	if err == nil {
		taken, err = cmds[0].Slice()
	}
	if err == nil && len(taken) != len(tasks) {
		err = fmt.Errorf("%d answers for %d messages", len(taken), len(tasks))
	}
	if err != nil {
		// Not taken: they stay pending and are taken over after ClaimIdle.
		q.log.Warn("taking messages", "count", len(tasks), "err", err)
		for _, t := range tasks {
			r.release(t.stream + " " + t.entry)
		}
		return
	}
	var send []task
	for i := range tasks {
		t := tasks[i]
		h, ok := taken[i].([]any)
		if !ok { // record expired or gone
			r.done <- result{stream: t.stream, entry: t.entry, id: t.id, ackOnly: true}
			continue
		}
		t.f = pairs(h)
		if st := t.f["st"]; st != StateQueued && st != StateDeferred {
			r.done <- result{stream: t.stream, entry: t.entry, id: t.id, ackOnly: true}
			continue
		}
		if t.text != "" {
			t.f["tx"] = t.text
		}
		send = append(send, t)
	}
	// The others (taken over, or moved back from the delayed set) now
	// that their record is read.
	var late []int
	for i, t := range send {
		if t.to == "" && t.f["pr"] == "b" && t.f["stopped"] == "" {
			late = append(late, i)
		}
	}
	if len(late) > 0 {
		sub := make([]task, len(late))
		for j, i := range late {
			sub[j] = send[i]
		}
		r.askConsent(ctx, sub, func(t task) (string, string) { return t.f["to"], t.f["sv"] })
		for j, i := range late {
			send[i].consent = sub[j].consent
		}
	}
	for i, t := range send {
		work := r.bulk
		if t.f["pr"] != "b" {
			work = r.high
		}
		select {
		case work <- t:
			if work == r.high && q.handedOff != nil {
				q.handedOff(t.id)
			}
		case <-ctx.Done():
			for _, t := range send[i:] {
				r.release(t.stream + " " + t.entry) // left pending, marked: a later taker counts them as possibly sent
			}
			return
		}
	}
}

// askConsent asks Options.AllowBatch about the Bulk messages tasks (one
// round trip instead of one per message; of tells a task's number and
// service) and notes the answers on them; on an error, or without
// AllowBatch, process asks Allow.
func (r *runner) askConsent(ctx context.Context, tasks []task, of func(task) (msisdn, service string)) {
	q := r.q
	if q.o.AllowBatch == nil || len(tasks) == 0 {
		return
	}
	msisdns, services := make([]string, len(tasks)), make([]string, len(tasks))
	for i, t := range tasks {
		msisdns[i], services[i] = of(t)
	}
	ok, err := q.o.AllowBatch(ctx, msisdns, services)
	if err != nil || len(ok) != len(tasks) {
		q.log.Debug("consent checks of a batch; asking one by one", "count", len(tasks), "err", err)
		return
	}
	for i := range tasks {
		tasks[i].consent = -1
		if ok[i] {
			tasks[i].consent = 1
		}
	}
}

func isNoScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }

// claim notes an entry as this runner's; false when it already is (the
// reclaimer found one of our own slow entries).
func (r *runner) claim(entry string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[entry] {
		return false
	}
	r.active[entry] = true
	return true
}

func (r *runner) release(entry string) {
	r.mu.Lock()
	delete(r.active, entry)
	r.mu.Unlock()
}

func pairs(v any) map[string]string {
	a, _ := v.([]any)
	f := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, _ := a[i].(string)
		s, _ := a[i+1].(string)
		f[k] = s
	}
	return f
}

// reclaim takes over entries pending on any consumer for longer than
// ClaimIdle: their consumer died, or is stuck.
func (r *runner) reclaim(ctx context.Context) {
	q := r.q
	every := max(q.o.ClaimIdle/4, 50*time.Millisecond)
	for {
		pause(ctx, every)
		if ctx.Err() != nil {
			return
		}
		for _, st := range q.k.streams() {
			start := "0-0"
			for ctx.Err() == nil {
				msgs, next, err := q.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: st, Group: consumerGroup,
					Consumer: q.o.Consumer, MinIdle: q.o.ClaimIdle, Start: start, Count: int64(q.o.Batch)}).Result()
				if err != nil {
					if ctx.Err() == nil {
						q.log.Warn("taking over pending messages", "err", err)
					}
					break
				}
				if len(msgs) > 0 {
					q.log.Info("taking over messages of a stopped sender", "stream", st, "count", len(msgs))
					r.dispatch(ctx, []redis.XStream{{Stream: st, Messages: msgs}})
				}
				if next == "0-0" || next == "" {
					break
				}
				start = next
			}
		}
	}
}

// lease keeps this runner's entries from being taken over while it is
// alive: every ClaimIdle/3 it claims them again for itself, which resets
// their idle time. Entries it holds wait for a worker, and a worker's send
// may wait for a bind to come back, for longer than ClaimIdle; only a
// runner that stopped (its process died) lets them go idle.
func (r *runner) lease(ctx context.Context) {
	q := r.q
	every := max(q.o.ClaimIdle/3, 20*time.Millisecond)
	for {
		pause(ctx, every)
		if ctx.Err() != nil {
			return
		}
		byStream := map[string][]string{}
		r.mu.Lock()
		for k := range r.active {
			stream, entry, _ := strings.Cut(k, " ")
			byStream[stream] = append(byStream[stream], entry)
		}
		r.mu.Unlock()
		for stream, entries := range byStream {
			err := q.c.XClaimJustID(ctx, &redis.XClaimArgs{Stream: stream, Group: consumerGroup, Consumer: q.o.Consumer,
				MinIdle: 0, Messages: entries}).Err()
			if err != nil && ctx.Err() == nil {
				q.log.Warn("renewing the lease of messages being sent", "err", err)
			}
		}
	}
}

// move puts due retries, NotBefore and deferred messages back into their
// streams.
func (r *runner) move(ctx context.Context) {
	q := r.q
	for ctx.Err() == nil {
		n, err := moveScript.Run(ctx, q.c, []string{q.k.delayed, q.k.high, q.k.bulk}, ms(q.o.Now()), 1000, q.k.msg, q.k.text).Int()
		if err != nil && ctx.Err() == nil {
			q.log.Warn("moving due messages", "err", err)
		}
		if n < 1000 {
			pause(ctx, 100*time.Millisecond)
		}
	}
}

func (r *runner) worker(ctx context.Context) {
	for {
		var t task
		select { // a High message first, whatever waits in Bulk
		case t = <-r.high:
		default:
			select {
			case <-ctx.Done():
				return
			case t = <-r.high:
			case t = <-r.bulk:
			}
		}
		if ctx.Err() != nil {
			r.release(t.stream + " " + t.entry)
			return
		}
		if res, ok := r.process(t); ok {
			r.done <- res
		} else {
			r.release(t.stream + " " + t.entry)
		}
	}
}

// process decides and, if it is to go, sends one message. false means
// nothing is to be recorded: the send was cut short by the end of Run.
func (r *runner) process(t task) (result, bool) {
	q, f := r.q, t.f
	ctx := r.send
	now := q.o.Now()
	res := result{stream: t.stream, entry: t.entry, id: t.id, pri: f["pr"], dropText: f["tk"] == "1"}
	end := func(state, reason string, dead bool) (result, bool) {
		res.to, res.reason, res.dead = state, reason, dead
		if dead {
			res.text = f["tx"]
		}
		return res, true
	}
	later := func(state, reason string, due time.Time, attempts int) (result, bool) {
		res.to, res.reason, res.due, res.attempts, res.text = state, reason, due, attempts, f["tx"]
		return res, true
	}
	if f["stopped"] != "" {
		return end(StateCancelled, "cancelled", false)
	}
	if na, _ := strconv.ParseInt(f["na"], 10, 64); na > 0 && now.UnixMilli() > na {
		return end(StateFailed, "expired", true)
	}
	if f["pr"] == "b" {
		if t.quiet {
			return later(StateDeferred, "quiet hours", t.until, 0)
		}
		if q.o.Quiet != nil && t.to == "" {
			if until, quiet := q.o.Quiet(f["sv"], now); quiet {
				return later(StateDeferred, "quiet hours", until, 0)
			}
		}
		switch {
		case t.consent < 0:
			return end(StateSuppressed, "opted out", false)
		case t.consent == 0 && q.o.Allow == nil && q.o.AllowBatch != nil:
			// AllowBatch failed and there is no Allow to ask instead.
			return later(StateQueued, "consent check failed", now.Add(q.o.Backoff(1)), 0)
		case t.consent == 0 && q.o.Allow != nil:
			ok, err := q.o.Allow(ctx, f["to"], f["sv"])
			if err != nil {
				return later(StateQueued, "consent check: "+err.Error(), now.Add(q.o.Backoff(1)), 0)
			}
			if !ok {
				return end(StateSuppressed, "opted out", false)
			}
		}
		if c, checked := f["cap"]; checked { // counted by the take
			if c != "1" {
				return end(StateFailed, "daily cap", true)
			}
		} else if ok, err := r.checkCap(ctx, t, now); err != nil {
			return later(StateQueued, "daily cap check: "+err.Error(), now.Add(q.o.Backoff(1)), 0)
		} else if !ok {
			return end(StateFailed, "daily cap", true)
		}
	}
	sids, err := safeDeliver(ctx, r.s, f["to"], f["tx"], t.id)
	if err == nil {
		res.attempts, res.sids = 1, sids
		return end(StateSent, "", false)
	}
	if ctx.Err() != nil {
		return result{}, false
	}
	attempts, _ := strconv.Atoi(f["at"])
	attempts++
	if q.o.Temporary(err) && attempts < q.o.MaxAttempts {
		q.log.Debug("send failed; will retry", "id", msisdn.Text(t.id), "to", msisdn.MSISDN(f["to"]), "attempt", attempts, "err", err)
		return later(StateQueued, err.Error(), q.o.Now().Add(q.o.Backoff(attempts)), 1)
	}
	q.log.Warn("message dead-lettered", "id", msisdn.Text(t.id), "to", msisdn.MSISDN(f["to"]), "attempts", attempts, "err", err)
	res.attempts = 1
	return end(StateFailed, err.Error(), true)
}

// checkCap counts a Bulk message the take did not count against its
// number's daily caps.
func (r *runner) checkCap(ctx context.Context, t task, now time.Time) (bool, error) {
	q, f := r.q, t.f
	svCap := 0
	if q.o.ServiceCap != nil {
		svCap = q.o.ServiceCap(f["sv"])
	}
	if q.o.DailyCap <= 0 && svCap <= 0 {
		return true, nil
	}
	day := now.In(q.o.Location).Format("20060102")
	ok, err := q.caps.do(ctx, capReq{id: t.id, to: f["to"], sv: f["sv"], day: day, svCap: svCap})
	return ok == 1, err
}

// safeDeliver calls s.DeliverID (an IDSender) or s.Deliver, turning a
// panic into an error.
func safeDeliver(ctx context.Context, s Sender, to, text, ref string) (sids []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sender panicked: %v", p)
		}
	}()
	if ids, ok := s.(IDSender); ok {
		return ids.DeliverID(ctx, to, text, ref)
	}
	return nil, s.Deliver(ctx, to, text, ref)
}

// finisher records results in batches: one pipeline of finish scripts,
// each of which also acknowledges its entry.
func (r *runner) finisher() {
	q := r.q
	batch := make([]result, 0, 4*q.o.Batch)
	for res := range r.done {
		batch = append(batch[:0], res)
	more:
		for len(batch) < cap(batch) {
			select {
			case res, ok := <-r.done:
				if !ok {
					break more
				}
				batch = append(batch, res)
			default:
				break more
			}
		}
		r.record(batch)
	}
}

func (r *runner) record(batch []result) {
	q := r.q
	ctx := context.Background()
	for try := 0; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := q.finishAll(cctx, batch)
		cancel()
		if err == nil {
			break
		}
		if try == 4 {
			// The entries stay pending and are taken over after ClaimIdle.
			q.log.Error("recording send results", "count", len(batch), "err", err)
			break
		}
		q.log.Warn("recording send results; trying again", "count", len(batch), "err", err)
		pause(ctx, time.Duration(try+1)*200*time.Millisecond)
	}
	for _, res := range batch {
		r.release(res.stream + " " + res.entry)
	}
}

// finishAll records results (and acknowledges their entries) with
// finishScript, by chunks of Options.Batch sent in one pipeline, and
// answers one value per result: 1 when it was applied.
func (q *Queue) finishAll(ctx context.Context, results []result) ([]int64, error) {
	var calls []scriptCall
	now := q.o.Now().UnixMilli()
	for from := 0; from < len(results); from += q.o.Batch {
		chunk := results[from:min(from+q.o.Batch, len(results))]
		keys := make([]string, 6, 6+2*len(chunk))
		keys[0], keys[1], keys[2], keys[3], keys[4], keys[5] = q.k.delayed, q.k.dead, q.k.high, q.k.bulk, q.k.oldHigh, q.k.oldBulk
		args := make([]any, 12, 12+12*len(chunk))
		args[0], args[1], args[2], args[3], args[4], args[5] = consumerGroup, q.k.group, now, q.o.TTL.Milliseconds(), int64(q.o.TTL/time.Second), len(chunk)
		args[6], args[7], args[8], args[9] = q.k.msg, q.k.text, q.k.sid, q.k.early
		args[10], args[11] = int64(q.o.ReceiptTTL/time.Second), int64(earlyReceiptTTL/time.Second)
		for _, res := range chunk {
			if res.id == "" { // a receipt by SMSC id: the script finds the message
				keys = append(keys, q.k.msg, q.k.text)
			} else {
				keys = append(keys, q.k.msg+res.id, q.k.text+res.id)
			}
			stream := 0
			switch res.stream {
			case q.k.high:
				stream = 1
			case q.k.bulk:
				stream = 2
			case q.k.oldHigh:
				stream = 3
			case q.k.oldBulk:
				stream = 4
			}
			if res.ackOnly {
				args = append(args, stream, res.entry, "", "", 0, "", 0, 0, 0, "", 0, "")
				continue
			}
			var due int64
			if !res.due.IsZero() {
				due = res.due.UnixMilli()
			}
			pri := res.pri
			if pri == "" {
				pri = "h"
			}
			args = append(args, stream, res.entry, res.to, res.reason, due, pri+res.id, res.attempts,
				b2s(res.dead), b2s(res.receipt), res.text, b2s(res.dropText), strings.Join(res.sids, "\x00"))
		}
		calls = append(calls, scriptCall{keys, args})
	}
	cmds, err := q.evalPipelined(ctx, finishScript, calls)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(results))
	for _, c := range cmds {
		v, err := c.Int64Slice()
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// capReq is a daily-cap check of one message (capScript).
type capReq struct {
	id, to, sv, day string
	svCap           int
}

// capAll runs capScript for each request, in one pipeline.
func (q *Queue) capAll(ctx context.Context, reqs []capReq) ([]int64, error) {
	calls := make([]scriptCall, len(reqs))
	for i, c := range reqs {
		calls[i] = scriptCall{[]string{q.k.msg + c.id, q.k.day + c.day},
			[]any{c.day, q.o.DailyCap, c.svCap, 48 * 3600, c.to, c.to + ":" + c.sv}}
	}
	cmds, err := q.evalPipelined(ctx, capScript, calls)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(cmds))
	for i, c := range cmds {
		if out[i], err = c.Int64(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scriptCall is the keys and arguments of one call of a script.
type scriptCall struct {
	keys []string
	args []any
}

// evalPipelined calls s once per call, all in one pipeline, and returns
// the commands (each with its answer or error) or the first error. Calls
// refused with NOSCRIPT (a Redis restarted or flushed its scripts) did
// not run: they go again once the script is loaded.
func (q *Queue) evalPipelined(ctx context.Context, s *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	todo := make([]int, len(calls))
	for i := range todo {
		todo[i] = i
	}
	for try := 0; len(todo) > 0; try++ {
		_, _ = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = s.EvalSha(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		}) // each command's error is looked at below
		var again []int
		for _, i := range todo {
			if err := cmds[i].Err(); isNoScript(err) && try < 2 {
				again = append(again, i)
			} else if err != nil && !errors.Is(err, redis.Nil) {
				return cmds, err
			}
		}
		if len(again) > 0 {
			if err := s.Load(ctx, q.c).Err(); err != nil {
				return cmds, fmt.Errorf("loading a script: %w", err)
			}
		}
		todo = again
	}
	return cmds, nil
}
