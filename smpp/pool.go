package smpp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Pool is a set of Clients that can stand in for each other, such as
// several binds to one operator: a reply may go out on any of them. It is
// safe for concurrent use; it does not start or close the Clients.
type Pool struct {
	clients []*Client
	next    atomic.Uint32
}

// NewPool returns a Pool of clients; their names must differ.
func NewPool(clients ...*Client) (*Pool, error) {
	seen := map[string]bool{}
	for _, c := range clients {
		if seen[c.Name()] {
			return nil, fmt.Errorf("building smpp pool: bind %q twice", c.Name())
		}
		seen[c.Name()] = true
	}
	return &Pool{clients: clients}, nil
}

// Client returns the Client named name, or nil.
func (p *Pool) Client(name string) *Client {
	for _, c := range p.clients {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// Clients returns the Clients in the order given to NewPool.
func (p *Pool) Clients() []*Client { return append([]*Client(nil), p.clients...) }

// Pick returns a Client whose transmitting session is bound, taking turns;
// prefer, if bound, wins (pass the Client a deliver_sm came on to answer on
// the same bind). With none bound it returns prefer or the next in turn,
// whose Submit then waits for its bind.
func (p *Pool) Pick(prefer *Client) (*Client, error) {
	if prefer != nil && prefer.tx.Load().current() != nil {
		return prefer, nil
	}
	if len(p.clients) == 0 {
		return nil, errors.New("smpp pool is empty")
	}
	start := int(p.next.Add(1))
	for i := range p.clients {
		if c := p.clients[(start+i)%len(p.clients)]; c.tx.Load().current() != nil {
			return c, nil
		}
	}
	if prefer != nil {
		return prefer, nil
	}
	return p.clients[start%len(p.clients)], nil
}

// Submit submits sm on the Client Pick chooses.
func (p *Pool) Submit(ctx context.Context, prefer *Client, sm *ShortMessage, opts ...SendOption) (Submitted, error) {
	c, err := p.Pick(prefer)
	if err != nil {
		return Submitted{}, err
	}
	return c.Submit(ctx, sm, opts...)
}

// Send sends m on the Client Pick chooses.
func (p *Pool) Send(ctx context.Context, m Message, opts ...SendOption) (Result, error) {
	c, err := p.Pick(nil)
	if err != nil {
		return Result{}, err
	}
	return c.Send(ctx, m, opts...)
}
