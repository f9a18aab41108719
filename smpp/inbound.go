package smpp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/ussdgw/ussdgw/msisdn"
	"github.com/ussdgw/ussdgw/smpp/userdata"
)

// Handler receives the deliver_sm and data_sm PDUs of a Client: MO SMS,
// delivery receipts and USSD. HandleInbound is called from a pool of
// worker goroutines, never from the read loop, so it must be safe for
// concurrent use. Its return value is the command_status of the
// deliver_sm_resp (or data_sm_resp): StatusOK to accept, StatusXTAppn to
// have the SMSC deliver it again later, StatusXPAppn to refuse it for good.
// ctx ends at the configured inbound.handler_timeout or when the Client
// closes; the response is only written once HandleInbound returns, so it
// should return by then, unless it answers earlier with in.Ack (a USSD
// step acknowledges the deliver_sm first, then works). To answer (a USSD
// reply, say), submit on in.Client or on any other Client.
type Handler interface {
	HandleInbound(ctx context.Context, in *Inbound) CommandStatus
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, in *Inbound) CommandStatus

// HandleInbound calls f.
func (f HandlerFunc) HandleInbound(ctx context.Context, in *Inbound) CommandStatus { return f(ctx, in) }

// Addr is an SMPP address with its type of number and numbering plan.
type Addr struct {
	Addr string
	TON  uint8
	NPI  uint8
}

// LogValue masks the address (see MSISDN).
func (a Addr) LogValue() slog.Value { return msisdn.MSISDN(a.Addr).LogValue() }

// Inbound is a deliver_sm or data_sm from the SMSC, decoded. The Handler
// owns it; nothing else refers to it after the call.
type Inbound struct {
	DataSM             bool   // true for data_sm, false for deliver_sm
	Seq                uint32 // sequence number on the connection it came on
	ServiceType        string // e.g. "USSD"
	Source             Addr
	Dest               Addr
	ESMClass           uint8
	ProtocolID         uint8
	PriorityFlag       uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	ShortMessage       []byte // raw, including a UDH when ESMClass has UDHI; empty for data_sm
	TLVs               TLVs   // all optional parameters, unknown ones too
	Client             *Client
	Received           time.Time

	respond  func(CommandStatus) error // writes the response; nil outside a Client
	answered atomic.Bool

	receiptOnce sync.Once // ParseReceipt's answer, parsed once
	receipt     Receipt
	receiptErr  error
}

// errNoConnection is Ack's error for an Inbound that came from no
// connection (built by hand, in tests).
var errNoConnection = errors.New("inbound pdu has no connection to answer on")

// Ack writes the deliver_sm_resp (or data_sm_resp) now, with status,
// instead of when the Handler returns; the status the Handler then returns
// is ignored. Only the first Ack counts. A Handler that still has work to
// do after accepting the PDU (a USSD step, whose answer is a submit_sm of
// its own) acknowledges first, so that the SMSC does not wait on the work.
// It is safe for concurrent use.
func (in *Inbound) Ack(status CommandStatus) error {
	if !in.answered.CompareAndSwap(false, true) {
		return nil
	}
	if in.respond == nil {
		return errNoConnection
	}
	return in.respond(status)
}

// Acked reports whether the PDU has been answered.
func (in *Inbound) Acked() bool { return in.answered.Load() }

// esm_class bits (SMPP 3.4 §5.2.12).
const (
	esmUDHI         = 0x40
	esmTypeMask     = 0x3C
	esmReceipt      = 0x04 // SMSC delivery receipt
	esmIntermediate = 0x20 // intermediate delivery notification
)

// IsReceipt reports whether the PDU is a delivery receipt or an
// intermediate delivery notification (esm_class message type 0x04/0x20).
func (in *Inbound) IsReceipt() bool {
	t := in.ESMClass & esmTypeMask
	return t == esmReceipt || t == esmIntermediate
}

// UDHI reports whether the user data starts with a user data header.
func (in *Inbound) UDHI() bool { return in.ESMClass&esmUDHI != 0 }

// Payload returns the user data: message_payload when present, else
// short_message. It still includes a UDH when UDHI is set.
func (in *Inbound) Payload() []byte {
	if p, ok := in.TLVs[TagMessagePayload]; ok && len(p) > 0 {
		return p
	}
	return in.ShortMessage
}

// UserData splits Payload into its UDH (nil without UDHI) and the text.
func (in *Inbound) UserData() (userdata.UDH, []byte, error) {
	p := in.Payload()
	if !in.UDHI() {
		return nil, p, nil
	}
	return userdata.ParseUDH(p)
}

