package smpp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNodeReceipts is the delivery receipt round trip: the SMSC answers
// submit_sm with an id in one form and sends the receipt with the id in
// the same or the other form (hex/decimal), as TLVs, text or both; with
// the bind's receipt_ids saying so (or either), the receipt must find its
// message in the store.
func TestNodeReceipts(t *testing.T) {
	smsc := startNodeSMSC(t)
	tests := []struct {
		name         string
		respID, dlID string // "hex" or "dec"
		ids          ReceiptIDs
		mode         string // tlv, text, both
		stat         string
		state        int
		text         string
		want         Delivery
	}{
		{"hex resp, decimal receipt, tlv and text", "hex", "dec", ReceiptIDsSubmitHex, "both", "DELIVRD", 2, "hello", DeliveryDelivered},
		{"decimal resp, hex receipt, text only", "dec", "hex", ReceiptIDsReceiptHex, "text", "DELIVRD", 2, "hello", DeliveryDelivered},
		{"hex both ways, tlv only", "hex", "hex", ReceiptIDsSame, "tlv", "DELIVRD", 2, "hello", DeliveryDelivered},
		{"concatenated, decimal resp, hex receipts", "dec", "hex", ReceiptIDsReceiptHex, "both", "DELIVRD", 2, strings.Repeat("long ", 80), DeliveryDelivered},
		{"undeliverable, text only", "dec", "dec", ReceiptIDsSame, "text", "UNDELIV", 5, "hello", DeliveryFailed},
		{"either, hex resp, decimal receipt", "hex", "dec", ReceiptIDsEither, "tlv", "DELIVRD", 2, "hello", DeliveryDelivered},
		{"either, decimal resp, hex receipt", "dec", "hex", ReceiptIDsEither, "text", "DELIVRD", 2, "hello", DeliveryDelivered},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore(time.Minute)
			h := Receipts(store, nil, nil)
			cfg := testConfig(smsc.addr())
			cfg.ReceiptIDs = tt.ids
			c := startClient(t, cfg, h, WithStatusStore(store))
			smsc.do(map[string]any{"cmd": "set", "id_format": tt.respID,
				"dlr": map[string]any{"mode": tt.mode, "id": tt.dlID, "stat": tt.stat, "state": tt.state}})
			ref := fmt.Sprintf("ref-%d", i)
			from := smsc.mark()
			res, err := c.Send(ctxT(t, 5*time.Second), Message{Dst: "254700000009", Text: tt.text, Ref: ref})
			if err != nil {
				t.Fatal(err)
			}
			dlrs := smsc.waitCount(from, len(res.IDs), 5*time.Second, "receipt response", func(e event) bool { return e.Str("tag") == "dlr" })
			for j, d := range dlrs {
				if d.Str("command") != "deliver_sm_resp" || d.Num("status") != 0 {
					t.Errorf("receipt %d answered %v", j, d)
				}
				if tt.respID != tt.dlID && strings.EqualFold(d.Str("id"), res.IDs[j]) {
					t.Errorf("receipt id %s equals the submit id %s: the forms were meant to differ", d.Str("id"), res.IDs[j])
				}
			}
			// The receipts may come before Send records the ids (the SMSC
			// sends them right after each submit_sm_resp); the store keeps
			// them until then, so poll the store rather than onReceipt.
			waitUntil(t, 5*time.Second, "a final status", func() bool {
				st, _, _ := store.Lookup(t.Context(), ref)
				return st.Delivery() != DeliveryPending
			})
			st, ok, err := store.Lookup(t.Context(), ref)
			if err != nil || !ok {
				t.Fatalf("Lookup(%s) = %v, %v", ref, ok, err)
			}
			if st.Delivery() != tt.want || len(st.Parts) != len(res.IDs) {
				t.Fatalf("status %+v, want %s over %d parts", st, tt.want, len(res.IDs))
			}
			for j, p := range st.Parts {
				if p.ID != res.IDs[j] || !p.Receipt || p.State != MessageState(tt.state) {
					t.Errorf("part %d: %+v", j, p)
				}
			}
		})
	}
}
