package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Enqueue persists msgs and returns their ids (generated where ID is "")
// and how many were already known (those are left as they are). It is all
// or nothing: one Lua script checks and writes the whole call, so either
// every message is in Redis when it returns nil, or none is. ErrCapped
// means a "flow" or "late" message would pass its number's HourlyCap.
//
// One call blocks Redis while it writes: keep calls to a few thousand
// messages (a broadcast enqueues in batches).
func (q *Queue) Enqueue(ctx context.Context, msgs ...Message) (ids []string, dups int, err error) {
	if len(msgs) == 0 {
		return nil, 0, nil
	}
	now := q.o.Now()
	ids = make([]string, len(msgs))
	keys := make([]string, 3, 3+4*len(msgs))
	keys[0], keys[1], keys[2] = q.k.high, q.k.bulk, q.k.delayed
	args := make([]any, 4, 4+10*len(msgs))
	args[0], args[1], args[2], args[3] = now.UnixMilli(), int64(q.o.TTL/time.Second), q.o.HourlyCap, len(msgs)
	hour := now.UTC().Format("2006010215")
	for i, m := range msgs {
		if err := m.check(); err != nil {
			return nil, 0, fmt.Errorf("enqueueing message %d: %w", i+1, err)
		}
		id := m.ID
		if id == "" {
			id = NewID()
		}
		ids[i] = id
		pri := "h"
		if m.Priority == Bulk {
			pri = "b"
		}
		capped := q.o.HourlyCap > 0 && m.Priority == High && (m.Kind == "flow" || m.Kind == "late")
		capKey, groupKey := q.k.msg+id, q.k.msg+id // placeholders keep KEYS aligned
		if capped {
			capKey = q.k.hour + m.MSISDN + ":" + hour
		}
		if m.Group != "" {
			groupKey = q.k.group + m.Group
		}
		keys = append(keys, q.k.msg+id, capKey, groupKey, q.k.text+id)
		var nb, na int64
		if !m.NotBefore.IsZero() {
			nb = m.NotBefore.UnixMilli()
		}
		if !m.NotAfter.IsZero() {
			na = m.NotAfter.UnixMilli()
		}
		args = append(args, id, m.MSISDN, m.Text, m.Service, m.Kind, pri, m.Group, nb, na, b2s(capped))
	}
	res, err := enqueueScript.Run(ctx, q.c, keys, args...).Int64Slice()
	if err != nil {
		if strings.HasPrefix(err.Error(), "CAPPED") {
			return nil, 0, ErrCapped
		}
		return nil, 0, fmt.Errorf("enqueueing %d messages: %w", len(msgs), err)
	}
	for _, d := range res {
		dups += int(d)
	}
	return ids, dups, nil
}

func (m *Message) check() error {
	switch {
	case m.MSISDN == "":
		return errors.New("no msisdn")
	case m.Text == "":
		return errors.New("empty text")
	case m.Priority > Bulk:
		return fmt.Errorf("unknown priority %d", m.Priority)
	case strings.ContainsAny(m.ID, "{}"):
		return errors.New("an id must not contain { or }")
	}
	return nil
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Status returns what the queue knows of message id; false when it is
// unknown or its record expired.
func (q *Queue) Status(ctx context.Context, id string) (Status, bool, error) {
	h, err := q.c.HGetAll(ctx, q.k.msg+id).Result()
	if err != nil {
		return Status{}, false, fmt.Errorf("reading status of %s: %w", id, err)
	}
	if len(h) == 0 {
		return Status{}, false, nil
	}
	return toStatus(id, h), true, nil
}

func toStatus(id string, h map[string]string) Status {
	at, _ := strconv.Atoi(h["at"])
	up, _ := strconv.ParseInt(h["up"], 10, 64)
	return Status{ID: id, MSISDN: h["to"], Service: h["sv"], Kind: h["kd"], Group: h["gr"], State: h["st"],
		Reason: h["rs"], Attempts: at, Updated: time.UnixMilli(up)}
}

// Receipt applies a delivery receipt to the message sent under ref (its
// id): it becomes delivered or failed (with reason) and its group counts
// it. A receipt for an unknown or already final message changes nothing.
func (q *Queue) Receipt(ctx context.Context, ref string, delivered bool, reason string) error {
	to := StateFailed
	if delivered {
		to, reason = StateDelivered, ""
	}
	if _, err := q.receipts.do(ctx, result{id: ref, to: to, reason: reason, receipt: true}); err != nil {
		return fmt.Errorf("recording receipt of %s: %w", ref, err)
	}
	return nil
}

// earlyReceiptTTL is how long a receipt that names an SMSC id no message
// has yet is kept for the send that brings the id. A send is recorded
// within seconds of its submit_sm_resp; a receipt of a message the queue
// did not send (one of several parts, which its sender matches itself)
// is kept this long for nothing.
const earlyReceiptTTL = time.Hour

// ReceiptFor applies a delivery receipt to the message that an IDSender
// sent with a part the SMSC knows by one of smscIDs (the forms of the
// receipt's id, tried in order): the part is delivered or failed (with
// reason); a message of several parts is delivered once each is, failed
// by the first that failed; its group counts it. known is false when no
// message has any of those ids (yet): the receipt is kept under the first
// for earlyReceiptTTL and applied when the send that brings the id is
// recorded. A receipt for a message already final changes nothing.
func (q *Queue) ReceiptFor(ctx context.Context, smscIDs []string, delivered bool, reason string) (known bool, err error) {
	if len(smscIDs) == 0 {
		return false, errors.New("recording a receipt: no SMSC id")
	}
	to := StateFailed
	if delivered {
		to, reason = StateDelivered, ""
	}
	v, err := q.receipts.do(ctx, result{sids: smscIDs, to: to, reason: reason, receipt: true})
	if err != nil {
		return false, fmt.Errorf("recording receipt of SMSC id %s: %w", smscIDs[0], err)
	}
	return v >= 0, nil
}

// Cancel stops a group: its messages not sent yet fail with state
// "cancelled" when their turn comes (deferred ones when their time comes).
func (q *Queue) Cancel(ctx context.Context, group string) error {
	k := q.k.group + group
	_, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "stopped", 1)
		p.Expire(ctx, k, q.o.TTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cancelling group %s: %w", group, err)
	}
	return nil
}

