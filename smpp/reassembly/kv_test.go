package reassembly

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
	"github.com/ussdgw/ussdgw/ussd"
)

// TestMOParts: the parts of one message, given to two instances over one
// store, in any order, make the message once; a message whose handling
// failed completes again when its last part comes again.
func TestMOParts(t *testing.T) {
	ctx := context.Background()
	kv := ussd.NewMemoryStore()
	t.Cleanup(func() { kv.Close() })
	a, b := NewMOParts(kv, "t:", time.Minute), NewMOParts(kv, "t:", time.Minute)
	add := func(p *MOParts, in *smpp.Inbound) *MO {
		t.Helper()
		m, err := p.Add(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	emoji := []byte{0xD8, 0x3D, 0xDE, 0x42}
	if add(a, udhPart("a", false, 7, 3, 3, 8, []byte{0, 'c'})) != nil || add(b, udhPart("a", false, 7, 3, 2, 8, emoji[2:])) != nil {
		t.Fatal("completed early")
	}
	m := add(a, udhPart("a", false, 7, 3, 1, 8, append([]byte{0, 'a'}, emoji[:2]...)))
	if m == nil || m.Text != "a🙂c" || m.Parts != 3 || m.Source.Addr != "a" || m.First.DataCoding != 8 {
		t.Fatalf("udh8: %+v", m)
	}
	// Not Done (the router failed): the last part again completes it again.
	if m2 := add(b, udhPart("a", false, 7, 3, 1, 8, append([]byte{0, 'a'}, emoji[:2]...))); m2 == nil || m2.Text != m.Text {
		t.Fatalf("redelivered last part: %+v", m2)
	}
	if err := a.Done(ctx, m); err != nil {
		t.Fatal(err)
	}
	if add(b, udhPart("a", false, 7, 3, 1, 8, []byte{0, 'a'})) != nil {
		t.Fatal("a part after Done completed a message")
	}
	// SAR, the last part first: the metadata is taken from part 1 all the same.
	add(a, sarPart("s", 0x0102, 2, 2, []byte("world")))
	if m := add(b, sarPart("s", 0x0102, 2, 1, []byte("hello "))); m == nil || m.Text != "hello world" {
		t.Fatalf("sar: %+v", m)
	}
	// Many parts from many goroutines: exactly one completes it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var whole []*MO
	for i := range 20 {
		wg.Go(func() {
			p := a
			if i%2 == 1 {
				p = b
			}
			m, err := p.Add(ctx, udhPart("c", true, 0xBEEF, 20, uint8(i+1), 0, []byte{byte('a' + i)}))
			if err != nil {
				t.Error(err)
			}
			if m != nil {
				mu.Lock()
				whole = append(whole, m)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(whole) != 1 || whole[0].Text != "abcdefghijklmnopqrst" {
		t.Fatalf("concurrent parts: %d whole messages %+v", len(whole), whole)
	}
	// One part: at once, nothing to forget.
	if m := add(a, &smpp.Inbound{Source: smpp.Addr{Addr: "a"}, ShortMessage: []byte("HELP")}); m == nil || m.Text != "HELP" || a.Done(ctx, m) != nil {
		t.Fatalf("single: %+v", m)
	}
	if _, err := a.Add(ctx, &smpp.Inbound{ESMClass: esmUDHI, ShortMessage: []byte{9, 0}}); !errors.Is(err, ErrBadUDH) {
		t.Errorf("bad UDH: %v", err)
	}
}
