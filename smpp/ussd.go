package smpp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/ussdgw/ussdgw/smpp/userdata"
)

// The ussd_service_op values of SMPP 3.4 §5.3.2.44 that the presets use
// (docs/smpp.md, "USSD operations"), and the vendor abort 0x81.
const (
	OpPSSRIndication uint8 = 0x01 // deliver_sm: the subscriber dialled a code
	OpUSSRRequest    uint8 = 0x02 // submit_sm: a screen that expects a reply
	OpPSSRResponse   uint8 = 0x11 // submit_sm: the last screen
	OpUSSRConfirm    uint8 = 0x12 // deliver_sm: the subscriber's reply
	OpUSSNConfirm    uint8 = 0x13 // deliver_sm: the handset acknowledged a notification
	OpRelease        uint8 = 0x81 // deliver_sm (Mica, 6D): the network released the dialogue
)

// SessionKey is what identifies a USSD dialogue on the wire.
type SessionKey string

// The session keys.
const (
	KeySessionInfo SessionKey = "its_session_info"       // its_session_info, masked
	KeyUMR         SessionKey = "user_message_reference" // user_message_reference
	KeyMSISDN      SessionKey = "msisdn"                 // none: one dialogue per subscriber
)

// EndBy is how the last screen of a dialogue says it is the last.
type EndBy string

// The ways to end a dialogue.
const (
	EndByOp   EndBy = "op"   // ussd_service_op EndOp; the its_session_info end bit stays 0
	EndByBit  EndBy = "bit"  // ussd_service_op ContinueOp with the its_session_info end bit set
	EndByBoth EndBy = "both" // EndOp and the end bit
)

// Where the dialled string of the first message is.
const (
	DialledAuto  = "auto"             // short_message when it looks dialled (*…, #…), else destination_addr
	DialledSM    = "short_message"    // short_message (destination_addr if it is empty)
	DialledDest  = "destination_addr" // destination_addr
	maxUSSDInput = 512                // octets of user data read from a USSD message
)

// USSDProfile is how one operator's USSDC speaks USSD over SMPP: which
// ussd_service_op values open, carry a reply to and abort a dialogue, what
// identifies the dialogue, and how our screens say continue or end. It is
// data: build it from a USSDConfig with Resolve (a preset and overrides).
// A USSDProfile is immutable and safe for concurrent use.
type USSDProfile struct {
	Name        string     // the preset it started from
	ServiceType string     // service_type of our screens, usually "USSD"
	SessionKey  SessionKey // what identifies a dialogue
	SessionMask uint16     // the bits of its_session_info that identify it
	OpenOps     []uint8    // deliver_sm ops that open a dialogue
	ReplyOps    []uint8    // deliver_sm ops that carry the user's reply
	AbortOps    []uint8    // deliver_sm ops that mean the network ended it
	AbortBit    bool       // a deliver_sm whose its_session_info end bit is set ends it
	ContinueOp  uint8      // submit_sm op of a screen that expects a reply
	EndOp       uint8      // submit_sm op of the last screen (EndByOp, EndByBoth)
	EndBy       EndBy
	DataCoding  uint8  // dc of screens in GSM 7-bit; UCS-2 screens go as 0x08
	Dialled     string // DialledAuto, DialledSM or DialledDest
	MaxOctets   int    // screen limit in octets (0: 160, the MAP maximum)
}

