package adaptertest

import (
	"context"
	"testing"

	"github.com/ussdgw/ussdgw/adapters"
)

// Params builds a request's params from name, value pairs:
// Params("commodity", "maize", "lang", "sw").
func Params(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Bench measures a.Call(req), failing on any error.
func Bench(b *testing.B, a adapters.Adapter, req adapters.Request) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
