package smpp

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// memKV is the KV contract in memory, as the team's Redis store behaves.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *memKV) Get(_ context.Context, keys ...string) ([][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, key := range keys {
		if v, ok := k.m[key]; ok {
			out[i] = append([]byte(nil), v...)
		}
	}
	return out, nil
}

func (k *memKV) Set(_ context.Context, key string, val []byte, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if val == nil {
		delete(k.m, key) // as the team store: a nil value deletes
		return nil
	}
	k.m[key] = append([]byte(nil), val...)
	return nil
}

func (k *memKV) Swap(_ context.Context, key string, old, val []byte, _ time.Duration) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cur, ok := k.m[key]
	if (old == nil && ok) || (old != nil && (!ok || !bytes.Equal(cur, old))) {
		return false, nil
	}
	if val == nil {
		delete(k.m, key)
		return true, nil
	}
	k.m[key] = append([]byte(nil), val...)
	return true, nil
}

func storeKinds() map[string]func() StatusStore {
	return map[string]func() StatusStore{
		"memory": func() StatusStore { return NewMemoryStore(time.Hour) },
		"kv":     func() StatusStore { return NewKVStore(&memKV{m: map[string][]byte{}}, "t:", time.Hour) },
	}
}

// TestStatusStore is the contract every StatusStore meets.
func TestStatusStore(t *testing.T) {
	for name, newStore := range storeKinds() {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore()
			// An SMSC that gives ids in hex, receipts in decimal.
			const hexDec = ReceiptIDsSubmitHex
			if err := s.Sent(ctx, "m1", []string{"1F0000", "1F0001"}); err != nil {
				t.Fatal(err)
			}
			st, ok, err := s.Apply(ctx, Receipt{ID: "2031616", State: MsgDelivered, Match: hexDec}) // decimal of 0x1F0000
			if err != nil || !ok || st.Delivery() != DeliveryPending || !st.Parts[0].Receipt {
				t.Fatalf("first part: %+v %v %v", st, ok, err)
			}
			if _, ok, _ := s.Apply(ctx, Receipt{ID: "2031617", State: MsgEnroute, Match: hexDec}); !ok {
				t.Fatal("intermediate receipt not matched")
			}
			st, _, _ = s.Apply(ctx, Receipt{ID: "2031617", State: MsgDelivered, Match: hexDec})
			if st.Delivery() != DeliveryDelivered {
				t.Fatalf("both parts delivered: %+v", st)
			}
			st, _, _ = s.Apply(ctx, Receipt{ID: "1f0001", State: MsgEnroute}) // late intermediate, id as given
			if st.Parts[1].State != MsgDelivered {
				t.Error("an intermediate receipt replaced a final state")
			}

			// A receipt before Sent is kept and applied by Sent.
			if _, ok, err := s.Apply(ctx, Receipt{ID: "99", State: MsgUndeliverable, Err: "034", Match: hexDec}); ok || err != nil {
				t.Fatalf("orphan: %v %v", ok, err)
			}
			if err := s.Sent(ctx, "m2", []string{"63"}); err != nil { // 0x63 = 99
				t.Fatal(err)
			}
			st, ok, err = s.Lookup(ctx, "m2")
			if err != nil || !ok || st.Delivery() != DeliveryFailed || st.Parts[0].Err != "034" {
				t.Fatalf("orphan not applied: %+v %v %v", st, ok, err)
			}
			if _, ok, _ := s.Lookup(ctx, "nope"); ok {
				t.Error("unknown ref found")
			}
		})
	}
}

