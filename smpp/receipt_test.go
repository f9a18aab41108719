package smpp

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseReceiptText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Receipt
		error bool
	}{
		{"spec", "id:0123456789 sub:001 dlvrd:001 submit date:2401021504 done date:2401021506 stat:DELIVRD err:000 text:Hello world",
			Receipt{ID: "0123456789", Sub: 1, Dlvrd: 1, Submitted: time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC),
				Done: time.Date(2024, 1, 2, 15, 6, 0, 0, time.UTC), Stat: "DELIVRD", State: MsgDelivered, Err: "000"}, false},
		{"12-digit dates, upper-case keys", "ID:1A2B SUB:1 DLVRD:0 SUBMIT DATE:240102150405 DONE DATE:240102150607 STAT:UNDELIV ERR:034",
			Receipt{ID: "1A2B", Sub: 1, Submitted: time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC),
				Done: time.Date(2024, 1, 2, 15, 6, 7, 0, time.UTC), Stat: "UNDELIV", State: MsgUndeliverable, Err: "034"}, false},
		{"only id and stat", "id:77 stat:EXPIRED", Receipt{ID: "77", Stat: "EXPIRED", State: MsgExpired}, false},
		{"fields out of order, underscores", "stat:REJECTD err:0b id:abc submit_date:2401021504", Receipt{ID: "abc", Stat: "REJECTD",
			State: MsgRejected, Err: "0b", Submitted: time.Date(2024, 1, 2, 15, 4, 0, 0, time.UTC)}, false},
		{"text mentions stat", "id:9 stat:ENROUTE err:000 text:stat:DELIVRD id:1", Receipt{ID: "9", Stat: "ENROUTE", State: MsgEnroute, Err: "000"}, false},
		{"unknown stat", "id:9 stat:WEIRD", Receipt{ID: "9", Stat: "WEIRD", State: MsgUnknown}, false},
		{"bad dates ignored", "id:9 submit date:24 done date:99999999999 stat:DELIVRD", Receipt{ID: "9", Stat: "DELIVRD", State: MsgDelivered}, false},
		{"key inside a word", "valid:3 id:5 stat:ACCEPTD", Receipt{ID: "5", Stat: "ACCEPTD", State: MsgAccepted}, false},
		{"no id", "sub:001 stat:DELIVRD", Receipt{}, true},
		{"empty", "", Receipt{}, true},
	}
	for _, tt := range tests {
		got, err := ParseReceiptText(tt.in)
		if (err != nil) != tt.error {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err == nil && !receiptsEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func receiptsEqual(a, b Receipt) bool {
	return a.ID == b.ID && a.State == b.State && a.Stat == b.Stat && a.Err == b.Err && a.Sub == b.Sub &&
		a.Dlvrd == b.Dlvrd && a.Submitted.Equal(b.Submitted) && a.Done.Equal(b.Done)
}

func TestParseReceipt(t *testing.T) {
	in := &Inbound{ESMClass: 0x04, ShortMessage: []byte("id:00ff stat:DELIVRD err:000"),
		TLVs: TLVs{TagReceiptedMessageID: []byte("255\x00"), TagMessageState: {byte(MsgUndeliverable)}, TagNetworkErrorCode: {3, 0, 34}}}
	r, err := ParseReceipt(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "255" || r.State != MsgUndeliverable || r.Stat != "DELIVRD" || len(r.NetworkError) != 3 || r.Intermediate {
		t.Errorf("TLVs must win over text: %+v", r)
	}
	in = &Inbound{ESMClass: 0x20, TLVs: TLVs{TagReceiptedMessageID: []byte("x1\x00"), TagMessageState: {1}}}
	if r, err := ParseReceipt(in); err != nil || r.ID != "x1" || r.State != MsgEnroute || !r.Intermediate {
		t.Errorf("TLV-only intermediate: %+v %v", r, err)
	}
	if _, err := ParseReceipt(&Inbound{ESMClass: 0x04, ShortMessage: []byte("no receipt here")}); err == nil {
		t.Error("receipt without id accepted")
	}
	if _, err := ParseReceipt(&Inbound{ShortMessage: []byte("id:1 stat:DELIVRD")}); err != ErrNotReceipt {
		t.Errorf("MO parsed as receipt: %v", err)
	}
}

func FuzzParseReceiptText(f *testing.F) {
	f.Add("id:0123456789 sub:001 dlvrd:001 submit date:2401021504 done date:2401021506 stat:DELIVRD err:000 text:Hi")
	f.Add("ID:1A stat:")
	f.Add("id: stat:DELIVRD")
	f.Add("text:id:5")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReceiptText(s)
		if err != nil {
			return
		}
		if r.ID == "" || strings.ContainsAny(r.ID, " \t\r\n") || !strings.Contains(s, r.ID) {
			t.Fatalf("id %q from %q", r.ID, s)
		}
		if utf8.ValidString(s) && !utf8.ValidString(r.Stat) {
			t.Fatalf("stat %q", r.Stat)
		}
	})
}

func TestMessageIDForms(t *testing.T) {
	tests := []struct {
		sent, receipt string
		same          bool
	}{
		{"1F0000", "2031616", true},     // hex resp, decimal receipt
		{"2031616", "1F0000", true},     // decimal resp, hex receipt
		{"2031616", "1f0000", true},     // case
		{"00001f0000", "2031616", true}, // leading zeros
		{"abc-123", "ABC-123", true},    // opaque ids: case only
		{"12345", "12345", true},
		{"12345", "12346", false},
		{"1F0000", "1F0001", false},
		{"uuid-1", "uuid-2", false},
		{strings.Repeat("f", 70), strings.Repeat("F", 70), true},
	}
	for _, tt := range tests {
		if got := SameMessageID(tt.sent, tt.receipt); got != tt.same {
			t.Errorf("SameMessageID(%q, %q) = %v", tt.sent, tt.receipt, got)
		}
	}
}
