package source

import (
	"context"

	"github.com/ussdgw/ussdgw/adapters"
	"github.com/ussdgw/ussdgw/adapters/internal/opset"
)

// Served is what every data-backed kind shares: its data source, fetched
// and refreshed between Start and Stop, and the table of ops Call
// dispatches on. A kind embeds it and fills both fields.
type Served[T any] struct {
	Src   *Source[T]
	Table *opset.Set
}

// Call implements adapters.Adapter.
func (s *Served[T]) Call(ctx context.Context, req adapters.Request) (adapters.Result, error) {
	return s.Table.Call(ctx, req)
}

// Ops implements adapters.Describer.
func (s *Served[T]) Ops() []adapters.OpSpec { return s.Table.Ops() }

// Start fetches the data from a back-end URL and starts the refresh, if
// configured.
func (s *Served[T]) Start(ctx context.Context) error { return s.Src.Start(ctx) }

// Stop stops the refresh.
func (s *Served[T]) Stop(ctx context.Context) error { return s.Src.Stop(ctx) }
