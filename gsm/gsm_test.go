package gsm

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMeasure(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Length
	}{
		{"empty", "", Length{}},
		{"ascii", "1. Maize", Length{Units: 8}},
		{"newline counts", "a\nb", Length{Units: 3}},
		{"latin in alphabet", "Maïs", Length{Units: 4, UCS2: true}}, // ï is not GSM
		{"french in alphabet", "Prix du marché", Length{Units: 14}},
		{"extension counts double", "{€}", Length{Units: 6}},
		{"backtick forces ucs2", "a`b", Length{Units: 3, UCS2: true}},
		{"amharic", "ዋጋ", Length{Units: 2, UCS2: true}},
		{"emoji is a surrogate pair", "ok🙂", Length{Units: 4, UCS2: true}},
		{"greek capitals in alphabet", "ΔΦΓΛΩΠΨΣΘΞ", Length{Units: 10}},
		{"greek small not", "α", Length{Units: 1, UCS2: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Measure(tt.in); got != tt.want {
				t.Errorf("Measure(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	ussd := Limit{Octets: 160}
	if got := ussd.Max(false); got != 182 {
		t.Errorf("GSM max = %d, want 182", got)
	}
	if got := ussd.Max(true); got != 80 {
		t.Errorf("UCS-2 max = %d, want 80", got)
	}
	if !ussd.Fits(Measure(strings.Repeat("a", 182))) || ussd.Fits(Measure(strings.Repeat("a", 183))) {
		t.Error("182 GSM chars must fit, 183 must not")
	}
	if !ussd.Fits(Measure(strings.Repeat("ዋ", 80))) || ussd.Fits(Measure(strings.Repeat("ዋ", 81))) {
		t.Error("80 UCS-2 chars must fit, 81 must not")
	}
	if ussd.Fits(Measure(strings.Repeat("€", 92))) {
		t.Error("92 euro signs are 184 septets and must not fit")
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	var all strings.Builder
	for i, r := range basic {
		if i != Esc {
			all.WriteRune(r)
		}
	}
	for r := range extension {
		all.WriteRune(r)
	}
	s := all.String()
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := Septets(s)
	if len(b) != n {
		t.Errorf("encoded %d bytes, Septets says %d", len(b), n)
	}
	if got := Decode(b); got != s {
		t.Errorf("round trip:\n got %q\nwant %q", got, s)
	}
}

func TestEncodeKnownBytes(t *testing.T) {
	b, err := Encode("@£a€")
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x01, 0x61, 0x1B, 0x65}; !bytes.Equal(b, want) {
		t.Errorf("Encode = % x, want % x", b, want)
	}
	if _, err := Encode("ï"); err != ErrNotGSM {
		t.Errorf("Encode(ï) err = %v, want ErrNotGSM", err)
	}
}

func TestDecodeTolerant(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte{0x2A, 0x33, 0x38, 0x34, 0x23}, "*384#"},
		{[]byte{0xC1}, "A"},                  // high bit ignored
		{[]byte{0x41, Esc}, "A"},             // lone trailing escape dropped
		{[]byte{Esc, 0x41}, "A"},             // unknown extension → basic char
		{[]byte{Esc, 0x65, Esc, 0x28}, "€{"}, // extensions
		{[]byte{Esc, Esc}, " "},              // escape of escape
	}
	for _, tt := range tests {
		if got := Decode(tt.in); got != tt.want {
			t.Errorf("Decode(% x) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUCS2(t *testing.T) {
	s := "ሰላም 🙂 مرحبا"
	b := EncodeUCS2(s)
	if len(b) != 2*UCS2Units(s) {
		t.Errorf("encoded %d bytes, want %d", len(b), 2*UCS2Units(s))
	}
	if got := DecodeUCS2(b); got != s {
		t.Errorf("round trip %q != %q", got, s)
	}
	if got := DecodeUCS2([]byte{0x00, 0x41, 0x00}); got != "A" {
		t.Errorf("odd byte: %q", got)
	}
	if got := DecodeUCS2([]byte{0xD8, 0x3D}); got != "\uFFFD" {
		t.Errorf("lone surrogate: %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("*384*1#"))
	f.Add([]byte{Esc, 0x65, 0xFF, Esc})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Decode(b)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from % x", b)
		}
		_ = DecodeUCS2(b)
	})
}

func FuzzEncode(f *testing.F) {
	f.Add("Bei ya mahindi: 3,200 KES/90kg {ok} €")
	f.Add("ዋጋ")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Encode(s)
		if err != nil {
			if Fits(s) {
				t.Fatalf("Encode failed on text that Fits: %q", s)
			}
			return
		}
		if !utf8.ValidString(s) {
			return
		}
		if got := Decode(b); got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}

func BenchmarkMeasure(b *testing.B) {
	s := "Maize prices\n1. Nairobi: 4,500 KES\n2. Eldoret: 3,900 KES\n3. Kisumu: 4,200 KES\n98. More\n0. Back\n00. Main menu"
	b.ReportAllocs()
	for b.Loop() {
		Measure(s)
	}
}

func TestTransliterate(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"Maïs", "Mais", true},
		{"Prix du marché", "Prix du marché", true}, // é is GSM already
		{"n'êtes pas abonné", "n'etes pas abonné", true},
		{"Ça coûte 3\u00a0000 FCFA – l’unité…", "Ça coute 3 000 FCFA - l'unité...", true}, // Ç is GSM
		{"Œuf", "OEuf", true},
		{"ሰላም Maïs", "ሰላም Maïs", false},
		{"ok🙂", "ok🙂", false},
	} {
		got, ok := Transliterate(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Transliterate(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && !Fits(got) {
			t.Errorf("Transliterate(%q) = %q does not fit GSM", tt.in, got)
		}
	}
}
