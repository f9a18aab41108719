package smpp

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// tally counts PDUs by direction, command and status, and receipts by
// state, for metrics (Client.Tally). The keys are bounded: a command id
// or status outside the spec's tables counts as "other", so a peer
// sending garbage cannot grow the table. Counting is a lock-free lookup
// and an atomic add once a key exists: it runs for every PDU.
type tally struct {
	pdus     sync.Map // PDUKey -> *atomic.Int64
	receipts sync.Map // ReceiptKey -> *atomic.Int64
}

func add[K comparable](m *sync.Map, k K) {
	if c, ok := m.Load(k); ok {
		c.(*atomic.Int64).Add(1)
		return
	}
	c, _ := m.LoadOrStore(k, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

func snapshotMap[K comparable](m *sync.Map) map[K]int64 {
	out := map[K]int64{}
	m.Range(func(k, v any) bool {
		out[k.(K)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
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
	add(&t.pdus, PDUKey{dir, cmd, st})
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
	add(&t.receipts, k)
}

func (t *tally) snapshot() Tally {
	return Tally{PDUs: snapshotMap[PDUKey](&t.pdus), Receipts: snapshotMap[ReceiptKey](&t.receipts)}
}

// Tally returns the Client's PDU counts by direction, command and status
// and its receipt counts by state, since it was created.
func (c *Client) Tally() Tally { return c.stats.tally.snapshot() }