// Text decodes the user data (without UDH) by DataCoding. ok is false
// when the coding is binary or unknown; see DecodeText.
func (in *Inbound) Text() (text string, ok bool) {
	_, ud, err := in.UserData()
	if err != nil {
		return "", false
	}
	return userdata.DecodeText(in.DataCoding, ud)
}

// The mandatory fields of deliver_sm (the same as submit_sm, §4.6.1). We
// use our own list rather than go-smpp's, which splits the UDH out and
// serialises deliver_sm malformed (docs/smpp.md, "go-smpp's gaps").
var deliverFields = pdufield.List{
	pdufield.ServiceType, pdufield.SourceAddrTON, pdufield.SourceAddrNPI, pdufield.SourceAddr,
	pdufield.DestAddrTON, pdufield.DestAddrNPI, pdufield.DestinationAddr, pdufield.ESMClass,
	pdufield.ProtocolID, pdufield.PriorityFlag, pdufield.ScheduleDeliveryTime, pdufield.ValidityPeriod,
	pdufield.RegisteredDelivery, pdufield.ReplaceIfPresentFlag, pdufield.DataCoding,
	pdufield.SMDefaultMsgID, pdufield.SMLength, pdufield.ShortMessage,
}

// The mandatory fields of data_sm (§4.7.1); go-smpp cannot decode it.
var dataSMFields = pdufield.List{
	pdufield.ServiceType, pdufield.SourceAddrTON, pdufield.SourceAddrNPI, pdufield.SourceAddr,
	pdufield.DestAddrTON, pdufield.DestAddrNPI, pdufield.DestinationAddr, pdufield.ESMClass,
	pdufield.RegisteredDelivery, pdufield.DataCoding,
}

// decodeError is a body we could not decode, with the status to answer.
type decodeError struct {
	Status CommandStatus
	Err    error
}

func (e *decodeError) Error() string { return e.Err.Error() }

// decodeInbound decodes the body of a deliver_sm or data_sm.
func decodeInbound(h pdu.Header, body []byte) (in *Inbound, err error) {
	defer func() {
		// pdufield is not ours; a panic on hostile input must not take
		// the process down.
		if r := recover(); r != nil {
			in, err = nil, &decodeError{StatusInvCmdLen, fmt.Errorf("decoding %s: %v", commandName(h.ID), r)}
		}
	}()
	list := deliverFields
	if h.ID == pdu.DataSMID {
		list = dataSMFields
	}
	buf := bytes.NewBuffer(body)
	f, err := list.Decode(buf)
	if err != nil {
		return nil, &decodeError{StatusInvMsgLen, fmt.Errorf("decoding %s: %w", commandName(h.ID), err)}
	}
	if f[list[len(list)-1]] == nil {
		return nil, &decodeError{StatusInvCmdLen, fmt.Errorf("decoding %s: body ends before the mandatory fields", commandName(h.ID))}
	}
	tm, err := pdutlv.DecodeTLV(buf)
	if err != nil {
		return nil, &decodeError{StatusInvTLVStream, fmt.Errorf("decoding %s: %w", commandName(h.ID), err)}
	}
	in = &Inbound{
		DataSM:             h.ID == pdu.DataSMID,
		Seq:                h.Seq,
		ServiceType:        fieldString(f, pdufield.ServiceType),
		Source:             Addr{fieldString(f, pdufield.SourceAddr), fieldByte(f, pdufield.SourceAddrTON), fieldByte(f, pdufield.SourceAddrNPI)},
		Dest:               Addr{fieldString(f, pdufield.DestinationAddr), fieldByte(f, pdufield.DestAddrTON), fieldByte(f, pdufield.DestAddrNPI)},
		ESMClass:           fieldByte(f, pdufield.ESMClass),
		ProtocolID:         fieldByte(f, pdufield.ProtocolID),
		PriorityFlag:       fieldByte(f, pdufield.PriorityFlag),
		RegisteredDelivery: fieldByte(f, pdufield.RegisteredDelivery),
		DataCoding:         fieldByte(f, pdufield.DataCoding),
		TLVs:               make(TLVs, len(tm)),
	}
	if sm := f[pdufield.ShortMessage]; sm != nil {
		in.ShortMessage = sm.Bytes()
	}
	for tag, v := range tm {
		in.TLVs[Tag(tag)] = v.Bytes()
	}
	return in, nil
}

func fieldString(f pdufield.Map, n pdufield.Name) string {
	if v := f[n]; v != nil {
		return v.String()
	}
	return ""
}

func fieldByte(f pdufield.Map, n pdufield.Name) uint8 {
	if v, ok := f[n].(*pdufield.Fixed); ok {
		return v.Data
	}
	return 0
}
