package ussd

import (
	"reflect"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
)

func TestSessionCodecRoundTrip(t *testing.T) {
	for _, seq := range []int{0, 7} {
		testRoundTrip(t, seq)
	}
}

// testRoundTrip: seq 0 writes version 1 (what instances before numbered
// transports read), seq > 0 version 2.
func testRoundTrip(t *testing.T, seq int) {
	s := &Session{ID: "ATUid_123", Service: "market", Version: "a1b2c3d4", Status: StatusOffered,
		State: flows.State{Node: "pick_market", Page: 2, Lang: "sw", Entry: "load_markets",
			Vars:    map[string]string{"crop": "maize", "price.value": "3,200", "price.unit": "90kg bag"},
			History: []string{"main", "crops"}},
		Hops: 3, TextLen: 5, TextSum: 0xDEADBEEF, Started: 1700000000, Updated: 1700000123456, Seq: seq}
	b := s.encode()
	if want := map[bool]byte{false: codecVersion, true: codecVersionSeq}[seq > 0]; b[0] != want {
		t.Errorf("seq %d: version %d, want %d", seq, b[0], want)
	}
	got, err := decodeSession(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
	}
	if len(b) > 150 {
		t.Errorf("encoded session is %d bytes", len(b))
	}
	// Every truncation and a trailing byte are rejected, never a panic.
	for i := range len(b) {
		if _, err := decodeSession(b[:i]); err == nil {
			t.Errorf("truncated at %d decoded", i)
		}
	}
	if _, err := decodeSession(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func TestDeriveInput(t *testing.T) {
	mk := func(applied string) *Session {
		return &Session{TextLen: len(applied), TextSum: textSum(applied)}
	}
	for _, tt := range []struct {
		applied, text, want string
		dup                 bool
	}{
		{"", "", "", true},
		{"", "1", "1", false},
		{"1", "1", "", true},
		{"1", "1*2", "2", false},
		{"1*2", "1*2*Arusha", "Arusha", false},
		{"1*2", "1*2*a*b", "a*b", false}, // an input may contain *
		{"1*2", "1*2*", "", false},       // an empty reply
		{"1*2", "3", "3", false},         // an aggregator that sends only the last input
		{"1*2", "9*8*7", "7", false},     // a text that does not extend ours
		{"1*2", "1*3", "3", false},
	} {
		got, dup := deriveInput(mk(tt.applied), tt.text)
		if got != tt.want || dup != tt.dup {
			t.Errorf("applied %q, text %q: got %q dup=%v, want %q dup=%v", tt.applied, tt.text, got, dup, tt.want, tt.dup)
		}
	}
}

func FuzzDecodeSession(f *testing.F) {
	s := &Session{ID: "x", Service: "m", State: flows.State{Node: "n", Vars: map[string]string{"a": "b"}, History: []string{"h"}}}
	f.Add(s.encode())
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSession(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := decodeSession(s.encode())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
