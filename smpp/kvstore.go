package smpp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ussdgw/ussdgw/kv"
)

// KVStore is a StatusStore on a KV (Redis in production), so that any
// gateway instance can match a receipt that arrives on any bind. Keys:
// <prefix>msg:<ref> holds the MessageStatus as JSON; <prefix>id:<id> the
// message and part an SMSC id belongs to; <prefix>orphan:<id> a receipt
// that came before its message was recorded, until it is applied.
type KVStore struct {
	kv     kv.Store
	prefix string
	ttl    time.Duration
	now    func() time.Time
}

var _ StatusStore = (*KVStore)(nil)

// NewKVStore returns a KVStore whose keys start with prefix and live ttl.
func NewKVStore(kv kv.Store, prefix string, ttl time.Duration) *KVStore {
	return &KVStore{kv: kv, prefix: prefix, ttl: ttl, now: time.Now}
}

// casAttempts bounds the compare-and-swap loop of an update.
const casAttempts = 16

// Sent implements StatusStore. It writes the ids before it looks for
// orphans, and Apply writes an orphan before it looks again for the id, so
// a receipt racing with Sent is applied by one of them (maybe both, which
// is harmless).
func (s *KVStore) Sent(ctx context.Context, ref string, ids []string) error {
	st := newMessageStatus(ref, ids, s.now())
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("recording message %s: %w", ref, err)
	}
	if err := s.kv.Set(ctx, s.prefix+"msg:"+ref, b, s.ttl); err != nil {
		return fmt.Errorf("recording message %s: %w", ref, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		pr, _ := json.Marshal(partRef{Ref: ref, Part: i})
		if err := s.kv.Set(ctx, s.prefix+"id:"+idKey(id), pr, s.ttl); err != nil {
			return fmt.Errorf("recording message %s: %w", ref, err)
		}
		keys[i] = s.prefix + "orphan:" + idKey(id)
	}
	orphans, err := s.getEach(ctx, keys)
	if err != nil {
		return fmt.Errorf("looking for early receipts of %s: %w", ref, err)
	}
	for i, o := range orphans {
		if o == nil {
			continue
		}
		var r Receipt
		if json.Unmarshal(o, &r) != nil {
			continue
		}
		if _, err := s.update(ctx, ref, i, r); err != nil {
			return err
		}
		s.dropOrphan(ctx, r)
	}
	return nil
}

// SentRef records that message ref went out as SMSC message id, one part,
// without a status record: for a caller that keeps the message's status
// itself (the outbox), to which a receipt only needs to say which message
// it is for. Apply then answers a one-part status made of the receipt
// alone, for each receipt (an intermediate one after a final one too),
// and Lookup does not know ref. It returns a receipt that came before,
// nil if none, for the caller to apply: it is not applied here.
func (s *KVStore) SentRef(ctx context.Context, ref, id string) (*Receipt, error) {
	pr, _ := json.Marshal(partRef{Ref: ref, Only: true})
	if err := s.kv.Set(ctx, s.prefix+"id:"+idKey(id), pr, s.ttl); err != nil {
		return nil, fmt.Errorf("recording message %s: %w", ref, err)
	}
	o, err := s.kv.Get(ctx, s.prefix+"orphan:"+idKey(id))
	if err != nil {
		return nil, fmt.Errorf("looking for an early receipt of %s: %w", ref, err)
	}
	var r Receipt
	if o[0] == nil || json.Unmarshal(o[0], &r) != nil {
		return nil, nil
	}
	s.dropOrphan(ctx, r)
	return &r, nil
}

// refStatus is what Apply answers for a message recorded by SentRef.
func refStatus(ref string, r Receipt, now time.Time) MessageStatus {
	st := newMessageStatus(ref, []string{r.ID}, now)
	st.apply(0, r, now)
	return st
}

// dropOrphan deletes an early receipt, under every key it was kept under
// (one, but for ReceiptIDsEither), once it has been applied, so that it
// does not stay for the whole TTL. A failure leaves it to expire:
// applying it again is harmless.
//
// Under ReceiptIDsEither the receipt is kept under every form of its id
// rather than one because Sent, run for every message, then reads one
// key; an early receipt is the rarer case.
func (s *KVStore) dropOrphan(ctx context.Context, r Receipt) {
	for _, f := range r.Match.keys(r.ID) {
		_ = s.kv.Set(ctx, s.prefix+"orphan:"+f, nil, 0) // a nil value deletes (kv.Store)
	}
}

