package smpp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ussdgw/ussdgw/gsm"
)

// MessageState is the state of a message in a delivery receipt (SMPP 3.4
// §5.2.28; 0 and 9 are SMPP 5.0).
type MessageState uint8

// The message states.
const (
	MsgScheduled     MessageState = 0
	MsgEnroute       MessageState = 1
	MsgDelivered     MessageState = 2
	MsgExpired       MessageState = 3
	MsgDeleted       MessageState = 4
	MsgUndeliverable MessageState = 5
	MsgAccepted      MessageState = 6
	MsgUnknown       MessageState = 7
	MsgRejected      MessageState = 8
	MsgSkipped       MessageState = 9
)

var stateNames = [...]string{"SCHEDULED", "ENROUTE", "DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE", "ACCEPTED", "UNKNOWN", "REJECTED", "SKIPPED"}

func (s MessageState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Final reports whether no further receipt is expected after s.
func (s MessageState) Final() bool { return s != MsgScheduled && s != MsgEnroute }

// Failed reports whether s means the message did not and will not arrive.
func (s MessageState) Failed() bool {
	switch s {
	case MsgExpired, MsgDeleted, MsgUndeliverable, MsgRejected, MsgSkipped:
		return true
	}
	return false
}

// statStates maps the text receipt's stat: values (SMPP 3.4 Appendix B,
// plus what SMSCs send in the field) to states.
var statStates = map[string]MessageState{
	"DELIVRD": MsgDelivered, "DELIVERED": MsgDelivered,
	"EXPIRED": MsgExpired,
	"DELETED": MsgDeleted,
	"UNDELIV": MsgUndeliverable, "UNDELIVERABLE": MsgUndeliverable, "FAILED": MsgUndeliverable,
	"ACCEPTD": MsgAccepted, "ACCEPTED": MsgAccepted,
	"UNKNOWN": MsgUnknown,
	"REJECTD": MsgRejected, "REJECTED": MsgRejected,
	"ENROUTE": MsgEnroute, "BUFFRED": MsgEnroute, "BUFFERED": MsgEnroute, "ACKED": MsgEnroute,
	"SCHEDULED": MsgScheduled, "SKIPPED": MsgSkipped,
}

// Receipt is a parsed delivery receipt.
type Receipt struct {
	ID           string       // receipted message id, as the SMSC wrote it
	State        MessageState // from message_state, else from stat
	Stat         string       // the text's stat: value, e.g. "DELIVRD"
	Err          string       // the text's err: value, e.g. "000"
	NetworkError []byte       // network_error_code TLV: network type, then a 2-octet code
	Sub, Dlvrd   int          // the text's sub: and dlvrd: counts
	Submitted    time.Time    // submit date (UTC; the SMSC's zone is not on the wire)
	Done         time.Time    // done date
	Intermediate bool         // an intermediate notification (esm_class 0x20), not a final receipt
	Source, Dest Addr         // of the receipt: Source is the handset the message went to
	// Match is how ID names the message: the receipt_ids of the bind the
	// receipt came on (ParseReceipt sets it from in.Client). Empty means
	// ReceiptIDsSame.
	Match ReceiptIDs
}

// ErrNotReceipt is returned by ParseReceipt for a PDU that is no receipt.
var ErrNotReceipt = errors.New("not a delivery receipt")

// ParseReceipt reads a receipt from a deliver_sm or data_sm whose
// esm_class says it is one. The TLVs (receipted_message_id, message_state,
// network_error_code) win; the id:/stat:/err: text fills in what they do
// not carry.
func ParseReceipt(in *Inbound) (Receipt, error) {
	// Parsed once: the Handler and the Client's tally both read it.
	in.receiptOnce.Do(func() { in.receipt, in.receiptErr = parseReceipt(in) })
	return in.receipt, in.receiptErr
}

func parseReceipt(in *Inbound) (Receipt, error) {
	if !in.IsReceipt() {
		return Receipt{}, ErrNotReceipt
	}
	var r Receipt
	var text string
	if _, ud, err := in.UserData(); err == nil {
		if in.DataCoding == dcUCS2 {
			text = gsm.DecodeUCS2(ud)
		} else {
			text = string(ud) // receipts are ASCII; no GSM mapping of '_' and '@'
		}
	}
	var textErr error
	if text != "" {
		r, textErr = ParseReceiptText(text)
	}
	stateSet := textErr == nil && text != ""
	if id, ok := in.TLVs.CString(TagReceiptedMessageID); ok && id != "" {
		r.ID = id
	}
	if st, ok := in.TLVs.Uint8(TagMessageState); ok {
		r.State, stateSet = MessageState(st), true
	}
	if ne, ok := in.TLVs.Get(TagNetworkErrorCode); ok {
		r.NetworkError = ne
	}
	if r.ID == "" || !stateSet {
		if textErr == nil {
			textErr = errors.New("no receipted_message_id or message_state")
		}
		return Receipt{}, fmt.Errorf("parsing receipt: %w", textErr)
	}
	r.Intermediate = in.ESMClass&esmTypeMask == esmIntermediate
	r.Source, r.Dest = in.Source, in.Dest
	if in.Client != nil {
		r.Match = in.Client.cfg.ReceiptIDs
	}
	return r, nil
}

// receiptKeys are the text receipt's keys and their spellings, lower case.
var receiptKeys = map[string][]string{
	"id":     {"id"},
	"sub":    {"sub"},
	"dlvrd":  {"dlvrd"},
	"submit": {"submit date", "submit_date", "submitdate"},
	"done":   {"done date", "done_date", "donedate"},
	"stat":   {"stat"},
	"err":    {"err"},
}

// ParseReceiptText parses the text form of a receipt (SMPP 3.4 Appendix
// B): "id:X sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
// stat:DELIVRD err:000 text:...". Like Kannel and vumi it is tolerant: keys
// in any case and order, every field but id optional, dates of 10 or 12
// digits, unknown stat values kept in Stat with State MsgUnknown. It needs
// an id.
func ParseReceiptText(s string) (Receipt, error) {
	lower := asciiLower(s) // same length as s, so indexes carry over
	if i := keyIndex(lower, "text"); i >= 0 {
		lower, s = lower[:i], s[:i]
	}
	get := func(key string) (string, bool) {
		for _, k := range receiptKeys[key] {
			if i := keyIndex(lower, k); i >= 0 {
				v := strings.TrimLeft(s[i+len(k)+1:], " ")
				if j := strings.IndexAny(v, " \t\r\n"); j >= 0 {
					v = v[:j]
				}
				return v, true
			}
		}
		return "", false
	}
	var r Receipt
	id, ok := get("id")
	if !ok || id == "" {
		return Receipt{}, errors.New("receipt text has no id")
	}
	r.ID = id
	if v, ok := get("sub"); ok {
		r.Sub, _ = strconv.Atoi(v)
	}
	if v, ok := get("dlvrd"); ok {
		r.Dlvrd, _ = strconv.Atoi(v)
	}
	if v, ok := get("submit"); ok {
		r.Submitted = receiptDate(v)
	}
	if v, ok := get("done"); ok {
		r.Done = receiptDate(v)
	}
	r.State = MsgUnknown
	if v, ok := get("stat"); ok {
		r.Stat = strings.ToUpper(v)
		if st, ok := statStates[r.Stat]; ok {
			r.State = st
		}
	}
	if v, ok := get("err"); ok {
		r.Err = v
	}
	return r, nil
}

// asciiLower lower-cases A-Z only; unlike strings.ToLower it never
// changes the length (invalid UTF-8 stays as it is).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// keyIndex finds "key:" at the start of s or after a space, tab or
// newline.
func keyIndex(s, key string) int {
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		if (i == 0 || strings.IndexByte(" \t\r\n", s[i-1]) >= 0) && i+len(key) < len(s) && s[i+len(key)] == ':' {
			return i
		}
		from = i + 1
	}
	return -1
}

// receiptDate reads YYMMDDhhmm or YYMMDDhhmmss; anything else is zero.
func receiptDate(v string) time.Time {
	var layout string
	switch len(v) {
	case 10:
		layout = "0601021504"
	case 12:
		layout = "060102150405"
	default:
		return time.Time{}
	}
	t, err := time.ParseInLocation(layout, v, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}
