package smpp

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestEarlyReceiptNotAppliedToAnotherReading is the bug a 100,000-message
// load run found (2% of receipts lost): an SMSC with sequential decimal
// ids sends the receipt for 38806 before the gateway has recorded 38806;
// 38806 read in decimal and written in hex is 9796, an older message's
// id. Under the default convention the receipt must be kept for 38806,
// not applied to 9796, and applied to 38806 once it is recorded.
func TestEarlyReceiptNotAppliedToAnotherReading(t *testing.T) {
	for name, newStore := range storeKinds() {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore()
			if err := s.Sent(ctx, "older", []string{"9796"}); err != nil {
				t.Fatal(err)
			}
			early := Receipt{ID: "38806", State: MsgUndeliverable, Err: "034"} // Match empty: the default
			if st, ok, err := s.Apply(ctx, early); ok || err != nil {
				t.Fatalf("the receipt for 38806 matched %q before 38806 was recorded (%v)", st.Ref, err)
			}
			if st, _, _ := s.Lookup(ctx, "older"); st.Parts[0].Receipt {
				t.Fatalf("the receipt for 38806 was applied to the message of id 9796: %+v", st)
			}
			if err := s.Sent(ctx, "right", []string{"38806"}); err != nil {
				t.Fatal(err)
			}
			st, ok, err := s.Lookup(ctx, "right")
			if err != nil || !ok || st.Delivery() != DeliveryFailed || st.Parts[0].Err != "034" {
				t.Fatalf("the early receipt was not applied to its message: %+v %v %v", st, ok, err)
			}
			if st, _, _ := s.Lookup(ctx, "older"); st.Parts[0].Receipt {
				t.Errorf("the message of id 9796 got a receipt: %+v", st)
			}
			// Its own receipt still reaches the older message.
			st, ok, err = s.Apply(ctx, Receipt{ID: "9796", State: MsgDelivered})
			if err != nil || !ok || st.Ref != "older" || st.Delivery() != DeliveryDelivered {
				t.Errorf("the older message's own receipt: %+v %v %v", st, ok, err)
			}
		})
	}
}

// TestEarlyReceiptNotAppliedToAnotherReadingRefOnly: the same through
// KVStore.SentRef, the Hub's path for the outbox's messages, where the
// load run lost its receipts.
func TestEarlyReceiptNotAppliedToAnotherReadingRefOnly(t *testing.T) {
	ctx := t.Context()
	s := NewKVStore(&memKV{m: map[string][]byte{}}, "t:", time.Hour)
	if r, err := s.SentRef(ctx, "older", "9796"); r != nil || err != nil {
		t.Fatalf("older: %+v %v", r, err)
	}
	if st, ok, err := s.Apply(ctx, Receipt{ID: "38806", State: MsgDelivered}); ok || err != nil {
		t.Fatalf("the receipt for 38806 matched %q before 38806 was recorded (%v)", st.Ref, err)
	}
	r, err := s.SentRef(ctx, "right", "38806")
	if err != nil || r == nil || r.ID != "38806" || r.State != MsgDelivered {
		t.Fatalf("the early receipt was not handed back for its message: %+v %v", r, err)
	}
}

// receiptIDCases is each convention's matching: does a receipt whose id
// is receipt name the message whose submit_sm_resp gave sent?
var receiptIDCases = []struct {
	mode          ReceiptIDs
	sent, receipt string
	match         bool
}{
	{"", "38806", "38806", true}, // empty is same
	{"", "9796", "38806", false},
	{ReceiptIDsSame, "2031616", "2031616", true},
	{ReceiptIDsSame, "1F0000", "1f0000", true},       // case
	{ReceiptIDsSame, "00001f0000", "1F0000", true},   // leading zeros
	{ReceiptIDsSame, "0", "000", true},               // zero
	{ReceiptIDsSame, "abc-123", "ABC-123", true},     // opaque ids: case only
	{ReceiptIDsSame, "1F0000", "2031616", false},     // no hex reading
	{ReceiptIDsSame, "2031616", "1F0000", false},     // nor decimal
	{ReceiptIDsSame, "9796", "38806", false},         // the load run's loss
	{ReceiptIDsSame, "231430", "38806", false},       // 0x38806
	{ReceiptIDsSubmitHex, "1F0000", "2031616", true}, // hex resp, decimal receipt
	{ReceiptIDsSubmitHex, "1f0000", "0002031616", true},
	{ReceiptIDsSubmitHex, "9796", "38806", true},   // 0x9796 = 38806
	{ReceiptIDsSubmitHex, "38806", "38806", false}, // resp 0x38806 is 231430
	{ReceiptIDsSubmitHex, "2031616", "2031616", false},
	{ReceiptIDsSubmitHex, "1F0000", "1f0000", true},   // a receipt id that is no decimal number: as written
	{ReceiptIDsSubmitHex, "msg-1", "MSG-1", true},     // opaque
	{ReceiptIDsReceiptHex, "2031616", "1F0000", true}, // decimal resp, hex receipt
	{ReceiptIDsReceiptHex, "38806", "9796", true},
	{ReceiptIDsReceiptHex, "9796", "9796", false},       // receipt 0x9796 is 38806
	{ReceiptIDsReceiptHex, "2031616", "2031616", false}, // receipt 0x2031616 is 33756694
	{ReceiptIDsReceiptHex, "abc-1", "ABC-1", true},      // opaque
	// either: today's behaviour (TestMessageIDForms), the risk included.
	{ReceiptIDsEither, "1F0000", "2031616", true},
	{ReceiptIDsEither, "2031616", "1F0000", true},
	{ReceiptIDsEither, "2031616", "1f0000", true},
	{ReceiptIDsEither, "00001f0000", "2031616", true},
	{ReceiptIDsEither, "abc-123", "ABC-123", true},
	{ReceiptIDsEither, "12345", "12345", true},
	{ReceiptIDsEither, "12345", "12346", false},
	{ReceiptIDsEither, "1F0000", "1F0001", false},
	{ReceiptIDsEither, "uuid-1", "uuid-2", false},
	{ReceiptIDsEither, "9796", "38806", true}, // the risk: two messages' ids
	{ReceiptIDsEither, "38806", "38806", true},
}

