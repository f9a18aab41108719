package smpp

import (
	"context"
	"sync"
	"time"
)

// StatusStore keeps the delivery status of sent messages, so receipts can
// be matched to them and the status queried. Implementations must be safe
// for concurrent use. A receipt may arrive before Sent is called for its
// message (the SMSC can send it the moment it answers submit_sm, while the
// sender is still waiting for other parts), so Apply keeps a receipt it
// cannot match for a while, and Sent applies such receipts.
type StatusStore interface {
	// Sent records that message ref went out as these SMSC message ids,
	// one per submit_sm, in part order.
	Sent(ctx context.Context, ref string, ids []string) error
	// Apply records a receipt. It returns the message's status after it,
	// and false when no message matches (yet). The receipt names the
	// message whose Sent id is the one r.Match makes of r.ID (exactly
	// that, but for ReceiptIDsEither): a receipt kept for later is
	// applied by the Sent of that id only.
	Apply(ctx context.Context, r Receipt) (MessageStatus, bool, error)
	// Lookup returns the status of message ref, and false if unknown.
	Lookup(ctx context.Context, ref string) (MessageStatus, bool, error)
}

// Delivery is the overall state of a message of one or more parts.
type Delivery string

// The delivery states.
const (
	DeliveryPending   Delivery = "pending"   // no final receipt for some part, none failed
	DeliveryDelivered Delivery = "delivered" // every part delivered
	DeliveryFailed    Delivery = "failed"    // some part failed for good
	DeliveryUnknown   Delivery = "unknown"   // every part final, some neither delivered nor failed
)

// MessageStatus is the delivery status of one sent message.
type MessageStatus struct {
	Ref     string       `json:"ref"`
	Parts   []PartStatus `json:"parts"`
	Updated time.Time    `json:"updated"`
}

// PartStatus is the delivery status of one submit_sm of a message.
type PartStatus struct {
	ID       string       `json:"id"`
	Receipt  bool         `json:"receipt"` // a receipt has arrived
	State    MessageState `json:"state"`
	Err      string       `json:"err,omitempty"`
	NetError []byte       `json:"net_err,omitempty"`
	Done     time.Time    `json:"done,omitzero"`
}

// Delivery sums up the parts.
func (m MessageStatus) Delivery() Delivery {
	final, delivered := 0, 0
	for _, p := range m.Parts {
		switch {
		case !p.Receipt || !p.State.Final():
		case p.State.Failed():
			return DeliveryFailed
		case p.State == MsgDelivered:
			final++
			delivered++
		default:
			final++
		}
	}
	switch {
	case len(m.Parts) == 0 || final < len(m.Parts):
		return DeliveryPending
	case delivered == len(m.Parts):
		return DeliveryDelivered
	}
	return DeliveryUnknown
}

// apply records r on part i; an intermediate state never replaces a
// final one. It reports whether anything changed.
func (m *MessageStatus) apply(i int, r Receipt, now time.Time) bool {
	if i < 0 || i >= len(m.Parts) {
		return false
	}
	p := &m.Parts[i]
	if p.Receipt && p.State.Final() && !r.State.Final() {
		return false
	}
	p.Receipt, p.State, p.Err, p.NetError, p.Done = true, r.State, r.Err, r.NetworkError, r.Done
	m.Updated = now
	return true
}

func newMessageStatus(ref string, ids []string, now time.Time) MessageStatus {
	m := MessageStatus{Ref: ref, Parts: make([]PartStatus, len(ids)), Updated: now}
	for i, id := range ids {
		m.Parts[i].ID = id
	}
	return m
}

// MemoryStore is a StatusStore in memory, for tests and single-instance
// use. Entries expire after the TTL given to NewMemoryStore.
type MemoryStore struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	msgs    map[string]memMsg
	ids     map[string]partRef // idKey → message part
	orphans map[string]memOrphan
	writes  int
}

type memMsg struct {
	st  MessageStatus
	exp time.Time
}

type partRef struct {
	Ref  string `json:"ref"`
	Part int    `json:"part"`
	Only bool   `json:"only,omitempty"` // KVStore.SentRef: no status record
}

type memOrphan struct {
	r   Receipt
	exp time.Time
}

var _ StatusStore = (*MemoryStore)(nil)

// NewMemoryStore returns a MemoryStore whose entries live for ttl.
func NewMemoryStore(ttl time.Duration) *MemoryStore {
	return &MemoryStore{ttl: ttl, now: time.Now, msgs: map[string]memMsg{}, ids: map[string]partRef{}, orphans: map[string]memOrphan{}}
}

// Sent implements StatusStore.
func (s *MemoryStore) Sent(_ context.Context, ref string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	st := newMessageStatus(ref, ids, now)
	for i, id := range ids {
		k := idKey(id)
		s.ids[k] = partRef{Ref: ref, Part: i}
		if o, ok := s.orphans[k]; ok {
			st.apply(i, o.r, now)
			s.dropOrphan(o.r)
		}
	}
	s.msgs[ref] = memMsg{st, now.Add(s.ttl)}
	return nil
}

// Apply implements StatusStore: r matches the id its Match gives it.
func (s *MemoryStore) Apply(_ context.Context, r Receipt) (MessageStatus, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	keys := r.Match.keys(r.ID)
	for _, f := range keys {
		pr, ok := s.ids[f]
		if !ok {
			continue
		}
		m, ok := s.msgs[pr.Ref]
		if !ok {
			break
		}
		m.st.apply(pr.Part, r, now)
		s.msgs[pr.Ref] = m
		return cloneStatus(m.st), true, nil
	}
	for _, f := range keys {
		s.orphans[f] = memOrphan{r, now.Add(s.ttl)}
	}
	return MessageStatus{}, false, nil
}

// Lookup implements StatusStore.
func (s *MemoryStore) Lookup(_ context.Context, ref string) (MessageStatus, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[ref]
	if !ok || s.now().After(m.exp) {
		return MessageStatus{}, false, nil
	}
	return cloneStatus(m.st), true, nil
}

func (s *MemoryStore) dropOrphan(r Receipt) {
	for _, f := range r.Match.keys(r.ID) {
		delete(s.orphans, f)
	}
}

// sweep drops expired entries, at most every 256 writes.
func (s *MemoryStore) sweep(now time.Time) {
	if s.writes++; s.writes%256 != 0 {
		return
	}
	for ref, m := range s.msgs {
		if now.After(m.exp) {
			delete(s.msgs, ref)
			for _, p := range m.st.Parts {
				delete(s.ids, idKey(p.ID))
			}
		}
	}
	for k, o := range s.orphans {
		if now.After(o.exp) {
			delete(s.orphans, k)
		}
	}
}

func cloneStatus(m MessageStatus) MessageStatus {
	m.Parts = append([]PartStatus(nil), m.Parts...)
	return m
}
