package smpp

import "sync/atomic"

// counters are a Client's running totals, read by Status.
type counters struct {
	submitSent, submitOK, submitFailed, retries atomic.Int64
	throttled, timeouts, lateResponses          atomic.Int64
	inbound, inboundRejected, handlerPanics     atomic.Int64
	badPDUs, unsupported, unmatched, nacks      atomic.Int64
	waiting                                     atomic.Int64
	tally                                       tally // by command and status, for metrics
}

// Counters is a snapshot of a Client's totals since it was created.
type Counters struct {
	SubmitSent      int64 // submit_sm PDUs written, retries included
	SubmitOK        int64 // submits that ended with ESME_ROK
	SubmitFailed    int64 // submits that ended in an error
	Retries         int64 // submit_sm PDUs written again
	Throttled       int64 // ESME_RTHROTTLED or ESME_RMSGQFUL answers
	Timeouts        int64 // responses that did not come within the response timeout
	LateResponses   int64 // responses caught in the dedupe window after a timeout
	Inbound         int64 // deliver_sm and data_sm received
	InboundRejected int64 // answered ESME_RX_T_APPN because the queue was full
	HandlerPanics   int64 // Handler calls that panicked (answered ESME_RX_T_APPN)
	BadPDUs         int64 // PDUs with a bad length or body
	Unsupported     int64 // PDUs refused as unsupported (generic_nack or error resp)
	Unmatched       int64 // responses that matched no request (late, or unknown)
	Nacks           int64 // generic_nack sent
}

func (c *counters) snapshot() Counters {
	return Counters{
		SubmitSent: c.submitSent.Load(), SubmitOK: c.submitOK.Load(), SubmitFailed: c.submitFailed.Load(),
		Retries: c.retries.Load(), Throttled: c.throttled.Load(), Timeouts: c.timeouts.Load(),
		LateResponses: c.lateResponses.Load(), Inbound: c.inbound.Load(),
		InboundRejected: c.inboundRejected.Load(), HandlerPanics: c.handlerPanics.Load(),
		BadPDUs: c.badPDUs.Load(), Unsupported: c.unsupported.Load(), Unmatched: c.unmatched.Load(),
		Nacks: c.nacks.Load(),
	}
}