// Group returns the counters of a group.
func (q *Queue) Group(ctx context.Context, group string) (GroupStats, error) {
	h, err := q.c.HGetAll(ctx, q.k.group+group).Result()
	if err != nil {
		return GroupStats{}, fmt.Errorf("reading group %s: %w", group, err)
	}
	n := func(f string) int64 { v, _ := strconv.ParseInt(h[f], 10, 64); return v }
	return GroupStats{Total: n("total"), Queued: n("queued"), Sent: n(StateSent), Delivered: n(StateDelivered),
		Failed: n(StateFailed), Suppressed: n(StateSuppressed), Cancelled: n(StateCancelled), Stopped: h["stopped"] != ""}, nil
}

// Dead returns up to max dead-lettered messages, newest first.
func (q *Queue) Dead(ctx context.Context, max int) ([]Status, error) {
	if max <= 0 {
		return nil, nil
	}
	ids, err := q.c.ZRevRange(ctx, q.k.dead, 0, int64(max-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, q.k.msg+id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	out := make([]Status, 0, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, toStatus(ids[i], h))
		}
	}
	return out, nil
}

// ErrNotDead is returned by Resend for an id that is not a dead letter.
var ErrNotDead = errors.New("outbox: no such dead letter")

// Resend queues dead letter id again, as if new: no sends tried, its
// group counting it queued instead of failed. It goes through the same
// checks as any message (consent, quiet hours and the daily cap for a
// Bulk one; a NotAfter that has passed fails it again). ErrNotDead: id
// is unknown, expired, or not dead-lettered.
func (q *Queue) Resend(ctx context.Context, id string) error {
	n, err := resendScript.Run(ctx, q.c, []string{q.k.msg + id, q.k.dead, q.k.text + id, q.k.high, q.k.bulk},
		id, q.o.Now().UnixMilli(), q.k.group).Int()
	switch {
	case err != nil:
		return fmt.Errorf("resending %s: %w", id, err)
	case n == 0:
		return ErrNotDead
	case n < 0:
		return fmt.Errorf("resending %s: its text is gone", id)
	}
	return nil
}

// Stats describes the queue now.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	streams := q.k.streams()
	lens := make([]*redis.IntCmd, len(streams))
	firsts := make([]*redis.XMessageSliceCmd, len(streams))
	var dl, dd *redis.IntCmd
	var rs *redis.StringCmd
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range streams {
			lens[i], firsts[i] = p.XLen(ctx, st), p.XRangeN(ctx, st, "-", "+", 1)
		}
		dl, dd = p.ZCard(ctx, q.k.delayed), p.ZCard(ctx, q.k.dead)
		rs = p.HGet(ctx, q.k.stats, "resent")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, fmt.Errorf("reading queue stats: %w", err)
	}
	s := Stats{High: lens[0].Val() + lens[1].Val(), Bulk: lens[2].Val() + lens[3].Val(), Delayed: dl.Val(), Dead: dd.Val()}
	s.Resent, _ = strconv.ParseInt(rs.Val(), 10, 64)
	now := q.o.Now()
	for _, c := range firsts {
		if v := c.Val(); len(v) > 0 {
			if t, ok := entryTime(v[0].ID); ok {
				s.Oldest = max(s.Oldest, now.Sub(t))
			}
		}
	}
	return s, nil
}

// entryTime reads the time out of a stream entry id ("<ms>-<seq>").
func entryTime(id string) (time.Time, bool) {
	msPart, _, _ := strings.Cut(id, "-")
	v, err := strconv.ParseInt(msPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(v), true
}
