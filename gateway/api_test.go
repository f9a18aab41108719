package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/ussd"
)

// The API handler gets every path under /api/v1/, with bodies larger than
// the gateway's own limit; other paths stay the gateway's.
func TestAPIMounted(t *testing.T) {
	set, err := flows.Compile(map[string][]byte{"shop.yaml": []byte(shop)}, flows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the body: %v", err)
		}
		got = append(got, r.Method+" "+r.URL.Path+" "+r.URL.RawQuery+" "+strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusTeapot)
	})
	s := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: ussd.NewMemoryStore(), Flows: set}), API: api, MaxBody: 100})
	for _, r := range []struct {
		method, path string
		body         string
		code         int
	}{
		{"POST", "/api/v1/broadcasts?service=x", strings.Repeat("0712000001\n", 100), http.StatusTeapot},
		{"GET", "/api/v1/broadcasts/b1", "", http.StatusTeapot},
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/api/v2/x", "", http.StatusNotFound},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != r.code {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, w.Code, r.code)
		}
	}
	want := []string{"POST /api/v1/broadcasts service=x 1100", "GET /api/v1/broadcasts/b1  0"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the API got %q, want %q", got, want)
	}
}