// TestStatusStoreRace applies receipts while Sent runs: none may be lost.
func TestStatusStoreRace(t *testing.T) {
	for name, newStore := range storeKinds() {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore()
			const n = 50
			var wg sync.WaitGroup
			for i := range n {
				ref, id := fmt.Sprintf("r%d", i), fmt.Sprintf("%d", 1000+i)
				wg.Go(func() {
					if err := s.Sent(ctx, ref, []string{id}); err != nil {
						t.Error(err)
					}
				})
				wg.Go(func() {
					if _, _, err := s.Apply(ctx, Receipt{ID: id, State: MsgDelivered}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			for i := range n {
				st, ok, _ := s.Lookup(ctx, fmt.Sprintf("r%d", i))
				if !ok || st.Delivery() != DeliveryDelivered {
					t.Errorf("r%d: %+v", i, st)
				}
			}
		})
	}
}

func TestDelivery(t *testing.T) {
	p := func(receipt bool, s MessageState) PartStatus { return PartStatus{Receipt: receipt, State: s} }
	tests := []struct {
		parts []PartStatus
		want  Delivery
	}{
		{nil, DeliveryPending},
		{[]PartStatus{p(false, 0)}, DeliveryPending},
		{[]PartStatus{p(true, MsgDelivered), p(true, MsgEnroute)}, DeliveryPending},
		{[]PartStatus{p(true, MsgDelivered), p(true, MsgDelivered)}, DeliveryDelivered},
		{[]PartStatus{p(true, MsgDelivered), p(true, MsgExpired)}, DeliveryFailed},
		{[]PartStatus{p(false, 0), p(true, MsgRejected)}, DeliveryFailed},
		{[]PartStatus{p(true, MsgDelivered), p(true, MsgUnknown)}, DeliveryUnknown},
	}
	for _, tt := range tests {
		if got := (MessageStatus{Parts: tt.parts}).Delivery(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.parts, got, tt.want)
		}
	}
}

// TestKVStoreOrphanKeys: an early receipt's keys are gone once it is
// applied.
func TestKVStoreOrphanKeys(t *testing.T) {
	orphans := func(kv *memKV) []string {
		kv.mu.Lock()
		defer kv.mu.Unlock()
		var ks []string
		for k := range kv.m {
			if strings.HasPrefix(k, "t:orphan:") {
				ks = append(ks, k)
			}
		}
		return ks
	}
	tests := []struct {
		name, receiptID string
		match           ReceiptIDs
		sentIDs         []string
	}{
		{"same form", "1F0000", "", []string{"1f0000"}},
		{"decimal receipt, hex id", "2031616", ReceiptIDsSubmitHex, []string{"1F0000"}},
		{"hex receipt, decimal id", "63", ReceiptIDsReceiptHex, []string{"99"}},
		{"second part", "7b", ReceiptIDsSame, []string{"1", "007B"}},
		{"either, decimal receipt, hex id", "2031616", ReceiptIDsEither, []string{"1F0000"}},
		{"either, hex receipt, decimal id", "63", ReceiptIDsEither, []string{"99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			kv := &memKV{m: map[string][]byte{}}
			s := NewKVStore(kv, "t:", time.Hour)
			if _, ok, err := s.Apply(ctx, Receipt{ID: tt.receiptID, State: MsgDelivered, Match: tt.match}); ok || err != nil {
				t.Fatalf("early receipt: %v %v", ok, err)
			}
			if ks := orphans(kv); len(ks) == 0 {
				t.Fatal("early receipt not kept")
			}
			if err := s.Sent(ctx, "m", tt.sentIDs); err != nil {
				t.Fatal(err)
			}
			st, ok, err := s.Lookup(ctx, "m")
			last := len(tt.sentIDs) - 1
			if err != nil || !ok || !st.Parts[last].Receipt || st.Parts[last].State != MsgDelivered {
				t.Fatalf("early receipt not applied: %+v %v %v", st, ok, err)
			}
			if ks := orphans(kv); len(ks) != 0 {
				t.Errorf("early receipt left after it was applied: %q", ks)
			}
		})
	}
}

// TestKVStoreSentRef: ids only, no status record; each receipt answers a
// one-part status of its own, and an early one is handed back once.
func TestKVStoreSentRef(t *testing.T) {
	tests := []struct {
		name        string
		early       bool
		receiptID   string
		match       ReceiptIDs
		wantDeliver Delivery
		state       MessageState
	}{
		{"receipt after", false, "2031616", ReceiptIDsSubmitHex, DeliveryDelivered, MsgDelivered},
		{"receipt before", true, "1F0000", ReceiptIDsSame, DeliveryFailed, MsgUndeliverable},
		{"receipt before, decimal", true, "2031616", ReceiptIDsSubmitHex, DeliveryFailed, MsgUndeliverable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			kv := &memKV{m: map[string][]byte{}}
			s := NewKVStore(kv, "t:", time.Hour)
			r := Receipt{ID: tt.receiptID, State: tt.state, Match: tt.match}
			if tt.early {
				if _, ok, err := s.Apply(ctx, r); ok || err != nil {
					t.Fatalf("early receipt: %v %v", ok, err)
				}
			}
			got, err := s.SentRef(ctx, "m", "1f0000")
			if err != nil {
				t.Fatal(err)
			}
			if tt.early {
				if got == nil || got.State != tt.state {
					t.Fatalf("early receipt handed back: %+v", got)
				}
				if again, _ := s.SentRef(ctx, "m", "1f0000"); again != nil {
					t.Error("early receipt handed back twice")
				}
			} else {
				if got != nil {
					t.Fatalf("early receipt %+v out of nowhere", got)
				}
				st, ok, err := s.Apply(ctx, r)
				if err != nil || !ok || st.Ref != "m" || st.Delivery() != tt.wantDeliver {
					t.Fatalf("apply: %+v %v %v", st, ok, err)
				}
			}
			if _, ok, _ := s.Lookup(ctx, "m"); ok {
				t.Error("a status record was written")
			}
			kv.mu.Lock()
			defer kv.mu.Unlock()
			for k := range kv.m {
				if !strings.HasPrefix(k, "t:id:") {
					t.Errorf("key %s left, want the id only", k)
				}
			}
		})
	}
}