// TestReceiptIDsMatching: each convention, by Matches and in each store,
// with the receipt after the id is recorded and before.
func TestReceiptIDsMatching(t *testing.T) {
	for _, tt := range receiptIDCases {
		name := fmt.Sprintf("%s/%s~%s", tt.mode, tt.sent, tt.receipt)
		if got := tt.mode.Matches(tt.sent, tt.receipt); got != tt.match {
			t.Errorf("%s: Matches = %v", name, got)
		}
		if tt.mode == ReceiptIDsEither {
			if got := SameMessageID(tt.sent, tt.receipt); got != tt.match {
				t.Errorf("%s: SameMessageID = %v", name, got)
			}
		}
		for kind, newStore := range storeKinds() {
			ctx := t.Context()
			r := Receipt{ID: tt.receipt, State: MsgDelivered, Match: tt.mode}

			after := newStore()
			if err := after.Sent(ctx, "m", []string{tt.sent}); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := after.Apply(ctx, r); ok != tt.match || err != nil {
				t.Errorf("%s, %s, receipt after: matched %v (%v)", name, kind, ok, err)
			}

			before := newStore()
			if _, ok, err := before.Apply(ctx, r); ok || err != nil {
				t.Fatalf("%s, %s, receipt before: matched nothing recorded (%v)", name, kind, err)
			}
			if err := before.Sent(ctx, "m", []string{tt.sent}); err != nil {
				t.Fatal(err)
			}
			if st, _, _ := before.Lookup(ctx, "m"); st.Parts[0].Receipt != tt.match {
				t.Errorf("%s, %s, receipt before: applied %v", name, kind, st.Parts[0].Receipt)
			}
		}
		ref := NewKVStore(&memKV{m: map[string][]byte{}}, "t:", time.Hour)
		if _, _, err := ref.Apply(t.Context(), Receipt{ID: tt.receipt, State: MsgDelivered, Match: tt.mode}); err != nil {
			t.Fatal(err)
		}
		if got, err := ref.SentRef(t.Context(), "m", tt.sent); (got != nil) != tt.match || err != nil {
			t.Errorf("%s, SentRef, receipt before: handed back %+v (%v)", name, got, err)
		}
	}
}

// TestReceiptsUseTheBindsSetting: the Receipts handler matches a receipt
// by the receipt_ids of the Client it came on.
func TestReceiptsUseTheBindsSetting(t *testing.T) {
	for _, tt := range []struct {
		mode          ReceiptIDs
		sent, receipt string
	}{
		{ReceiptIDsSame, "38806", "38806"},
		{ReceiptIDsSubmitHex, "1F0000", "2031616"},
		{ReceiptIDsReceiptHex, "2031616", "1F0000"},
		{ReceiptIDsEither, "1F0000", "2031616"},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			cfg := testConfig("127.0.0.1:1")
			cfg.ReceiptIDs = tt.mode
			store := NewMemoryStore(time.Hour)
			c, err := New(cfg, nil, WithStatusStore(store))
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Sent(t.Context(), "m", []string{tt.sent}); err != nil {
				t.Fatal(err)
			}
			var got []Receipt
			h := Receipts(store, func(_ context.Context, r Receipt, _ MessageStatus) { got = append(got, r) }, nil)
			in := &Inbound{ESMClass: 0x04, Client: c, ShortMessage: []byte("id:" + tt.receipt +
				" sub:001 dlvrd:001 submit date:2401021504 done date:2401021506 stat:DELIVRD err:000 text:x")}
			if s := h.HandleInbound(t.Context(), in); s != StatusOK {
				t.Fatalf("status %s", s)
			}
			st, _, _ := store.Lookup(t.Context(), "m")
			if len(got) != 1 || got[0].Match != tt.mode || st.Delivery() != DeliveryDelivered {
				t.Errorf("receipt %q for id %q: %+v, status %+v", tt.receipt, tt.sent, got, st)
			}
		})
	}
}
