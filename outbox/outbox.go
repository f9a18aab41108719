// Package outbox is the gateway's durable queue of MT SMS: flows' sms
// nodes, late results, replies to MO, alerts, reminders and broadcasts. A
// message is accepted only once Redis holds it; from then on it is sent at
// least once, retried with backoff on temporary failures, dead-lettered
// with the reason on permanent ones, and taken over by another instance
// when the one sending it dies. It is a store: it must not import flows,
// ussd or a transport (the SMPP side plugs in through its Sender).
//
// It is built on Redis Streams with a consumer group: one stream per
// priority (High has a reader of its own and the workers take its
// messages first, so a dialogue reply never waits behind a broadcast) whose entries carry the text, a status hash
// per message (its state, reason, attempts and group, kept for
// Options.TTL), a ZSET of messages that are due later (retries,
// NotBefore, quiet hours) moved back into the streams by a Lua script when
// due, per-group counters and a cancel flag. Each read of the streams is
// taken, and each batch of results or receipts recorded, by one script
// call (scripts.go says why). Every key shares one hash tag, so the Lua
// scripts work on Redis Cluster.
//
// Why Streams and not asynq (measured side by side on the same Redis and
// 2-core machine; bench_test.go and testdata/asynq_compare.go.txt): asynq
// enqueues one task per round trip (about 24k/s from 8 goroutines, like
// our batches of one) where a broadcast here enqueues pages of 500 in one
// script (33-37k/s); asynq's workers took 4.5k tasks/s with a no-op
// handler, under the 5k/s the gateway must reach, where batch XREADGROUP
// with pipelined take and finish scripts did 11-14k/s; and an asynq task
// costs ~610 bytes while queued and keeps them for its retention, where a
// message here cost ~470 queued and ~220 once sent (the text is dropped)
// when that was measured (TestBytesPerQueuedMessage has today's figure).
// Streams also give what the gateway needs and asynq hides: priorities
// read strictly in order, per-group counters updated in the same step as
// the state, receipts matched by our own id, and a "sending" mark that
// counts possible duplicates after a crash.
//
// This is a leaf package: it imports the standard library, go-redis and
// msisdn (the phone-number type, itself stdlib only, so that numbers log
// masked the one way), never the gateway's other packages.
package outbox

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Priority orders the streams: High before Bulk.
type Priority uint8

// The priorities.
const (
	High Priority = iota // dialogue replies, flows' sms nodes, late results
	Bulk                 // alerts, reminders, broadcasts: consent, quiet hours and the daily cap apply
)

func (p Priority) String() string {
	if p == High {
		return "high"
	}
	return "bulk"
}

// Message is one MT SMS to queue.
type Message struct {
	ID        string // idempotency key; "" = generated. A second Enqueue of an ID is a no-op (counted in dups)
	MSISDN    string
	Text      string
	Service   string // flow id, may be ""
	Kind      string // "reply", "flow", "late", "alert", "digest", "reminder", "broadcast"
	Priority  Priority
	Group     string    // a broadcast/alert run id, "" for none: counted per group, cancellable
	NotBefore time.Time // zero = now
	NotAfter  time.Time // zero = no limit; past it the message fails with reason "expired"
}

// Sender sends one SMS. ref is the message ID: the sender keeps it with
// the SMSC's message ids so that a delivery receipt finds it
// (Queue.Receipt). *bridge.Hub is one.
type Sender interface {
	Deliver(ctx context.Context, msisdn, text, ref string) error
}

// An IDSender is a Sender that answers the SMSC's ids of the parts of a
// message it sent (in the form the SMSC's receipts will name them: see
// ReceiptFor), so that the queue itself matches the receipts: the ids are
// kept by the same script call that records the send, and a receipt that
// comes first is kept until then, so neither order loses it. It answers
// none for a message whose receipts it matches itself, and then reports
// them with Receipt.
type IDSender interface {
	Sender
	DeliverID(ctx context.Context, msisdn, text, ref string) (smscIDs []string, err error)
}

// SenderFunc is a Sender made of a function.
type SenderFunc func(ctx context.Context, msisdn, text, ref string) error

// Deliver calls f.
func (f SenderFunc) Deliver(ctx context.Context, msisdn, text, ref string) error {
	return f(ctx, msisdn, text, ref)
}

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	Consumer    string        // this instance's name in the consumer group (default hostname-pid-random)
	Workers     int           // concurrent sends (8)
	Batch       int           // entries read per XREADGROUP (100)
	Readers     int           // reads of the Bulk stream under way at once (2); High has one of its own
	ClaimIdle   time.Duration // an entry pending this long on a consumer is taken over (XAUTOCLAIM) (30s)
	MaxAttempts int           // sends of a temporarily failing message before it is dead-lettered (8)
	// Backoff is the wait before retry number attempt (1, 2, ...):
	// default 2s * 2^(attempt-1), capped at 10m, with ±20% jitter.
	Backoff func(attempt int) time.Duration
	// Temporary says whether a send error may succeed later. Default: the
	// error (or one it wraps) has a Retryable() or Temporary() method
	// returning true, as *smpp.Error does.
	Temporary func(error) bool
	// Allow is the consent check of Bulk messages, made just before each
	// send; false means the message is "suppressed". nil allows all.
	Allow func(ctx context.Context, msisdn, service string) (bool, error)
	// AllowBatch, if set, is Allow for the Bulk messages of one read at
	// once (msisdns[i] and services[i] are one question; one answer each,
	// in order), asked when they are taken rather than one by one before
	// each send. On an error every one of them is asked of Allow instead.
	AllowBatch func(ctx context.Context, msisdns, services []string) ([]bool, error)
	// Quiet says whether t is in the quiet hours of service and when they
	// end; a Bulk message due then is deferred to that time, never dropped.
	Quiet func(service string, t time.Time) (until time.Time, quiet bool)
	// DailyCap is how many Bulk messages one number gets per day (0 =
	// no cap); past it a message fails with reason "daily cap".
	DailyCap int
	// ServiceCap is how many Bulk messages of service one number gets per
	// day on top of DailyCap (0 = no cap of its own): a service's
	// alerts.daily_cap. nil: none.
	ServiceCap func(service string) int
	// Location is where the day of DailyCap starts (UTC).
	Location *time.Location
	// HourlyCap is how many High-priority "flow" and "late" SMS one number
	// may be sent per hour (0 = no cap): an Enqueue past it returns
	// ErrCapped. It stops a flow from being used to pump SMS.
	HourlyCap int
	// TTL is how long a message's status record is kept (7 days).
	TTL time.Duration
	// ReceiptTTL is how long the SMSC's id of a message an IDSender sent
	// is kept for its receipt to find it (72 hours; an SMSC may hold a
	// message for a handset that is off for days).
	ReceiptTTL time.Duration
	// Grace is how long a send in progress may go on after Run's context
	// ended (5s; negative: none). A send cut short stays pending and is
	// taken over by another instance.
	Grace time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// ErrCapped is returned by Enqueue when a number has had its HourlyCap of
