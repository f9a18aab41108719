package smpp

import (
	"context"
	"fmt"
)

// Message is an SMS to send.
type Message struct {
	Src  string // one of the configured sources; "" means the first
	Dst  string // the destination address (MSISDN)
	Text string // must not be empty
	Ref  string // the caller's id, for delivery status (see WithStatusStore)
}

// Result says how a Message went out.
type Result struct {
	IDs        []string // SMSC message ids, one per submit_sm, in part order
	Segments   int      // SMS parts the text takes
	DataCoding uint8    // the dc used: the configured GSM dc, or 0x08
	Attempts   int      // submit_sm PDUs written, retries included
}

// Send sends a text as SMS: GSM 03.38 when every character fits, else
// UCS-2; one SMS when it fits (160 septets / 70 UCS-2 units), else split by
// the configured concatenation method without splitting an escape or
// surrogate pair. Delivery receipts are requested as configured. Parts go
// in order, each retried as Submit does; on a part's failure Send returns
// what was sent so far and the error. When m.Ref is set and the Client has
// a StatusStore, the ids are recorded under m.Ref.
func (c *Client) Send(ctx context.Context, m Message, opts ...SendOption) (Result, error) {
	if err := c.enter("submit_sm"); err != nil {
		return Result{}, err
	}
	defer c.leave()
	var o sendOptions
	for _, f := range opts {
		f(&o)
	}
	invalid := func(err error) error {
		return &Error{Op: "submit_sm", Bind: c.cfg.Name, Kind: KindInvalid, Err: err}
	}
	if m.Text == "" {
		return Result{}, invalid(fmt.Errorf("empty text"))
	}
	src, err := c.source(m.Src)
	if err != nil {
		return Result{}, invalid(err)
	}
	base := ShortMessage{
		Source:             Addr(src),
		Dest:               Addr{m.Dst, c.cfg.DestTON, c.cfg.DestNPI},
		RegisteredDelivery: c.cfg.RegisteredDelivery,
	}
	pdus, segs, err := c.plan(m.Text, base)
	if err != nil {
		return Result{}, invalid(err)
	}
	res := Result{Segments: segs, DataCoding: pdus[0].DataCoding}
	for i, sm := range pdus {
		s, err := c.submit(ctx, sm, o)
		res.Attempts += s.Attempts
		if err != nil {
			return res, fmt.Errorf("sending part %d of %d: %w", i+1, len(pdus), err)
		}
		res.IDs = append(res.IDs, s.MessageID)
	}
	if m.Ref != "" && c.store != nil {
		if err := c.store.Sent(ctx, m.Ref, res.IDs); err != nil {
			return res, fmt.Errorf("recording message ids: %w", err)
		}
	}
	return res, nil
}

// source returns the configured source for addr ("" = the first).
func (c *Client) source(addr string) (Source, error) {
	if len(c.cfg.Sources) == 0 {
		return Source{}, fmt.Errorf("no sources configured")
	}
	if addr == "" {
		return c.cfg.Sources[0], nil
	}
	for _, s := range c.cfg.Sources {
		if s.Addr == addr {
			return s, nil
		}
	}
	return Source{}, fmt.Errorf("source %q is not configured", addr)
}
