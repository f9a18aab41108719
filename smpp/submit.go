package smpp

import (
	"context"
	"errors"
	"fmt"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

// ShortMessage is one submit_sm, field by field. Submit sends it as is;
// Send builds them from text.
type ShortMessage struct {
	ServiceType        string // e.g. "USSD"; at most 5 characters
	Source             Addr
	Dest               Addr
	ESMClass           uint8
	ProtocolID         uint8
	PriorityFlag       uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	Body               []byte // short_message, at most 254 octets (use TagMessagePayload beyond)
	TLVs               TLVs
	// Segments is what this PDU counts for against the TPS limit: 1 for a
	// plain SMS, the number of SMS parts for a message_payload. 0 counts
	// as 1.
	Segments int
}

// Submitted is the outcome of a successful submit_sm.
type Submitted struct {
	MessageID string // from submit_sm_resp, as the SMSC wrote it
	Attempts  int    // how many times it was written
}

// SendOption changes how one Submit or Send is done.
type SendOption func(*sendOptions)

type sendOptions struct{ noRetry bool }

// NoRetry sends once: no resend after a temporary status, a timeout or a
// lost connection, and no dedupe wait. Use it for USSD, where a late or
// repeated screen is worse than none.
func NoRetry() SendOption { return func(o *sendOptions) { o.noRetry = true } }

// Submit sends sm and returns the SMSC's message id. It waits, with ctx,
// for the TPS limit, for a bind and for a window slot. Temporary failures
// are retried (see Config.Retry) unless NoRetry is given; after
// ESME_RTHROTTLED or ESME_RMSGQFUL the whole bind pauses first. Errors are
// *Error, or ctx's error.
func (c *Client) Submit(ctx context.Context, sm *ShortMessage, opts ...SendOption) (Submitted, error) {
	if err := c.enter("submit_sm"); err != nil {
		return Submitted{}, err
	}
	defer c.leave()
	var o sendOptions
	for _, f := range opts {
		f(&o)
	}
	return c.submit(ctx, sm, o)
}

func (c *Client) submit(ctx context.Context, sm *ShortMessage, o sendOptions) (Submitted, error) {
	p, err := c.buildSubmit(sm)
	if err != nil {
		return Submitted{}, err
	}
	var res Submitted
	for {
		res.Attempts++
		id, err := c.submitOnce(ctx, p, max(sm.Segments, 1), o)
		if err == nil {
			c.stats.submitOK.Add(1)
			c.throttle.ok()
			res.MessageID = id
			return res, nil
		}
		var e *Error
		isErr := errors.As(err, &e)
		slowDown := isErr && e.Kind == KindStatus && e.Status.slowDown()
		if slowDown {
			// The SMSC throttles the bind, not this message: every
			// sender pauses, even when this one will not retry.
			c.stats.throttled.Add(1)
			c.throttle.hit(c.cfg.Retry.Backoff)
		}
		if !isErr || o.noRetry || !e.Retryable() || res.Attempts >= c.cfg.Retry.MaxAttempts ||
			(e.Kind == KindTimeout && c.cfg.Retry.DedupeWindow == 0) {
			c.stats.submitFailed.Add(1)
			return res, err
		}
		c.stats.retries.Add(1)
		wait := c.cfg.Retry.Backoff.delay(res.Attempts)
		switch {
		case slowDown:
			wait = 0 // the bind-wide pause is waited in submitOnce
		case e.Kind == KindDisconnected, e.Kind == KindTimeout, e.Status == StatusInvBndSts:
			wait = 0 // we wait for the rebind, or have waited the dedupe window
		}
		if !sleep(ctx, wait) {
			c.stats.submitFailed.Add(1)
			return res, fmt.Errorf("submitting sm on %s: %w", c.cfg.Name, ctx.Err())
		}
	}
}

// submitOnce writes p once and waits for its response, with the dedupe
// window after a timeout.
func (c *Client) submitOnce(ctx context.Context, p pdu.Body, weight int, o sendOptions) (string, error) {
	fail := func(kind ErrorKind, sent bool, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("submitting sm on %s: %w", c.cfg.Name, ctx.Err())
		}
		if errors.Is(err, errClosed) {
			kind = KindClosed
		}
		return &Error{Op: "submit_sm", Bind: c.cfg.Name, Kind: kind, Sent: sent, Err: err}
	}
	if err := c.throttle.wait(ctx); err != nil {
		return "", fail(KindTimeout, false, err)
	}
	if err := c.waitRate(ctx, weight); err != nil {
		return "", fail(KindTimeout, false, err)
	}
	cn, err := c.tx.Load().waitConn(ctx)
	if err != nil {
		return "", fail(KindDisconnected, false, err)
	}
	cl, err := cn.start(ctx, p, true)
	if err != nil {
		return "", fail(KindDisconnected, false, err)
	}
	c.stats.submitSent.Add(1)
	f, err := cn.wait(ctx, cl, c.cfg.Timeouts.Response)
	if errors.Is(err, errTimeout) {
		c.stats.timeouts.Add(1)
		if !o.noRetry && c.cfg.Retry.DedupeWindow > 0 {
			// The SMSC may have taken it: listen for a late answer
			// before we risk a duplicate.
			if f, err = cn.wait(ctx, cl, c.cfg.Retry.DedupeWindow); err == nil {
				c.stats.lateResponses.Add(1)
			}
		}
	}
	if err != nil {
		cn.abandon(cl)
		if errors.Is(err, errTimeout) {
			return "", fail(KindTimeout, true, err)
		}
		return "", fail(KindDisconnected, true, err)
	}
	status := CommandStatus(f.h.Status)
	if f.h.ID == pdu.GenericNACKID && status == StatusOK {
		status = StatusInvCmdID
	}
	if status != StatusOK {
		if status == StatusInvBndSts {
			// The SMSC no longer sees us bound: rebind before retrying.
			cn.close(fmt.Errorf("smsc answered %s", status))
		}
		return "", &Error{Op: "submit_sm", Bind: c.cfg.Name, Kind: KindStatus, Status: status, Sent: true}
	}
	return cString(f.body), nil
}

