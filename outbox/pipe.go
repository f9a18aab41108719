package outbox

import (
	"context"
	"sync"
	"time"
)

// pipe sends the work that callers bring one message at a time (a
// delivery receipt, a daily-cap check) to Redis together: a caller that
// finds a batch on its way waits for the next one, which takes all that
// were queued meanwhile. Under a broadcast thousands of receipts a second
// come from many goroutines at once; one round trip (and, for receipts,
// one script call per chunk) per batch instead of one per receipt saves
// a write and a read, in the gateway and in Redis alike, for each of
// them. A lone caller waits for its own round trip only. No goroutine
// outlives the batches: the one that sends them ends when nothing is
// queued.
type pipe[T any] struct {
	// run does one batch and answers one value per item, or an error for
	// the whole batch.
	run    func(ctx context.Context, batch []T) ([]int64, error)
	mu     sync.Mutex
	queued []*pipeCall[T]
	busy   bool // a goroutine is sending batches
}

type pipeCall[T any] struct {
	in   T
	val  int64
	err  error
	done chan struct{}
}

// do queues in for the next batch and returns its value once Redis
// answered, or an error when ctx ends first (the work may still be done:
// the callers' scripts are idempotent).
func (p *pipe[T]) do(ctx context.Context, in T) (int64, error) {
	c := &pipeCall[T]{in: in, done: make(chan struct{})}
	p.mu.Lock()
	p.queued = append(p.queued, c)
	if !p.busy {
		p.busy = true
		go p.send()
	}
	p.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// send sends batches until none is queued.
func (p *pipe[T]) send() {
	for {
		p.mu.Lock()
		batch := p.queued
		p.queued = nil
		if len(batch) == 0 {
			p.busy = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		in := make([]T, len(batch))
		for i, c := range batch {
			in[i] = c.in
		}
		vals, err := p.run(ctx, in)
		cancel()
		for i, c := range batch {
			c.err = err
			if err == nil && i < len(vals) {
				c.val = vals[i]
			}
			close(c.done)
		}
	}
}
