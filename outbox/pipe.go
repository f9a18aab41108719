package outbox

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipe sends the scripts that callers run one message at a time (a
// delivery receipt, a daily-cap check) to Redis together: a caller that
// finds a batch on its way waits for the next one, which takes all that
// were queued meanwhile. Under a broadcast thousands of receipts a second
// come from many goroutines at once; one round trip per batch instead of
// one per receipt saves a write and a read, in the gateway and in Redis
// alike, for each of them. A lone caller waits for its own round trip
// only. No goroutine outlives the batches: the one that sends them ends
// when nothing is queued.
type pipe struct {
	c       redis.UniversalClient
	scripts []*redis.Script // loaded again when Redis answers NOSCRIPT
	mu      sync.Mutex
	queued  []*pipeCall
	busy    bool // a goroutine is sending batches
}

type pipeCall struct {
	add  func(ctx context.Context, p redis.Pipeliner) *redis.Cmd
	cmd  *redis.Cmd
	done chan struct{}
}

// do queues the command add puts on a pipeline for the next batch and
// returns it once Redis answered, or an error when ctx ends first (the
// command may still run: the callers' scripts are idempotent).
func (p *pipe) do(ctx context.Context, add func(ctx context.Context, p redis.Pipeliner) *redis.Cmd) *redis.Cmd {
	c := &pipeCall{add: add, done: make(chan struct{})}
	p.mu.Lock()
	p.queued = append(p.queued, c)
	if !p.busy {
		p.busy = true
		go p.send()
	}
	p.mu.Unlock()
	select {
	case <-c.done:
		return c.cmd
	case <-ctx.Done():
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ctx.Err())
		return cmd
	}
}

// send sends batches until none is queued.
func (p *pipe) send() {
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
		p.run(batch)
	}
}

// run sends one batch as a pipeline; commands refused with NOSCRIPT (a
// Redis restarted or flushed its scripts) did not run and go again once
// the scripts are loaded.
func (p *pipe) run(batch []*pipeCall) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for try := 0; len(batch) > 0; try++ {
		_, _ = p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, c := range batch {
				c.cmd = c.add(ctx, pl)
			}
			return nil
		}) // each command's error goes to its caller
		var again []*pipeCall
		for _, c := range batch {
			if try < 2 && isNoScript(c.cmd.Err()) {
				again = append(again, c)
				continue
			}
			close(c.done)
		}
		if len(again) > 0 {
			for _, s := range p.scripts {
				_ = s.Load(ctx, p.c).Err()
			}
		}
		batch = again
	}
}
