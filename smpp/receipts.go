package smpp

import (
	"context"
	"log/slog"
)

// Receipts returns a Handler that applies delivery receipts to store and
// passes every other PDU to next. A receipt is matched by the receipt_ids
// of the bind it came on (Receipt.Match). A receipt it cannot parse is accepted
// (it will not parse better the next time) and logged; a store error is
// answered ESME_RX_T_APPN so the SMSC delivers the receipt again. A
// receipt that matches no message yet is kept by the store and accepted.
// onReceipt, if not nil, is called after a receipt matched a message
// already recorded; a receipt that came first is applied by the store's
// Sent and shows in Lookup without a call.
func Receipts(store StatusStore, onReceipt func(context.Context, Receipt, MessageStatus), next Handler) Handler {
	return HandlerFunc(func(ctx context.Context, in *Inbound) CommandStatus {
		if !in.IsReceipt() {
			if next == nil {
				return StatusXTAppn
			}
			return next.HandleInbound(ctx, in)
		}
		log := slog.Default()
		if in.Client != nil {
			log = in.Client.log
		}
		r, err := ParseReceipt(in)
		if err != nil {
			log.Warn("unparsable receipt", "from", in.Source, "err", err)
			return StatusOK
		}
		st, ok, err := store.Apply(ctx, r)
		switch {
		case err != nil:
			log.Warn("receipt not stored", "id", r.ID, "err", err)
			return StatusXTAppn
		case ok && onReceipt != nil:
			onReceipt(ctx, r, st)
		}
		return StatusOK
	})
}