// Apply implements StatusStore: r matches the id its Match gives it.
func (s *KVStore) Apply(ctx context.Context, r Receipt) (MessageStatus, bool, error) {
	st, ok, err := s.applyKnown(ctx, r)
	if err != nil || ok {
		return st, ok, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return MessageStatus{}, false, fmt.Errorf("keeping receipt %s: %w", r.ID, err)
	}
	for _, f := range r.Match.keys(r.ID) {
		if err := s.kv.Set(ctx, s.prefix+"orphan:"+f, b, s.ttl); err != nil {
			return MessageStatus{}, false, fmt.Errorf("keeping receipt %s: %w", r.ID, err)
		}
	}
	st, ok, err = s.applyKnown(ctx, r) // Sent may have run in between
	if ok {
		s.dropOrphan(ctx, r)
	}
	return st, ok, err
}

// ApplyKnown is Apply for a receipt of a message already recorded only:
// one that matches none is not kept (ok false).
func (s *KVStore) ApplyKnown(ctx context.Context, r Receipt) (MessageStatus, bool, error) {
	return s.applyKnown(ctx, r)
}

func (s *KVStore) applyKnown(ctx context.Context, r Receipt) (MessageStatus, bool, error) {
	// One key, but for ReceiptIDsEither: its forms in order, one read
	// each, until one matches; the first (the id as the receipt spells it)
	// nearly always does, so a receipt costs one read here, not one per
	// form.
	for _, f := range r.Match.keys(r.ID) {
		v, err := s.kv.Get(ctx, s.prefix+"id:"+f)
		if err != nil {
			return MessageStatus{}, false, fmt.Errorf("matching receipt %s: %w", r.ID, err)
		}
		var pr partRef
		if v[0] == nil || json.Unmarshal(v[0], &pr) != nil {
			continue
		}
		if pr.Only {
			return refStatus(pr.Ref, r, s.now()), true, nil
		}
		st, err := s.update(ctx, pr.Ref, pr.Part, r)
		return st, err == nil, err
	}
	return MessageStatus{}, false, nil
}

// getEach reads keys one by one: they are unrelated keys, which a Redis
// Cluster may hold in different slots, where one MGET of them fails.
func (s *KVStore) getEach(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := s.kv.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = v[0]
	}
	return out, nil
}

// update applies r to part i of message ref with compare-and-swap.
func (s *KVStore) update(ctx context.Context, ref string, i int, r Receipt) (MessageStatus, error) {
	key := s.prefix + "msg:" + ref
	for range casAttempts {
		vals, err := s.kv.Get(ctx, key)
		if err != nil {
			return MessageStatus{}, fmt.Errorf("updating message %s: %w", ref, err)
		}
		if len(vals) != 1 || vals[0] == nil {
			return MessageStatus{}, fmt.Errorf("updating message %s: gone", ref)
		}
		var st MessageStatus
		if err := json.Unmarshal(vals[0], &st); err != nil {
			return MessageStatus{}, fmt.Errorf("updating message %s: %w", ref, err)
		}
		if !st.apply(i, r, s.now()) {
			return st, nil
		}
		b, err := json.Marshal(st)
		if err != nil {
			return MessageStatus{}, fmt.Errorf("updating message %s: %w", ref, err)
		}
		ok, err := s.kv.Swap(ctx, key, vals[0], b, s.ttl)
		if err != nil {
			return MessageStatus{}, fmt.Errorf("updating message %s: %w", ref, err)
		}
		if ok {
			return st, nil
		}
	}
	return MessageStatus{}, fmt.Errorf("updating message %s: too much contention", ref)
}

// Lookup implements StatusStore.
func (s *KVStore) Lookup(ctx context.Context, ref string) (MessageStatus, bool, error) {
	vals, err := s.kv.Get(ctx, s.prefix+"msg:"+ref)
	if err != nil {
		return MessageStatus{}, false, fmt.Errorf("looking up message %s: %w", ref, err)
	}
	if len(vals) != 1 || vals[0] == nil {
		return MessageStatus{}, false, nil
	}
	var st MessageStatus
	if err := json.Unmarshal(vals[0], &st); err != nil {
		return MessageStatus{}, false, fmt.Errorf("looking up message %s: %w", ref, err)
	}
	return st, true, nil
}
