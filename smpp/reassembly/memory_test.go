package reassembly

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/smpp"
)

// esmUDHI is the esm_class bit that says short_message starts with a UDH.
const esmUDHI = 0x40

// concatUDH is the user data header of part seq of total of message ref:
// IE 0x00 (8-bit reference) or 0x08 (16-bit), as a handset writes it.
func concatUDH(wide bool, ref uint16, total, seq uint8) []byte {
	if wide {
		return []byte{6, 0x08, 4, byte(ref >> 8), byte(ref), total, seq}
	}
	return []byte{5, 0x00, 3, byte(ref), total, seq}
}

func udhPart(src string, wide bool, ref uint16, total, seq uint8, dc uint8, data []byte) *smpp.Inbound {
	return &smpp.Inbound{Source: smpp.Addr{Addr: src}, Dest: smpp.Addr{Addr: "384"}, ESMClass: esmUDHI, DataCoding: dc,
		ShortMessage: append(concatUDH(wide, ref, total, seq), data...)}
}

func sarPart(src string, ref uint16, total, seq uint8, data []byte) *smpp.Inbound {
	return &smpp.Inbound{Source: smpp.Addr{Addr: src}, Dest: smpp.Addr{Addr: "384"}, ShortMessage: data,
		TLVs: smpp.TLVs{smpp.TagSarMsgRefNum: binary.BigEndian.AppendUint16(nil, ref), smpp.TagSarTotalSegments: {total}, smpp.TagSarSegmentSeqnum: {seq}}}
}

func TestReassembler(t *testing.T) {
	r := NewReassembler(time.Minute, 10)
	add := func(in *smpp.Inbound) *MO {
		t.Helper()
		m, err := r.Add(in)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// 8-bit UDH, out of order, with a repeated part; a UCS-2 surrogate
	// pair split across parts joins up.
	emoji := []byte{0xD8, 0x3D, 0xDE, 0x42}
	if add(udhPart("a", false, 7, 3, 3, 8, []byte{0, 'c'})) != nil ||
		add(udhPart("a", false, 7, 3, 1, 8, append([]byte{0, 'a'}, emoji[:2]...))) != nil ||
		add(udhPart("a", false, 7, 3, 1, 8, append([]byte{0, 'a'}, emoji[:2]...))) != nil {
		t.Fatal("completed early")
	}
	// Same ref from another sender is another message.
	if add(udhPart("b", false, 7, 3, 2, 8, emoji[2:])) != nil {
		t.Fatal("parts of two senders mixed")
	}
	m := add(udhPart("a", false, 7, 3, 2, 8, emoji[2:]))
	if m == nil || m.Text != "a🙂c" || m.Parts != 3 || !m.Decoded || m.Source.Addr != "a" {
		t.Fatalf("udh8: %+v", m)
	}
	// 16-bit UDH, GSM with an escape pair split across parts.
	add(udhPart("a", true, 0x1234, 2, 1, 0, []byte{'x', 0x1B}))
	if m := add(udhPart("a", true, 0x1234, 2, 2, 0, []byte{0x65})); m == nil || m.Text != "x€" {
		t.Fatalf("udh16: %+v", m)
	}
	// SAR.
	add(sarPart("a", 0x0102, 2, 2, []byte("world")))
	if m := add(sarPart("a", 0x0102, 2, 1, []byte("hello "))); m == nil || m.Text != "hello world" {
		t.Fatalf("sar: %+v", m)
	}
	// Single part, binary coding.
	if m := add(&smpp.Inbound{Source: smpp.Addr{Addr: "a"}, DataCoding: 0x04, ShortMessage: []byte{1, 2}}); m == nil || m.Decoded || len(m.Raw) != 2 {
		t.Fatalf("binary: %+v", m)
	}
	// A bad UDH is an error, not a panic.
	if _, err := r.Add(&smpp.Inbound{ESMClass: esmUDHI, ShortMessage: []byte{9, 0}}); err == nil {
		t.Error("bad UDH accepted")
	}
}

func TestReassemblerBounds(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewReassembler(time.Minute, 2)
	r.now = func() time.Time { return now }
	r.Add(udhPart("a", false, 1, 2, 1, 0, []byte("a")))
	r.Add(udhPart("b", false, 1, 2, 1, 0, []byte("b")))
	r.Add(udhPart("c", false, 1, 2, 1, 0, []byte("c"))) // evicts a
	if m, _ := r.Add(udhPart("a", false, 1, 2, 2, 0, []byte("A"))); m != nil {
		t.Errorf("evicted message completed: %+v", m)
	}
	if r.Dropped() != 2 { // a by c, then b by the second a
		t.Errorf("Dropped = %d", r.Dropped())
	}
	now = now.Add(2 * time.Minute)
	if m, _ := r.Add(udhPart("c", false, 1, 2, 2, 0, []byte("C"))); m != nil {
		t.Errorf("expired message completed: %+v", m)
	}
	if len(r.pending) != 1 || r.Dropped() != 4 {
		t.Errorf("pending %d dropped %d", len(r.pending), r.Dropped())
	}
}