// USSDPresets are the built-in profiles (docs/smpp.md, "USSD variants"). Copy one and
// change fields, or name it in a USSDConfig and override there.
var USSDPresets = map[string]USSDProfile{
	// SMPP 3.4 §5.3.2.43-44 as NowSMS and the tops SMSCC document it:
	// octet 1 of its_session_info is the session number, octet 2 a
	// sequence number with the end bit.
	"spec": {
		Name: "spec", ServiceType: "USSD", SessionKey: KeySessionInfo, SessionMask: 0xFF00,
		OpenOps: []uint8{OpPSSRIndication}, ReplyOps: []uint8{OpUSSRConfirm},
		ContinueOp: OpUSSRRequest, EndOp: OpPSSRResponse, EndBy: EndByOp,
		DataCoding: 0x0F, Dialled: DialledAuto, MaxOctets: 160,
	},
	// vumi's default processor ("Tata"): every screen is 0x02, the last
	// one has the its_session_info end bit; the network ends a dialogue
	// with 0x11 or the end bit.
	"tata": {
		Name: "tata", ServiceType: "USSD", SessionKey: KeySessionInfo, SessionMask: 0xFFFE,
		OpenOps: []uint8{OpPSSRIndication}, ReplyOps: []uint8{OpUSSRConfirm, OpUSSRRequest},
		AbortOps: []uint8{OpPSSRResponse}, AbortBit: true,
		ContinueOp: OpUSSRRequest, EndOp: OpUSSRRequest, EndBy: EndByBit,
		DataCoding: 0x0F, Dialled: DialledAuto, MaxOctets: 160,
	},
	// vumi's Mica processor: the dialogue is the user_message_reference,
	// 0x81 releases it.
	"mica": {
		Name: "mica", ServiceType: "USSD", SessionKey: KeyUMR,
		OpenOps: []uint8{OpPSSRIndication}, ReplyOps: []uint8{OpUSSRConfirm},
		AbortOps:   []uint8{OpRelease},
		ContinueOp: OpUSSRRequest, EndOp: OpPSSRResponse, EndBy: EndByOp,
		DataCoding: 0x0F, Dialled: DialledAuto, MaxOctets: 160,
	},
	// vumi's 6D processor: its_session_info & 0xFFFE, end by op and bit,
	// abort by 0x81 or the bit. vumi sends the end op as 0x17 (a hex/
	// decimal mix-up, docs/smpp.md, "USSD variants"); the spec value 0x11 is the
	// default here, end_op overrides it.
	"sixdee": {
		Name: "sixdee", ServiceType: "USSD", SessionKey: KeySessionInfo, SessionMask: 0xFFFE,
		OpenOps: []uint8{OpPSSRIndication}, ReplyOps: []uint8{OpUSSRConfirm},
		AbortOps: []uint8{OpRelease}, AbortBit: true,
		ContinueOp: OpUSSRRequest, EndOp: OpPSSRResponse, EndBy: EndByBoth,
		DataCoding: 0x0F, Dialled: DialledAuto, MaxOctets: 160,
	},
}

// Resolve returns the profile u configures: its preset with u's overrides.
// ok is false when u names no profile (no USSD on the bind). Call it on a
// validated Config; an invalid override is reported by Validate.
func (u USSDConfig) Resolve() (p USSDProfile, ok bool) {
	if u.Profile == "" {
		return USSDProfile{}, false
	}
	return u.resolve(func(string, string, ...any) {}), true
}

