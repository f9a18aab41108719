package smpp

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ussdgw/ussdgw/gsm"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		text string
		m    ConcatMethod
		n    int
		ucs2 bool
	}{
		{strings.Repeat("a", 160), ConcatUDH8, 1, false},
		{strings.Repeat("a", 161), ConcatUDH8, 2, false},
		{strings.Repeat("a", 306), ConcatUDH8, 2, false},
		{strings.Repeat("a", 307), ConcatUDH8, 3, false},
		{strings.Repeat("a", 304), ConcatUDH16, 2, false},
		{strings.Repeat("a", 305), ConcatSAR, 3, false},
		{strings.Repeat("€", 80), ConcatUDH8, 1, false}, // 160 septets
		{strings.Repeat("€", 81), ConcatUDH8, 2, false}, // 162 septets, 76 pairs in part 1
		{strings.Repeat("ዋ", 70), ConcatUDH8, 1, true},
		{strings.Repeat("ዋ", 71), ConcatUDH8, 2, true},
		{strings.Repeat("ዋ", 134), ConcatUDH8, 2, true},
		{strings.Repeat("ዋ", 135), ConcatUDH8, 3, true},
		{strings.Repeat("ዋ", 132), ConcatUDH16, 2, true},
		{strings.Repeat("🙂", 35), ConcatUDH8, 1, true},       // 70 units
		{strings.Repeat("🙂", 36), ConcatUDH8, 2, true},       // 72 units, 33 pairs in part 1
		{"a" + strings.Repeat("🙂", 67), ConcatUDH8, 3, true}, // pairs never split: 1+66, 66, 2
	}
	for _, tt := range tests {
		if n, ucs2 := Segments(tt.text, tt.m); n != tt.n || ucs2 != tt.ucs2 {
			t.Errorf("Segments(%d runes of %q, %s) = %d, %v; want %d, %v",
				utf8.RuneCountInString(tt.text), []rune(tt.text)[0], tt.m, n, ucs2, tt.n, tt.ucs2)
		}
	}
}

// checkPlan verifies the PDUs of text: each within size, no escape or
// surrogate pair cut, UDH or SAR consistent, and the parts decode back
// to the text.
func checkPlan(t *testing.T, text string, m ConcatMethod) {
	t.Helper()
	cfg := testConfig("127.0.0.1:1")
	cfg.Concat = m
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pdus, segs, err := c.plan(text, ShortMessage{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	ucs2 := !gsm.Fits(text)
	var joined []byte
	for i, sm := range pdus {
		if len(sm.Body) > maxShortMessage {
			t.Fatalf("part %d has %d octets", i, len(sm.Body))
		}
		ud := sm.Body
		switch {
		case len(pdus) == 1 && m == ConcatPayload && segs > 1:
			ud = sm.TLVs[TagMessagePayload]
		case len(pdus) > 1 && (m == ConcatUDH8 || m == ConcatUDH16):
			udh, rest, err := ParseUDH(sm.Body)
			_, total, seq, ok := udh.Concat()
			if err != nil || !ok || int(total) != len(pdus) || int(seq) != i+1 || sm.ESMClass&esmUDHI == 0 {
				t.Fatalf("part %d: udh % x", i, sm.Body[:min(8, len(sm.Body))])
			}
			ud = rest
		case len(pdus) > 1 && m == ConcatSAR:
			_, total, seq, ok := sarInfo(sm.TLVs)
			if !ok || int(total) != len(pdus) || int(seq) != i+1 {
				t.Fatalf("part %d: sar tlvs %v", i, sm.TLVs)
			}
		}
		if len(pdus) > 1 {
			if ucs2 && len(ud) >= 2 && ud[len(ud)-2] >= 0xD8 && ud[len(ud)-2] < 0xDC {
				t.Fatalf("part %d ends in a high surrogate", i)
			}
			if !ucs2 && len(ud) > 0 && ud[len(ud)-1] == gsm.Esc {
				t.Fatalf("part %d ends in an escape", i)
			}
		}
		joined = append(joined, ud...)
	}
	var got string
	if ucs2 {
		got = gsm.DecodeUCS2(joined)
	} else {
		got = gsm.Decode(joined)
	}
	if got != text {
		t.Fatalf("%s: parts decode to %q, want %q", m, got, text)
	}
	if n, _ := Segments(text, m); n != segs {
		t.Fatalf("plan says %d segments, Segments %d", segs, n)
	}
}

func TestPlan(t *testing.T) {
	for _, m := range []ConcatMethod{ConcatUDH8, ConcatUDH16, ConcatSAR, ConcatPayload} {
		for _, text := range []string{"x", gsmExt, gsmExt16, ucs2Pairs, ucs2Pairs16, strings.Repeat("{", 200), strings.Repeat("😀", 200)} {
			checkPlan(t, text, m)
		}
	}
}

func TestPlanLimits(t *testing.T) {
	c, err := New(testConfig("127.0.0.1:1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.plan(strings.Repeat("a", 153*255), ShortMessage{}); err != nil {
		t.Errorf("255 parts refused: %v", err)
	}
	if _, _, err := c.plan(strings.Repeat("a", 153*255+1), ShortMessage{}); err == nil {
		t.Error("256 parts accepted")
	}
	if _, err := c.Send(t.Context(), Message{Dst: "1", Text: ""}); !isKind(err, KindInvalid) {
		t.Errorf("empty text: %v", err)
	}
	if _, err := c.Send(t.Context(), Message{Dst: "1", Text: "x", Src: "999"}); !isKind(err, KindInvalid) {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := c.Submit(t.Context(), &ShortMessage{Dest: Addr{Addr: "1"}, Body: make([]byte, 255)}); !isKind(err, KindInvalid) {
		t.Errorf("255-octet short_message: %v", err)
	}
}

func FuzzPlan(f *testing.F) {
	for _, s := range []string{"hello", gsmExt, ucs2Pairs, "€€€", "a\x1b", "\xff\xfe", strings.Repeat("🙂", 40)} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, method uint8) {
		if text == "" || len(text) > 2000 {
			return
		}
		text = strings.ToValidUTF8(text, "?")
		m := []ConcatMethod{ConcatUDH8, ConcatUDH16, ConcatSAR, ConcatPayload}[method%4]
		checkPlan(t, text, m)
	})
}

func TestSplitNeverCutsPairs(t *testing.T) {
	data := []byte{'a', gsm.Esc, 0x65, 'b'}
	if got := split(data, false, 2); len(got) != 3 || !bytes.Equal(got[1], []byte{gsm.Esc, 0x65}) {
		t.Errorf("split = % x", got)
	}
}
