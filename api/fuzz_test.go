package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ussdgw/ussdgw/alerts"
	"github.com/ussdgw/ussdgw/flows"
)

// The API's parsers are fuzzed without Redis: what reads a body (JSON,
// CSV/plain uploads of numbers, prices) and what checks it. Their seed
// corpora are under testdata/fuzz/<FuzzName>/ and run with go test.

var fuzzFlows = sync.OnceValue(func() *flows.Set {
	set, err := flows.Load("../flows-examples", flows.Options{})
	if err != nil {
		panic(err)
	}
	return set
})

// fuzzServer is an API with what the parsers read: the services, the
// country, a clock. Its handlers that reach Redis are not called.
func fuzzServer(t testing.TB) *Server {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	s := New(Config{Flows: fuzzFlows, Country: "KE", MaxBody: 1 << 20, Now: func() time.Time { return now }})
	t.Cleanup(s.Close)
	return s
}

// checkNumbers asserts what every accepted number list is: international
// digits (7 to 15, E.164), each once, each normalizing to itself.
func checkNumbers(t *testing.T, l numberList) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range l.numbers {
		if len(n) < 7 || len(n) > 15 || onlyDigits(n) != n || n[0] == '0' {
			t.Fatalf("accepted number %q is not international digits", n)
		}
		if seen[n] {
			t.Fatalf("number %q twice", n)
		}
		seen[n] = true
		if again, err := normalize(n, "KE"); err != nil || again != n {
			t.Fatalf("number %q normalizes to %q, %v: not a fixed point", n, again, err)
		}
	}
}

// FuzzNormalize: a phone number as people write it is refused with an
// error or becomes digits that read back as themselves (in any country).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+254 712 345 678", "0712345678", "254712345678", "712345678", "+1 (415) 555-2671",
		"00254712345678", "+", "٠٧١٢٣٤٥٦٧٨", "0712-345-678", "+2547123456789999", "tel:+254712345678", "\x00", "+254\u00a0712 345 678"} {
		f.Add(s, "KE")
	}
	f.Add("0803 123 4567", "NG")
	f.Add("07911 123456", "gb")
	f.Fuzz(func(t *testing.T, raw, country string) {
		n, err := normalize(raw, country)
		if err != nil {
			if n != "" || err.Error() == "" {
				t.Fatalf("%q: error %v with %q", raw, err, n)
			}
			return
		}
		checkNumbers(t, numberList{numbers: []string{n}})
		if again, err := normalize("+"+n, "ZZ"); err != nil || again != n {
			t.Fatalf("%q -> %q; +%s -> %q, %v", raw, n, n, again, err)
		}
	})
}

// FuzzNumbersFromText: an upload (plain text or CSV) never panics; lines
// are problems (with the line number) or numbers, never both lost; the
// numbers are valid and unique.
func FuzzNumbersFromText(f *testing.F) {
	f.Add([]byte("0712345678\n+254 712 345 679\n254712345680\n"))
	f.Add([]byte("\ufeffphone,name\r\n0712345678,Amina\r\n\"0712345679\";Baraka\r\n# comment\r\n\r\nnot a number\r\n"))
	f.Add([]byte("phone\n0712345678\n0712345678\n+254712345678\n"))
	f.Add([]byte("0712345678\t1\n'0712345679'\n12\n"))
	f.Add([]byte{0xff, 0xfe, '0', '7', '\n'})
	f.Add([]byte(strings.Repeat("7", 70000)))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, ps, err := numbersFromText(bytes.NewReader(body), "KE")
		if err != nil {
			if len(l.numbers) != 0 || len(ps) != 0 {
				t.Fatalf("error %v with numbers %v problems %v", err, l.numbers, ps)
			}
			return
		}
		checkNumbers(t, l)
		lines := bytes.Count(body, []byte("\n")) + 1
		last := 0
		for _, p := range ps {
			if p.Line < 1 || p.Line > lines || p.Line < last || p.Error == "" {
				t.Fatalf("problem %+v of %d lines (after line %d)", p, lines, last)
			}
			last = p.Line
		}
		if len(l.numbers)+l.dups+len(ps) > lines {
			t.Fatalf("%d numbers, %d repeated, %d problems from %d lines", len(l.numbers), l.dups, len(ps), lines)
		}
	})
}

// readReq runs readBroadcast on a request with the content type and body.
func readReq(s *Server, ctype, query string, body []byte) (BroadcastRequest, numberList, []Problem, error) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/broadcasts", bytes.NewReader(body))
	req.URL.RawQuery = query // as sent, even what a request line could not carry
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := s.e.NewContext(req, httptest.NewRecorder())
	return s.readBroadcast(c)
}