// resolve applies the overrides to the preset, reporting problems to bad.
func (u USSDConfig) resolve(bad func(field, format string, args ...any)) USSDProfile {
	p, ok := USSDPresets[u.Profile]
	if !ok {
		names := make([]string, 0, len(USSDPresets))
		for n := range USSDPresets {
			names = append(names, n)
		}
		slices.Sort(names)
		bad("ussd.profile", "unknown profile %q (%s)", u.Profile, strings.Join(names, ", "))
		return USSDProfile{}
	}
	p.OpenOps = slices.Clone(p.OpenOps)
	p.ReplyOps = slices.Clone(p.ReplyOps)
	p.AbortOps = slices.Clone(p.AbortOps)
	p.ServiceType = u.ServiceType
	if len(p.ServiceType) > 5 {
		bad("ussd.service_type", "%q is over 5 characters", p.ServiceType)
	}
	switch k := SessionKey(u.SessionKey); k {
	case "":
	case KeySessionInfo, KeyUMR, KeyMSISDN:
		p.SessionKey = k
		if k == KeySessionInfo && p.SessionMask == 0 {
			p.SessionMask = 0xFFFE
		}
	default:
		bad("ussd.session_key", "want its_session_info, user_message_reference or msisdn, have %q", u.SessionKey)
	}
	if u.SessionMask != nil {
		p.SessionMask = *u.SessionMask
		if p.SessionMask == 0 {
			bad("ussd.session_mask", "must keep some bits")
		}
	}
	switch e := EndBy(u.EndBy); e {
	case "":
	case EndByOp, EndByBit, EndByBoth:
		p.EndBy = e
	default:
		bad("ussd.end_by", "want op, bit or both, have %q", u.EndBy)
	}
	if u.OpenOps != nil {
		p.OpenOps = slices.Clone(u.OpenOps)
	}
	if u.ReplyOps != nil {
		p.ReplyOps = slices.Clone(u.ReplyOps)
	}
	if u.AbortOps != nil {
		p.AbortOps = slices.Clone(u.AbortOps)
	}
	if u.AbortBit != nil {
		p.AbortBit = *u.AbortBit
	}
	if u.ContinueOp != nil {
		p.ContinueOp = *u.ContinueOp
	}
	if u.EndOp != nil {
		p.EndOp = *u.EndOp
	}
	if u.DataCoding != nil {
		p.DataCoding = *u.DataCoding
	}
	switch u.Dialled {
	case "":
	case DialledAuto, DialledSM, DialledDest:
		p.Dialled = u.Dialled
	default:
		bad("ussd.dialled", "want auto, short_message or destination_addr, have %q", u.Dialled)
	}
	p.MaxOctets = u.MaxOctets
	if u.MaxOctets < 0 || u.MaxOctets > 160 {
		bad("ussd.max_octets", "must be 0 to 160 (0: the flow's limit)")
	}

	if len(p.OpenOps) == 0 {
		bad("ussd.open_ops", "at least one op must open a dialogue")
	}
	if len(p.ReplyOps) == 0 {
		bad("ussd.reply_ops", "at least one op must carry a reply")
	}
	seen := map[uint8]string{}
	for _, l := range []struct {
		name string
		ops  []uint8
	}{{"open_ops", p.OpenOps}, {"reply_ops", p.ReplyOps}, {"abort_ops", p.AbortOps}} {
		for _, op := range l.ops {
			if other, dup := seen[op]; dup {
				bad("ussd."+l.name, "op 0x%02X is also in %s", op, other)
			}
			seen[op] = l.name
		}
	}
	if p.EndBy == EndByOp && p.EndOp == p.ContinueOp {
		bad("ussd.end_op", "0x%02X is also the continue op: with end_by op the last screen could not be told apart", p.EndOp)
	}
	if p.EndBy == EndByBit && p.SessionKey != KeySessionInfo {
		bad("ussd.end_by", "bit needs session_key its_session_info: the end bit is in that TLV")
	}
	if !(p.DataCoding <= 0x01 || p.DataCoding == 0x0F || (p.DataCoding >= 0xF0 && p.DataCoding <= 0xF3)) {
		bad("ussd.data_coding", "0x%02X is not a GSM 7-bit coding (0x0F, 0x00, 0x01, 0xF0-0xF3)", p.DataCoding)
	}
	return p
}

// USSDKind is what a USSD deliver_sm means for the dialogue.
type USSDKind int

// The kinds of USSD message.
const (
	USSDOpen   USSDKind = iota + 1 // the subscriber dialled a code: a new dialogue
	USSDReply                      // the subscriber answered our last screen
	USSDAbort                      // the network ended the dialogue (release, timeout)
	USSDNotice                     // an acknowledgement that needs nothing (USSN confirm)
)

var ussdKindNames = [...]string{"", "open", "reply", "abort", "notice"}

