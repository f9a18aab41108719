package smpp

import (
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

func TestTally(t *testing.T) {
	var tl tally
	tl.in(pdu.Header{ID: pdu.SubmitSMRespID, Status: pdu.Status(StatusThrottled)})
	tl.in(pdu.Header{ID: pdu.SubmitSMRespID, Status: pdu.Status(StatusThrottled)})
	tl.in(pdu.Header{ID: pdu.DeliverSMID})
	tl.in(pdu.Header{ID: pdu.ID(0x00000777), Status: 0x12345})          // garbage: bounded labels
	tl.in(pdu.Header{ID: pdu.ID(0x80000777), Status: pdu.Status(0x99)}) // a response to nothing known
	tl.out(encodeFrame(pdu.SubmitSMID, StatusOK, 7, []byte{0}))
	tl.out(encodeFrame(pdu.GenericNACKID, StatusInvCmdID, 8, nil))
	tl.out([]byte{1, 2}) // too short to be a PDU: ignored
	got := tl.snapshot().PDUs
	want := map[PDUKey]int64{
		{"in", "submit_sm_resp", "ESME_RTHROTTLED"}: 2,
		{"in", "deliver_sm", "ESME_ROK"}:            1,
		{"in", "other", "other"}:                    2,
		{"out", "submit_sm", "ESME_ROK"}:            1,
		{"out", "generic_nack", "ESME_RINVCMDID"}:   1,
	}
	if len(got) != len(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%v: %d, want %d", k, got[k], v)
		}
	}
}

func TestTallyReceipts(t *testing.T) {
	var tl tally
	rcpt := func(text string) *Inbound {
		return &Inbound{ESMClass: 0x04, ShortMessage: []byte(text)}
	}
	tl.receipt(rcpt("id:1 sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 text:"), StatusOK)
	tl.receipt(rcpt("id:2 sub:001 dlvrd:000 submit date:2611301200 done date:2611301201 stat:UNDELIV err:001 text:"), StatusXTAppn)
	tl.receipt(rcpt("nonsense"), StatusOK)
	tl.receipt(&Inbound{ShortMessage: []byte("an MO SMS")}, StatusOK) // not a receipt: not counted
	got := tl.snapshot().Receipts
	want := map[ReceiptKey]int64{{"DELIVERED", true}: 1, {"UNDELIVERABLE", false}: 1, {"unparsable", true}: 1}
	if len(got) != len(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%v: %d, want %d", k, got[k], v)
		}
	}
}