// flow SMS this hour.
var ErrCapped = errors.New("outbox: per-number hourly SMS cap reached")

// The states of a message.
const (
	StateQueued     = "queued"     // waiting in a stream, or for its NotBefore or a retry
	StateDeferred   = "deferred"   // waiting for the end of quiet hours
	StateSent       = "sent"       // the SMSC accepted it
	StateDelivered  = "delivered"  // a receipt said delivered
	StateFailed     = "failed"     // not sent (Reason says why) or a receipt said it failed
	StateSuppressed = "suppressed" // the number opted out before it was sent
	StateCancelled  = "cancelled"  // its group was cancelled before it was sent
)

// Status is what the queue knows of one message.
type Status struct {
	ID, MSISDN, Service, Kind, Group, State, Reason string
	Attempts                                        int // sends tried
	Updated                                         time.Time
}

// GroupStats counts the messages of a group. Queued counts those waiting;
// Sent those the SMSC accepted (they stay counted when a receipt comes);
// Delivered and Failed come from receipts, Failed also counts messages
// dead-lettered before they were sent.
type GroupStats struct {
	Total, Queued, Sent, Delivered, Failed, Suppressed, Cancelled int64
	Stopped                                                       bool // Cancel was called
}

// Stats describes the queue as a whole.
type Stats struct {
	High, Bulk int64         // entries in each stream (waiting or being sent)
	Oldest     time.Duration // age of the oldest entry in a stream
	Delayed    int64         // waiting for a retry, NotBefore or the end of quiet hours
	Dead       int64         // dead-lettered, kept for TTL
	Resent     int64         // messages taken over while a send may have happened: possible duplicates
}

// Queue is the outbox on one Redis. Its methods are safe for concurrent
// use; Run may run in many processes at once over the same Redis.
type Queue struct {
	c        redis.UniversalClient
	o        Options
	log      *slog.Logger
	k        keys
	receipts *pipe[result] // receipts, batched
	caps     *pipe[capReq] // daily-cap checks the take did not make, batched

	handedOff func(id string) // tests: a High message was handed to the workers
}

// keys are the queue's keys, all under one hash tag.
type keys struct {
	base, high, bulk, delayed, dead, stats, msg, text, group, hour, day string
	sid, early                                                          string // receipts by SMSC id (finishScript)
	oldHigh, oldBulk                                                    string // the streams of the layout before (scripts.go)
}

const consumerGroup = "senders"

// New returns a Queue over c whose keys start with prefix.
func New(c redis.UniversalClient, prefix string, o Options) *Queue {
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randHex(3))
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Readers <= 0 {
		o.Readers = 2
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	if o.Temporary == nil {
		o.Temporary = defaultTemporary
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.TTL <= 0 {
		o.TTL = 7 * 24 * time.Hour
	}
	if o.ReceiptTTL <= 0 {
		o.ReceiptTTL = 72 * time.Hour
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := prefix + "{outbox}:"
	q := &Queue{c: c, o: o, log: o.Log.With("comp", "outbox"), k: keys{
		base: b, high: b + "q:high", bulk: b + "q:bulk", oldHigh: b + "s:high", oldBulk: b + "s:bulk", delayed: b + "delayed", dead: b + "dead",
		stats: b + "stats", msg: b + "m:", text: b + "t:", group: b + "g:", hour: b + "cap:h:", day: b + "cap:d:",
		sid: b + "x:", early: b + "o:",
	}}
	q.receipts = &pipe[result]{run: q.finishAll}
	q.caps = &pipe[capReq]{run: q.capAll}
	return q
}

func defaultBackoff(attempt int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 10*time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func defaultTemporary(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// NewID returns a new message id: 20 random hex digits.
func NewID() string { return randHex(10) }

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Messenger returns a flows.Messenger: each Send enqueues one
// High-priority message of kind, and returns once Redis holds it.
func (q *Queue) Messenger(kind string) interface {
	Send(ctx context.Context, msisdn, text string) error
} {
	return messenger{q: q, kind: kind}
}

type messenger struct {
	q    *Queue
	kind string
}

func (m messenger) Send(ctx context.Context, msisdn, text string) error {
	_, _, err := m.q.Enqueue(ctx, Message{MSISDN: msisdn, Text: text, Kind: m.kind, Priority: High})
	return err
}