// FuzzBroadcast: a broadcast request, JSON or an upload, is either
// refused with a 4xx API error, or read into a request whose problems
// validate lists; a request without problems round-trips through its
// JSON form to the same request, still without problems.
func FuzzBroadcast(f *testing.F) {
	const j = "application/json"
	f.Add(j, "", []byte(`{"service":"market","audience":{"numbers":["0712345678","+254712345679"]},"text":{"en":"Maize is up","sw":"Mahindi"}}`))
	f.Add(j, "", []byte(`{"id":"run-1","service":"health","audience":{"topic":"health:reminders"},"text":{"en":"Clinic day"},"window":{"start":"2026-11-30T08:00:00+03:00","end":"2026-12-01T18:00:00+03:00"}}`))
	f.Add(j, "", []byte(`{"service":"market","audience":{"service_users":true},"text":{"en":"`+strings.Repeat("€", 300)+`"}}`))
	f.Add(j, "", []byte(`{"service":"market","audience":{"numbers":[]},"text":{}}`))
	f.Add(j, "", []byte(`{"service":"market","audience":{"numbers":null},"text":{"xx":""},"extra":1}`))
	f.Add("", "", []byte(`{"service":1}`))
	f.Add("text/csv", "service=market&text_en=Hello&id=x1", []byte("phone\n0712345678\n0712345679\n"))
	f.Add("text/plain; charset=utf-8", "service=health&text_en=Hi&start=2026-11-30T08:00:00Z&end=bad", []byte("0712345678\r\nnope\r\n"))
	f.Add("text/csv", "text_en=%zz", []byte(""))
	f.Add("application/xml", "", []byte("<a/>"))
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, ctype, query string, body []byte) {
		req, l, ps, err := readReq(s, ctype, query, body)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Code < 400 || ae.Code >= 500 || ae.Message == "" {
				t.Fatalf("error %T %v is not a 4xx API error", err, err)
			}
			return
		}
		checkNumbers(t, l)
		_, _, _, vps := s.validate(&req)
		if len(ps) > 0 || len(vps) > 0 {
			for _, p := range append(ps, vps...) {
				if p.Error == "" {
					t.Fatalf("problem without words: %+v", p)
				}
			}
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, l2, ps2, err := readReq(s, "application/json", "", b)
		if err != nil || len(ps2) > 0 {
			t.Fatalf("the JSON of an accepted request %s is refused: %v %v", b, err, ps2)
		}
		if !reflect.DeepEqual(req, req2) || !reflect.DeepEqual(l.numbers, l2.numbers) {
			t.Fatalf("round trip: %+v\n%+v", req, req2)
		}
		if _, _, _, vps := s.validate(&req2); len(vps) > 0 {
			t.Fatalf("round trip of a valid request: %v", vps)
		}
	})
}

// FuzzPrice: a price body is refused (bad JSON, or a field named with
// what is wrong) or normalized; a normalized price is a fixed point and
// round-trips through its JSON.
func FuzzPrice(f *testing.F) {
	for _, s := range []string{
		`{"commodity":"maize","market":"eldoret","price":3400,"currency":"KES","unit":"90kg bag","date":"2026-11-30"}`,
		`{"commodity":" Maize ","market":"ELDORET","price":0.5}`,
		`{"commodity":"maize","market":"eldoret","price":-1}`,
		`{"commodity":"maize","market":"eldoret","price":1e309}`,
		`{"commodity":"maize","market":"eldoret","price":1,"date":"2026-02-30"}`,
		`{"commodity":"maize","market":"eldoret","price":1,"currency":"shilling"}`,
		`{"commodity":"maïs","market":"x","price":1}`,
		`{"commodity":"a","market":"b","price":1,"other":true}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	a := alerts.New(alerts.Config{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, body []byte) {
		var p alerts.Price
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return
		}
		n, err := a.Normalize(p)
		if err != nil {
			var inv *alerts.InvalidError
			if !errors.As(err, &inv) || inv.Field == "" || inv.Msg == "" {
				t.Fatalf("%+v: error %T %v names no field", p, err, err)
			}
			return
		}
		if !(n.Price > 0) || n.Date == "" || n.Topic() != "prices:"+n.Commodity+":"+n.Market {
			t.Fatalf("accepted %+v", n)
		}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back alerts.Price
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		again, err := a.Normalize(back)
		if err != nil || again != n {
			t.Fatalf("normalized %+v is not a fixed point: %+v, %v", n, again, err)
		}
	})
}

// TestUploadInvalidUTF8 is what FuzzBroadcast found: the text of an upload
// (a query parameter) could be invalid UTF-8 and was accepted.
func TestUploadInvalidUTF8(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do("POST", "/api/v1/broadcasts?service=market&text_en=%A1", e.send, "text/csv", "0712345678\n")
	if a.code != http.StatusBadRequest || !strings.Contains(a.raw, "not valid UTF-8") {
		t.Fatalf("%d %s", a.code, a.raw)
	}
	if n := e.outbox.len(); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}
