package smpp

import "fmt"

// CommandStatus is the command_status of an SMPP response.
type CommandStatus uint32

// The command statuses this package produces or treats specially.
const (
	StatusOK              CommandStatus = 0x00 // ESME_ROK
	StatusInvMsgLen       CommandStatus = 0x01 // ESME_RINVMSGLEN
	StatusInvCmdLen       CommandStatus = 0x02 // ESME_RINVCMDLEN
	StatusInvCmdID        CommandStatus = 0x03 // ESME_RINVCMDID
	StatusInvBndSts       CommandStatus = 0x04 // ESME_RINVBNDSTS
	StatusAlyBnd          CommandStatus = 0x05 // ESME_RALYBND
	StatusSysErr          CommandStatus = 0x08 // ESME_RSYSERR
	StatusInvSrcAdr       CommandStatus = 0x0A // ESME_RINVSRCADR
	StatusInvDstAdr       CommandStatus = 0x0B // ESME_RINVDSTADR
	StatusBindFail        CommandStatus = 0x0D // ESME_RBINDFAIL
	StatusInvPaswd        CommandStatus = 0x0E // ESME_RINVPASWD
	StatusInvSysID        CommandStatus = 0x0F // ESME_RINVSYSID
	StatusMsgQFul         CommandStatus = 0x14 // ESME_RMSGQFUL
	StatusSubmitFail      CommandStatus = 0x45 // ESME_RSUBMITFAIL
	StatusThrottled       CommandStatus = 0x58 // ESME_RTHROTTLED
	StatusXTAppn          CommandStatus = 0x64 // ESME_RX_T_APPN: temporary, try later
	StatusXPAppn          CommandStatus = 0x65 // ESME_RX_P_APPN: permanent
	StatusXRAppn          CommandStatus = 0x66 // ESME_RX_R_APPN: rejected
	StatusInvTLVStream    CommandStatus = 0xC0 // ESME_RINVOPTPARSTREAM
	StatusInvParLen       CommandStatus = 0xC2 // ESME_RINVPARLEN: a TLV of the wrong length
	StatusMissingOptParam CommandStatus = 0xC3 // ESME_RMISSINGOPTPARAM
	StatusInvOptParamVal  CommandStatus = 0xC4 // ESME_RINVOPTPARAMVAL
	StatusUnknownErr      CommandStatus = 0xFF // ESME_RUNKNOWNERR
)

var statusNames = map[CommandStatus]string{
	0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
	0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x06: "ESME_RINVPRTFLG", 0x07: "ESME_RINVREGDLVFLG",
	0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR", 0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID",
	0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID", 0x11: "ESME_RCANCELFAIL",
	0x13: "ESME_RREPLACEFAIL", 0x14: "ESME_RMSGQFUL", 0x15: "ESME_RINVSERTYP", 0x33: "ESME_RINVNUMDESTS",
	0x34: "ESME_RINVDLNAME", 0x40: "ESME_RINVDESTFLAG", 0x42: "ESME_RINVSUBREP", 0x43: "ESME_RINVESMCLASS",
	0x44: "ESME_RCNTSUBDL", 0x45: "ESME_RSUBMITFAIL", 0x48: "ESME_RINVSRCTON", 0x49: "ESME_RINVSRCNPI",
	0x50: "ESME_RINVDSTTON", 0x51: "ESME_RINVDSTNPI", 0x53: "ESME_RINVSYSTYP", 0x54: "ESME_RINVREPFLAG",
	0x55: "ESME_RINVNUMMSGS", 0x58: "ESME_RTHROTTLED", 0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY",
	0x63: "ESME_RINVDFTMSGID", 0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN", 0x66: "ESME_RX_R_APPN",
	0x67: "ESME_RQUERYFAIL", 0xC0: "ESME_RINVOPTPARSTREAM", 0xC1: "ESME_ROPTPARNOTALLWD",
	0xC2: "ESME_RINVPARLEN", 0xC3: "ESME_RMISSINGOPTPARAM", 0xC4: "ESME_RINVOPTPARAMVAL",
	0xFE: "ESME_RDELIVERYFAILURE", 0xFF: "ESME_RUNKNOWNERR",
}

// String returns the ESME name and the hex value, e.g. "ESME_RTHROTTLED (0x58)".
func (s CommandStatus) String() string {
	if n, ok := statusNames[s]; ok {
		return fmt.Sprintf("%s (0x%02X)", n, uint32(s))
	}
	return fmt.Sprintf("status 0x%02X", uint32(s))
}

// Temporary reports whether a submit that got s may succeed if sent again
// later. The table follows Kannel (smsc_smpp.c) and docs/smpp.md, "SMS":
// throttling, a full queue, a temporary application error, a system error
// and a wrong bind state (rebind first) are temporary; everything else is
// permanent.
func (s CommandStatus) Temporary() bool {
	switch s {
	case StatusThrottled, StatusMsgQFul, StatusXTAppn, StatusSysErr, StatusInvBndSts:
		return true
	}
	return false
}

// slowDown reports whether s asks us to send more slowly.
func (s CommandStatus) slowDown() bool {
	return s == StatusThrottled || s == StatusMsgQFul
}
