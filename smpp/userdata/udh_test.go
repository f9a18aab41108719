package userdata

import (
	"bytes"
	"testing"
)

func TestParseUDH(t *testing.T) {
	tests := []struct {
		name       string
		in         []byte
		ref        uint16
		total, seq uint8
		ok         bool
		rest       string
		err        bool
	}{
		{"8-bit", []byte{5, 0, 3, 0xAB, 3, 2, 'h', 'i'}, 0xAB, 3, 2, true, "hi", false},
		{"16-bit", []byte{6, 8, 4, 0x12, 0x34, 2, 1, 'x'}, 0x1234, 2, 1, true, "x", false},
		{"port then concat", []byte{11, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 0, 3, 9, 2, 2}, 9, 2, 2, true, "", false},
		{"no concat", []byte{4, 5, 2, 0, 1, 'z'}, 0, 0, 0, false, "z", false},
		{"seq over total", []byte{5, 0, 3, 1, 2, 3}, 1, 2, 3, false, "", false},
		{"seq zero", []byte{5, 0, 3, 1, 2, 0}, 1, 2, 0, false, "", false},
		{"udhl past data", []byte{9, 0, 3, 1}, 0, 0, 0, false, "", true},
		{"ie past header", []byte{3, 0, 3, 1}, 0, 0, 0, false, "", true},
		{"lone iei", []byte{1, 0}, 0, 0, 0, false, "", true},
		{"empty", nil, 0, 0, 0, false, "", true},
		{"empty header", []byte{0, 'a'}, 0, 0, 0, false, "a", false},
	}
	for _, tt := range tests {
		u, rest, err := ParseUDH(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err != nil {
			continue
		}
		ref, total, seq, ok := u.Concat()
		if ok != tt.ok || (ok && (ref != tt.ref || total != tt.total || seq != tt.seq)) || string(rest) != tt.rest {
			t.Errorf("%s: %d %d %d %v rest %q", tt.name, ref, total, seq, ok, rest)
		}
	}
}

func FuzzParseUDH(f *testing.F) {
	f.Add([]byte{5, 0, 3, 0xAB, 3, 2, 'h'})
	f.Add([]byte{6, 8, 4, 0x12, 0x34, 2, 1})
	f.Add([]byte{0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, rest, err := ParseUDH(b)
		if err != nil {
			return
		}
		n := 1 + len(rest)
		for _, ie := range u {
			n += 2 + len(ie.Data)
		}
		if n != len(b) {
			t.Fatalf("parsed %d of %d octets", n, len(b))
		}
		ref, total, seq, ok := u.Concat()
		if !ok {
			return
		}
		if seq == 0 || seq > total {
			t.Fatalf("Concat ok with seq %d of %d", seq, total)
		}
		// Parse then build: the concatenation header built from what was
		// parsed parses back to the same reference and numbers.
		for _, wide := range []bool{false, true} {
			if !wide && ref > 0xFF {
				continue
			}
			back := AppendConcatUDH(nil, wide, ref, total, seq)
			u2, rest2, err := ParseUDH(append(back, rest...))
			if err != nil || !bytes.Equal(rest2, rest) {
				t.Fatalf("built UDH % x does not parse: %v", back, err)
			}
			if r2, t2, s2, ok2 := u2.Concat(); !ok2 || r2 != ref || t2 != total || s2 != seq {
				t.Fatalf("round trip %d %d/%d -> %d %d/%d %v", ref, seq, total, r2, s2, t2, ok2)
			}
		}
	})
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		dc   uint8
		in   []byte
		want string
		ok   bool
	}{
		{0x00, []byte{0x2A, 0x33, 0x38, 0x34, 0x23}, "*384#", true},
		{0x0F, []byte("*384*1#"), "*384*1#", true},
		{0xF1, []byte{0x1B, 0x65}, "€", true},
		{0x01, []byte("Hello"), "Hello", true},
		{0x00, []byte{'c', 'a', 'f', 0xE9}, "café", true}, // not septets: Latin-1
		{0x08, []byte{0x12, 0x30, 0xD8, 0x3D, 0xDE, 0x42}, "ሰ🙂", true},
		{0x03, []byte{0xE9}, "é", true},
		{0x04, []byte{1, 2}, "", false},
		{0xF4, []byte{1, 2}, "", false},
	}
	for _, tt := range tests {
		if got, ok := DecodeText(tt.dc, tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("DecodeText(%#x, % x) = %q, %v; want %q, %v", tt.dc, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