func (k USSDKind) String() string {
	if k > 0 && int(k) < len(ussdKindNames) {
		return ussdKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// USSDMessage is a USSD deliver_sm as the profile reads it.
type USSDMessage struct {
	Kind   USSDKind
	Op     uint8
	MSISDN string // source_addr
	// Key names the dialogue within the USSDC: "its:1234" (its_session_info
	// masked, hex), "umr:77" (user_message_reference) or "msisdn" when the
	// profile has no session TLV or the message lacks it.
	Key     string
	Dialled string // Kind USSDOpen: the dialled string, e.g. "*384*1*2#"
	Input   string // Kind USSDReply: what the subscriber typed
	EndBit  bool   // its_session_info had its end bit set

	sessionInfo []byte // as received, to echo
	umr         []byte // as received, to echo
}

// SessionID returns the dialogue's id for the session manager: the
// USSDC's name (a bind group) and the Key. The manager keys sessions by
// MSISDN and uses this id to tell dialogues apart.
func (m *USSDMessage) SessionID(ussdc string) string { return ussdc + "/" + m.Key }

// USSDError is a USSD deliver_sm the profile cannot read, with the
// command status to answer it with.
type USSDError struct {
	Status CommandStatus
	Msg    string
}

func (e *USSDError) Error() string { return "reading ussd deliver_sm: " + e.Msg }

// IsUSSD reports whether in is a USSD message for this profile: it has
// ussd_service_op, or its service_type is the profile's (a malformed USSD
// message, which Parse then refuses, rather than an SMS).
func (p *USSDProfile) IsUSSD(in *Inbound) bool {
	if _, ok := in.TLVs[TagUssdServiceOp]; ok {
		return true
	}
	return p.ServiceType != "" && strings.EqualFold(strings.TrimSpace(in.ServiceType), p.ServiceType)
}

// Parse reads a USSD deliver_sm (or data_sm). It never panics; a message
// it cannot read is a *USSDError with the status to answer.
func (p *USSDProfile) Parse(in *Inbound) (USSDMessage, error) {
	var m USSDMessage
	fail := func(status CommandStatus, format string, args ...any) (USSDMessage, error) {
		return USSDMessage{}, &USSDError{Status: status, Msg: fmt.Sprintf(format, args...)}
	}
	raw, present := in.TLVs[TagUssdServiceOp]
	switch {
	case !present:
		return fail(StatusMissingOptParam, "no ussd_service_op")
	case len(raw) != 1:
		return fail(StatusInvParLen, "ussd_service_op of %d octets", len(raw))
	}
	m.Op = raw[0]
	m.MSISDN = strings.TrimSpace(in.Source.Addr)
	if m.MSISDN == "" {
		return fail(StatusInvSrcAdr, "no source_addr")
	}
	if si, ok := in.TLVs[TagItsSessionInfo]; ok {
		if len(si) != 2 {
			return fail(StatusInvParLen, "its_session_info of %d octets", len(si))
		}
		m.sessionInfo = []byte{si[0], si[1]}
		m.EndBit = si[1]&1 == 1
	}
	if umr, ok := in.TLVs[TagUserMessageReference]; ok {
		if len(umr) < 1 || len(umr) > 2 {
			return fail(StatusInvParLen, "user_message_reference of %d octets", len(umr))
		}
		m.umr = slices.Clone(umr)
	}
	switch {
	case slices.Contains(p.AbortOps, m.Op), p.AbortBit && m.EndBit:
		m.Kind = USSDAbort
	case slices.Contains(p.OpenOps, m.Op):
		m.Kind = USSDOpen
	case slices.Contains(p.ReplyOps, m.Op):
		m.Kind = USSDReply
	case m.Op == OpUSSNConfirm:
		m.Kind = USSDNotice
	default:
		return fail(StatusInvOptParamVal, "ussd_service_op 0x%02X is not one profile %s reads", m.Op, p.Name)
	}
	m.Key = "msisdn"
	switch {
	case p.SessionKey == KeySessionInfo && m.sessionInfo != nil:
		m.Key = fmt.Sprintf("its:%04x", binary.BigEndian.Uint16(m.sessionInfo)&p.SessionMask)
	case p.SessionKey == KeyUMR && m.umr != nil:
		v := uint16(m.umr[0])
		if len(m.umr) == 2 {
			v = binary.BigEndian.Uint16(m.umr)
		}
		m.Key = fmt.Sprintf("umr:%x", v)
	}
	text := ussdText(in)
	switch m.Kind {
	case USSDOpen:
		m.Dialled = p.dialled(text, in.Dest.Addr)
	case USSDReply:
		m.Input = strings.TrimSpace(text)
	}
	return m, nil
}

// ussdText decodes the user data of a USSD message, read as text whatever
// its coding claims (a USSDC that marks digits as binary still sent
// digits), bounded to maxUSSDInput octets.
func ussdText(in *Inbound) string {
	_, ud, err := in.UserData()
	if err != nil {
		ud = in.Payload() // a UDHI bit that lies: USSD has no UDH
	}
	if len(ud) > maxUSSDInput {
		ud = ud[:maxUSSDInput]
	}
	text, ok := userdata.DecodeText(in.DataCoding, ud)
	if !ok {
		text, _ = userdata.DecodeText(0x00, ud)
	}
	return strings.ToValidUTF8(text, "\uFFFD")
}

// dialled picks the dialled string from the text and destination_addr and
// gives a bare code its * and #: "384" → "*384#".
func (p *USSDProfile) dialled(text, dest string) string {
	text, dest = strings.TrimSpace(text), strings.TrimSpace(strings.ToValidUTF8(dest, ""))
	looksDialled := strings.HasPrefix(text, "*") || strings.HasPrefix(text, "#")
	var d string
	switch {
	case p.Dialled == DialledDest:
		d = dest
	case p.Dialled == DialledSM && text != "":
		d = text
	case looksDialled:
		d = text
	default:
		d = dest
	}
	if d == "" {
		return ""
	}
	if !strings.HasPrefix(d, "*") && !strings.HasPrefix(d, "#") {
		d = "*" + d
	}
	if !strings.HasSuffix(d, "#") {
		d += "#"
	}
	return d
}

// Answer builds the submit_sm that shows text to the subscriber of m, in
// the dialogue of in (the message it answers): to its sender, from the
// address it was sent to, continuing or ending the dialogue as the profile
// says, with its session TLVs echoed. The text goes as GSM 7-bit when
// every character fits, else UCS-2, cut (between characters) to the
// profile's screen limit if longer.
func (p *USSDProfile) Answer(in *Inbound, m *USSDMessage, text string, end bool) *ShortMessage {
	e := encodeText(text, p.DataCoding)
	octets := p.MaxOctets
	if octets <= 0 {
		octets = 160
	}
	limit := octets * 8 / 7 // unpacked septets
	if e.ucs2 {
		limit = octets &^ 1
	}
	if len(e.data) > limit {
		e.data = split(e.data, e.ucs2, limit)[0]
	}
	op, bit := p.ContinueOp, false
	if end {
		switch p.EndBy {
		case EndByBit:
			bit = true
		case EndByBoth:
			op, bit = p.EndOp, true
		default:
			op = p.EndOp
		}
	}
	sm := &ShortMessage{
		ServiceType: p.ServiceType,
		Source:      in.Dest,
		Dest:        in.Source,
		DataCoding:  e.dc,
		Body:        e.data,
		TLVs:        TLVs{TagUssdServiceOp: {op}},
	}
	if m.sessionInfo != nil {
		si := []byte{m.sessionInfo[0], m.sessionInfo[1] &^ 1}
		if bit {
			si[1] |= 1
		}
		sm.TLVs[TagItsSessionInfo] = si
	}
	if m.umr != nil {
		sm.TLVs[TagUserMessageReference] = slices.Clone(m.umr)
	}
	return sm
}