// waitRate takes n segments from the TPS limiter.
func (c *Client) waitRate(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, c.limiter.Burst())
		if err := c.limiter.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// buildSubmit encodes sm with go-smpp's submit_sm field list, after
// checking what go-smpp would silently get wrong (sm_length over 255, TLV
// lengths).
func (c *Client) buildSubmit(sm *ShortMessage) (pdu.Body, error) {
	invalid := func(format string, args ...any) error {
		return &Error{Op: "submit_sm", Bind: c.cfg.Name, Kind: KindInvalid, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case len(sm.Body) > maxShortMessage:
		return nil, invalid("short_message of %d octets is over %d; use message_payload", len(sm.Body), maxShortMessage)
	case len(sm.ServiceType) > 5:
		return nil, invalid("service_type %q is over 5 characters", sm.ServiceType)
	case sm.Dest.Addr == "" || len(sm.Dest.Addr) > 20:
		return nil, invalid("destination address must be 1 to 20 characters")
	case len(sm.Source.Addr) > 20:
		return nil, invalid("source address is over 20 characters")
	}
	p := pdu.NewSubmitSM(nil)
	f := p.Fields()
	_ = f.Set(pdufield.ServiceType, sm.ServiceType)
	_ = f.Set(pdufield.SourceAddrTON, sm.Source.TON)
	_ = f.Set(pdufield.SourceAddrNPI, sm.Source.NPI)
	_ = f.Set(pdufield.SourceAddr, sm.Source.Addr)
	_ = f.Set(pdufield.DestAddrTON, sm.Dest.TON)
	_ = f.Set(pdufield.DestAddrNPI, sm.Dest.NPI)
	_ = f.Set(pdufield.DestinationAddr, sm.Dest.Addr)
	_ = f.Set(pdufield.ESMClass, sm.ESMClass)
	_ = f.Set(pdufield.ProtocolID, sm.ProtocolID)
	_ = f.Set(pdufield.PriorityFlag, sm.PriorityFlag)
	_ = f.Set(pdufield.RegisteredDelivery, sm.RegisteredDelivery)
	_ = f.Set(pdufield.DataCoding, sm.DataCoding)
	_ = f.Set(pdufield.ShortMessage, append([]byte(nil), sm.Body...))
	for tag, v := range sm.TLVs {
		if len(v) > 0xFFFF {
			return nil, invalid("tlv 0x%04X of %d octets is over 65535", uint16(tag), len(v))
		}
		_ = p.TLVFields().Set(pdutlv.Tag(tag), append([]byte(nil), v...))
	}
	if n := p.Len(); n > c.cfg.MaxPDUSize {
		return nil, invalid("submit_sm of %d octets is over max_pdu_size %d", n, c.cfg.MaxPDUSize)
	}
	return p, nil
}
