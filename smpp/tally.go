package smpp

import (
	"encoding/binary"
	"sync"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// tally counts PDUs by direction, command and status, and receipts by
// state, for metrics (Client.Tally). The labels are bounded: a command id
// or status outside the spec's tables counts as "other", so a peer
// sending garbage cannot grow the table.
type tally struct {
	mu       sync.Mutex
	pdus     map[PDUKey]int64
	receipts map[ReceiptKey]int64
}

// PDUKey names a PDU count: Dir is "in" or "out", Command the SMPP name
// (submit_sm, deliver_sm_resp...), Status the ESME name of the
// command_status (ESME_ROK for every request).
type PDUKey struct{ Dir, Command, Status string }

// ReceiptKey names a receipt count: State is the receipt's final state
// (DELIVERED, UNDELIVERABLE...; "unparsable" when it could not be read),
// Accepted whether the gateway took it (answered ESME_ROK).
type ReceiptKey struct {
	State    string
	Accepted bool
}

// Tally is a snapshot of the PDU and receipt counts of a Client.
type Tally struct {
	PDUs     map[PDUKey]int64
	Receipts map[ReceiptKey]int64
}

// commandNames are SMPP 3.4's command names; a response is the
// request's name with "_resp".
var commandNames = map[uint32]string{
	0x00000001: "bind_receiver", 0x00000002: "bind_transmitter", 0x00000003: "query_sm",
	0x00000004: "submit_sm", 0x00000005: "deliver_sm", 0x00000006: "unbind", 0x00000007: "replace_sm",
	0x00000008: "cancel_sm", 0x00000009: "bind_transceiver", 0x0000000B: "outbind",
	0x00000015: "enquire_link", 0x00000021: "submit_multi", 0x00000102: "alert_notification",
	0x00000103: "data_sm",
}

// pduName is the label of a command id: its SMPP name, "generic_nack",
// or "other".
func pduName(id pdu.ID) string {
	v := uint32(id)
	if v == 0x80000000 {
		return "generic_nack"
	}
	if n, ok := commandNames[v&^0x80000000]; ok {
		if v&0x80000000 != 0 {
			return n + "_resp"
		}
		return n
	}
	return "other"
}

func (t *tally) pdu(dir string, id pdu.ID, status uint32) {
	cmd := pduName(id)
	st, ok := statusNames[CommandStatus(status)]
	if !ok {
		st = "other"
	}
	t.mu.Lock()
	if t.pdus == nil {
		t.pdus = map[PDUKey]int64{}
	}
	t.pdus[PDUKey{dir, cmd, st}]++
	t.mu.Unlock()
}

// in counts a PDU read.
func (t *tally) in(h pdu.Header) { t.pdu("in", h.ID, uint32(h.Status)) }

// out counts a PDU written (b is the whole encoded PDU).
func (t *tally) out(b []byte) {
	if len(b) < 16 {
		return
	}
	t.pdu("out", pdu.ID(binary.BigEndian.Uint32(b[4:8])), binary.BigEndian.Uint32(b[8:12]))
}

// receipt counts a delivery receipt once the handler answered it.
func (t *tally) receipt(in *Inbound, status CommandStatus) {
	if !in.IsReceipt() {
		return
	}
	k := ReceiptKey{State: "unparsable", Accepted: status == StatusOK}
	if r, err := ParseReceipt(in); err == nil {
		if r.Intermediate {
			k.State = "intermediate"
		} else {
			k.State = r.State.String()
		}
	}
	t.mu.Lock()
	if t.receipts == nil {
		t.receipts = map[ReceiptKey]int64{}
	}
	t.receipts[k]++
	t.mu.Unlock()
}

func (t *tally) snapshot() Tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Tally{PDUs: make(map[PDUKey]int64, len(t.pdus)), Receipts: make(map[ReceiptKey]int64, len(t.receipts))}
	for k, v := range t.pdus {
		s.PDUs[k] = v
	}
	for k, v := range t.receipts {
		s.Receipts[k] = v
	}
	return s
}

// Tally returns the Client's PDU counts by direction, command and status
// and its receipt counts by state, since it was created.
func (c *Client) Tally() Tally { return c.stats.tally.snapshot() }
