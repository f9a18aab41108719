package dialect_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ussdgw/ussdgw/flows"
	"github.com/ussdgw/ussdgw/gateway"
	"github.com/ussdgw/ussdgw/gateway/dialect/dialecttest"
	"github.com/ussdgw/ussdgw/ussd"
)

// BenchmarkSession runs whole four-screen sessions (dial and three
// replies, the last ending) of the load test's flow through the gateway's
// handler in each dialect, sessions in memory: what a dialect's wire
// format costs beside the others. One op is one session (four requests).
func BenchmarkSession(b *testing.B) {
	set, err := flows.Load("../../cmd/loadtest/flows", flows.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range []dialecttest.Kit{atKit(), hubtelKit(mustLookup("hubtel"), true), hubtelKit(mustLookup("emergent"), false),
		naloKit(), arkeselKit(), dialecttest.GenericKit()} {
		b.Run(k.Dialect.Name(), func(b *testing.B) {
			store := ussd.NewMemoryStore()
			defer store.Close()
			gw := gateway.New(gateway.Config{Manager: ussd.NewManager(ussd.Config{Store: store, Flows: set}),
				Routes: []gateway.Route{{Path: "/u", Dialect: k.Dialect}}})
			send := func(q dialecttest.Request, want string) {
				req := httptest.NewRequest(http.MethodPost, "/u"+q.Suffix, strings.NewReader(q.Body))
				req.Header.Set("Content-Type", q.ContentType)
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
					b.Fatalf("%d %q, want %q", w.Code, w.Body.String(), want)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				id, phone := fmt.Sprintf("b%d", i), fmt.Sprintf("2547%08d", i%100000000)
				send(k.Dial(id, phone, "*777#"), "Welcome")
				send(k.Reply(id, phone, 2, []string{"1"}), "Choose a crop")
				send(k.Reply(id, phone, 3, []string{"1", "2"}), "choose a market")
				send(k.Reply(id, phone, 4, []string{"1", "2", "3"}), "Dial *777# again")
			}
		})
	}
}
